"""Celery entry point: ``celery -A worker worker -n name@%h``."""

from newsletter import create_app

app = create_app()
celery = app.extensions["celery"]
