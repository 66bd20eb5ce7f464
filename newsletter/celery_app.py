"""Celery bound to the Flask app (the Flask documentation's pattern)."""

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    # JSON logs keep the app's handler (logs.py); otherwise Celery sets up its own.
    celery_app.conf.worker_hijack_root_logger = app.config["LOG_FORMAT"] != "json"
    # Threads that did not build the app (a threaded server's) find tasks through the default.
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
