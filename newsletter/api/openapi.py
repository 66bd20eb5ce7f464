"""The API's OpenAPI 3.1 document (flask-smorest) and its Swagger UI, served offline.

flask-smorest's ``Api`` would install an app-wide ``HTTPException`` handler answering JSON
for every page of the site; ``NewsletterApi`` installs none: the API's blueprints carry
their own handlers (``errors.register_json_errors``).
"""

import copy

from flask import Blueprint, Flask, jsonify, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from .schemas import ErrorSchema

DOCS_ASSETS = "/api/v1/docs/assets/"

SETTINGS = {
    "API_TITLE": "Newsletter API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS,
    "OPENAPI_SWAGGER_UI_CONFIG": {
        # The bundled Swagger UI (4.x) reads OpenAPI 3.0; it gets a 3.0 rendition.
        "url": "/api/v1/docs/openapi-3.0.json",
        "validatorUrl": None,  # the default asks an online validator
        "persistAuthorization": False,
    },
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Subscribers, lists, issues and their deliveries. Authenticate with "
                "`Authorization: Bearer <token>` (tokens are made at /admin/tokens or with "
                "`flask tokens create`). Read tokens may only GET. Errors answer "
                '`{"code", "message", "fields"}`, the message in the language of '
                "`?lang=` or `Accept-Language`."
            )
        },
        "security": [{"bearerAuth": []}],
    },
}


class NewsletterApi(Api):
    """flask-smorest's Api without its app-wide JSON error handler."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def openapi_30(document: dict) -> dict:
    """The document as OpenAPI 3.0 for the bundled Swagger UI, which predates 3.1.

    Only what differs in what we emit: ``type: [X, "null"]`` becomes ``nullable``.
    """
    result = copy.deepcopy(document)
    result["openapi"] = "3.0.3"

    def walk(node):
        if isinstance(node, dict):
            kinds = node.get("type")
            if isinstance(kinds, list) and "null" in kinds:
                others = [kind for kind in kinds if kind != "null"]
                node["type"] = others[0] if len(others) == 1 else others
                node["nullable"] = True
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


def docs_assets_blueprint(api: NewsletterApi) -> Blueprint:
    """Swagger UI's files from the installed ``swagger_ui_bundle``: no CDN."""
    bp = Blueprint("api_docs_assets", __name__, url_prefix="/api/v1/docs")

    @bp.get("/assets/<path:filename>")
    def asset(filename: str):
        return send_from_directory(swagger_ui_path, filename, max_age=3600)

    @bp.get("/openapi-3.0.json")
    def openapi_for_swagger_ui():
        return jsonify(openapi_30(api.spec.to_dict()))

    return bp


def init_openapi(app: Flask) -> NewsletterApi:
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    api = NewsletterApi(app)
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "An API token (nlt_…)"},
    )
    app.register_blueprint(docs_assets_blueprint(api))
    return api
