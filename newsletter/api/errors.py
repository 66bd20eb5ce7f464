"""JSON errors of the token API: ``{"code", "message", "fields"}`` in the caller's language.

Handlers are registered on the API's blueprints only, so the site's HTML error pages (and
the legacy ``/api/v1/subscribe`` answers) keep working as before.
"""

from collections.abc import Mapping

from flask import Blueprint, Flask, Response, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, default_exceptions

from ..extensions import db
from ..hygiene import HostileInput

PREFIX = "/api/v1/"
# The public endpoints keep the answers of the subscribe form (see routes.py).
LEGACY_PATHS = ("/api/v1/subscribe", "/api/v1/bounces")


class ApiError(Exception):
    """A refusal with a stable code; the view raises it, the handler answers it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def invalid(fields: Mapping[str, list[str]]) -> ApiError:
    return ApiError(422, "validation_failed", _("Some fields are not valid."), fields)


# Werkzeug's statuses, as stable codes and messages a client can show.
HTTP_ERRORS = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("token_required", _l("A valid API token is required.")),
    403: ("forbidden", _l("This token may not do that.")),
    404: ("not_found", _l("There is nothing at this address.")),
    405: ("method_not_allowed", _l("This address does not accept that kind of request.")),
    406: ("not_acceptable", _l("This address answers in JSON only.")),
    409: ("conflict", _l("The request conflicts with the current state.")),
    413: ("payload_too_large", _l("What you sent is too large.")),
    415: ("unsupported_media_type", _l("Please send JSON.")),
    422: ("validation_failed", _l("Some fields are not valid.")),
    429: ("rate_limited", _l("Too many requests. Please wait a while and try again.")),
    500: ("server_error", _l("Something went wrong on our side. Please try again later.")),
}

# marshmallow's and webargs's own messages are English: these are the ones callers meet.
FIELD_MESSAGES = {
    "Missing data for required field.": _l("This field is required."),
    "Unknown field.": _l("This field is not known."),
    "Field may not be null.": _l("This field may not be null."),
    "Not a valid string.": _l("Please send a string."),
    "Not a valid integer.": _l("Please send a whole number."),
    "Not a valid boolean.": _l("Please send true or false."),
    "Not a valid list.": _l("Please send a list."),
    "Not a valid mapping type.": _l("Please send an object."),
    "Not a valid datetime.": _l("Please send a date and time (ISO 8601)."),
    "Invalid input type.": _l("Please send a JSON object."),
    "Invalid JSON body.": _l("Please send a valid JSON object."),
}


def _translated(message: object) -> str:
    text = str(message)
    return str(FIELD_MESSAGES.get(text, text))


def flatten_messages(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """webargs's nested ``{"json": {"lists": {0: [...]}}}`` as ``{"lists.0": [...]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in (
                "json",
                "query",
                "querystring",
                "form",
                "files",
                "view_args",
                "path",
            ):
                name = ""
            flat.update(flatten_messages(value, f"{prefix}.{name}".strip(".")))
        return flat
    items = messages if isinstance(messages, list) else [messages]
    texts = [_translated(m) for m in items if not isinstance(m, Mapping | list)]
    nested = [m for m in items if isinstance(m, Mapping | list)]
    flat = {prefix or "_body": texts} if texts else {}
    for item in nested:
        flat.update(flatten_messages(item, prefix))
    return flat


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[Response, int]:
    response = jsonify(code=code, message=message, fields=dict(fields or {}))
    response.headers.update(headers or {})
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response, status


def handle_api_error(error: ApiError) -> tuple[Response, int]:
    db.session.rollback()
    return error_response(error.status, error.code, error.message, error.fields, error.headers)


def handle_http_exception(error: HTTPException) -> tuple[Response, int]:
    """Werkzeug's, webargs's and Flask-Limiter's errors, in our shape."""
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    code, message = HTTP_ERRORS.get(status, (_snake(error.name), error.name))
    if isinstance(error, HostileInput):
        code, message = error.api_code, error.message
    data = getattr(error, "data", None) or {}
    fields = flatten_messages(data.get("messages", {}))
    if status == 400 and fields:
        code = "invalid_json"
    headers = dict(data.get("headers") or {})
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    return error_response(status, code, str(message), fields, headers)


def _snake(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").split())


def register_json_errors(bp: Blueprint) -> None:
    """Every error raised while a request of ``bp`` runs answers as JSON."""
    bp.register_error_handler(ApiError, handle_api_error)
    for status in default_exceptions:
        bp.register_error_handler(status, handle_http_exception)
    bp.register_error_handler(HTTPException, handle_http_exception)


def answer_unrouted_api_requests(app: Flask) -> None:
    """Unknown paths and methods under ``/api/v1/`` get the API's JSON errors too.

    No blueprint handles a request that matched no route, so this looks at it before the
    routing error is raised (Flask raises it after the ``before_request`` functions).
    """

    @app.before_request
    def unrouted_api_request():
        error = request.routing_exception
        if error is None or not request.path.startswith(PREFIX):
            return None
        if not isinstance(error, HTTPException) or (error.code or 0) < 400:
            return None  # a redirect (a missing trailing slash) stays a redirect
        if request.path.rstrip("/") in LEGACY_PATHS:
            return None
        return handle_http_exception(error)
