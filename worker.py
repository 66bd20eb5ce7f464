"""Celery entry point in a checkout: ``celery -A worker worker -n name@%h``."""

from newsletter.worker import celery, flask_app  # noqa: F401
