"""Hostile bytes are refused at the edge, before any view, form or database sees them.

Two refusals, both a 400 in the caller's language (an error page, or the API's JSON):
- control characters (NUL and the other C0 controls) in the URL path, the query string,
  form fields and JSON strings; text fields may hold tab, newline and carriage return.
  Uploaded files are bytes and are left to their own validators.
- JSON nested deeper than ``MAX_JSON_DEPTH``, which Python's parser would recurse into.

The path and query string are checked before every request. A body is checked when it is
parsed (``CheckedRequest``), under whatever size limit the view has set, and before the
request's other hooks when it already fits the site's limit; every later read of a refused
body refuses again, so a caller that swallows the error (a rate-limit key) can't let it in.
"""

import re

from flask import Flask, Request, current_app, request
from flask import json as flask_json
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

MAX_JSON_DEPTH = 32
# C0 controls; text may hold tab, newline and carriage return, a path or query none of them.
CONTROLS = re.compile(r"[\x00-\x1f]")
TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
JSON_BRACKET = re.compile(rb"[\[\]{}]")


class HostileInput(BadRequest):
    """A request refused for its bytes; ``message`` is shown, ``api_code`` is for the API."""

    def __init__(self, api_code: str, message) -> None:
        super().__init__()
        self.api_code = api_code
        self.message = message  # lazy: the error handler picks the language first


def control_characters() -> HostileInput:
    return HostileInput(
        "control_characters", _l("The request contains control characters, such as NUL.")
    )


def nested_too_deeply() -> HostileInput:
    return HostileInput(
        "nested_too_deeply",
        _l("The JSON is nested too deeply (at most %(max)d levels).", max=MAX_JSON_DEPTH),
    )


def json_depth(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``raw`` nests arrays and objects, counted up to ``limit + 1`` without parsing."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = deepest = 0
    for bracket in JSON_BRACKET.finditer(JSON_STRING.sub(b"", data)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _refuse_controls_in_json(value: object) -> None:
    if isinstance(value, str):
        if TEXT_CONTROLS.search(value):
            raise control_characters()
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_controls_in_json(key)
            _refuse_controls_in_json(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_controls_in_json(item)


class CheckedJSON:
    """The app's JSON provider, refusing deep nesting before parsing and controls after."""

    def __init__(self, provider) -> None:
        self.provider = provider

    def loads(self, data, **kwargs):
        if json_depth(data) > MAX_JSON_DEPTH:
            raise nested_too_deeply()
        value = self.provider.loads(data, **kwargs)
        _refuse_controls_in_json(value)
        return value

    def dumps(self, value, **kwargs):
        return self.provider.dumps(value, **kwargs)


class CheckedRequest(Request):
    """A request whose form and JSON are checked when they are parsed (see the module)."""

    _hostile_form = False
    _json_provider = flask_json

    # Flask sets the app's provider on each request; reads get it wrapped in the checks.
    json_module = property(
        lambda self: CheckedJSON(self._json_provider),
        lambda self, provider: setattr(self, "_json_provider", provider),
    )

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        super()._load_form_data()
        form = self.__dict__["form"]
        self._hostile_form = any(
            CONTROLS.search(key) or TEXT_CONTROLS.search(value)
            for key, value in form.items(multi=True)
        ) or any(CONTROLS.search(key) for key in self.__dict__["files"])

    def _checked(self, name: str):
        self._load_form_data()
        if self._hostile_form:
            raise control_characters()
        return self.__dict__[name]

    form = property(lambda self: self._checked("form"))
    files = property(lambda self: self._checked("files"))


def escaped(text: str) -> str:
    """``text`` for a log line: control characters as ``\\xNN``, so a line stays one line."""
    return CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def refuse_hostile_body() -> None:
    """Parse and check the form or JSON body now; views that raise the size limit call this
    once they have (the check before the request skips bodies over the site's limit)."""
    if request.is_json:
        request.get_json(silent=True)
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        request.form  # noqa: B018  (parsing checks it)


def refuse_hostile_request() -> None:
    """Before every request: the path and query string, and a body within the site's limit."""
    try:
        if CONTROLS.search(request.path) or any(
            CONTROLS.search(key) or CONTROLS.search(value)
            for key, value in request.args.items(multi=True)
        ):
            raise control_characters()
        length, limit = request.content_length, request.max_content_length
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "takes_raw_body", False):
            return
        if length and (limit is None or length <= limit):
            refuse_hostile_body()
    except HostileInput as error:
        current_app.logger.info(
            "Refused %s %s: %s", request.method, escaped(request.path), error.api_code
        )
        raise


def raw_body(view):
    """Mark a view that reads its body as bytes (a returned mail may hold any byte): its
    body is not parsed as a form here. The path and query string are still checked."""
    view.takes_raw_body = True
    return view


def init_app(app: Flask) -> None:
    """Install the checked request and the check; call before other extensions' hooks."""
    app.request_class = CheckedRequest
    app.before_request(refuse_hostile_request)
