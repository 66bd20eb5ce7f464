"""The JSON API under ``/api/v1/``.

``routes.py`` holds the public endpoints (subscribe, bounce webhook) with their own
answers; the other modules are the token-authenticated API, documented by flask-smorest.
"""

from flask import Flask

from .errors import answer_unrouted_api_requests
from .openapi import init_openapi


def init_api(app: Flask) -> None:
    """Register the public endpoints, the token API and its OpenAPI document."""
    from . import attachments, events, issues, layouts, lists, media, subscribers, translations
    from .routes import bp as public_api_bp

    app.register_blueprint(public_api_bp)
    api = init_openapi(app)
    for module in (subscribers, lists, issues, attachments, translations, layouts, media, events):
        api.register_blueprint(module.bp)
    answer_unrouted_api_requests(app)
