"""JSON API: the public subscribe endpoint other websites post to, and the bounce webhook."""

import hmac

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..bounces import UNATTRIBUTED, process_message
from ..extensions import csrf, db
from ..hygiene import raw_body
from ..public.forms import SubscribeForm, list_label
from ..request_limits import per_address, per_ip
from ..subscriptions import RequestInfo

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.after_request
def allow_configured_origins(response):
    origin = request.headers.get("Origin")
    allowed = current_app.config["CORS_ORIGINS"]
    if origin and (origin in allowed or "*" in allowed):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept-Language"
        response.headers["Access-Control-Max-Age"] = "3600"
    response.headers.add("Vary", "Origin")
    return response


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def _formdata() -> MultiDict | None:
    """The submission as form data, whether it came as a form post or as a JSON object."""
    if not request.is_json:
        return request.form
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return None
    data = MultiDict()
    for key, value in payload.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(str(key), "" if item is None else str(item))
    return data


@bp.route("/subscribe", methods=["POST", "OPTIONS"])
@csrf.exempt
@per_ip
@per_address
def subscribe():
    """Same rules and same answers as the public form, for other websites."""
    if request.method == "OPTIONS":
        return "", 204
    formdata = _formdata()
    if formdata is None:
        return jsonify(status="error", message=_("Please send a JSON object."), errors={}), 400
    if not formdata.get("language"):
        formdata = MultiDict(formdata)
        formdata["language"] = str(get_locale())
    form = SubscribeForm(formdata=formdata, meta={"csrf": False})
    if form.validate():
        source = "api" if request.is_json else "embed"
        if not form.queue(RequestInfo(request.remote_addr, request.user_agent.string, source)):
            abort(500)
        message = _("Thank you. Please check your inbox to confirm your subscription.")
        if wants_json():
            return jsonify(status="ok", message=message), 202
        return render_template("public/thanks.html")
    if wants_json():
        return jsonify(
            status="error",
            message=_("Please correct the errors below."),
            errors={name: [str(e) for e in errors] for name, errors in form.errors.items()},
        ), 400
    return render_template("public/subscribe.html", form=form, list_label=list_label), 400


MAX_REPORT_SIZE = 10 * 1024 * 1024


@bp.route("/bounces", methods=["POST"])
@csrf.exempt
@raw_body
def receive_bounce_report():
    """A bounce or complaint report, posted as a raw message by a mail server or provider.

    Off (404) until BOUNCE_WEBHOOK_TOKEN is set; callers send it as a bearer token. An MTA
    pipe passes the address the report was delivered to as ``?recipient=`` (else the
    message's Delivered-To, X-Original-To, Envelope-To or To header is read).
    """
    # Returned messages are far larger than anything else this app accepts.
    request.max_content_length = MAX_REPORT_SIZE
    expected = current_app.config.get("BOUNCE_WEBHOOK_TOKEN")
    if not expected:
        abort(404)
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), str(expected).encode()
    ):
        response = jsonify(status="error", message=_("A valid token is required."))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    limit = current_app.config["SOFT_BOUNCE_LIMIT"]
    # An unencoded "+" in a query string reads as a space; no address holds one.
    recipient = request.args.get("recipient", "")[:320].replace(" ", "+") or None
    actions = process_message(request.get_data(cache=False), limit, recipient)
    db.session.commit()
    return jsonify(status="ok", actions=actions, unattributed=actions.count(UNATTRIBUTED))
