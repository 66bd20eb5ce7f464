"""Celery entry point: ``celery -A newsletter.worker worker -n name@%h`` (also installed)."""

from . import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
