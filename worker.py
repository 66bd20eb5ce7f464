"""Celery entry point: ``celery -A worker worker -n name@%h``."""

from newsletter import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
