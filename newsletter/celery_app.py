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
    # Threads that did not build the app (a threaded server's) find tasks through the default.
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
