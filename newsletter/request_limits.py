"""Rate limits on subscribing, shared by the public form and the JSON endpoint."""

import time

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from .extensions import limiter


def _address_key() -> str:
    """The address being subscribed, so one mailbox can't be flooded from many IPs.

    Never raises (Flask-Limiter would take an error for a storage failure): a body that
    can't be read counts against the client's IP, and the view refuses it.
    """
    try:
        if request.is_json:
            payload = request.get_json(silent=True)
            email = payload.get("email", "") if isinstance(payload, dict) else ""
        else:
            email = request.form.get("email", "")
    except HTTPException:  # too large, or refused by newsletter.hygiene
        email = ""
    return "address:" + (str(email).strip().lower()[:254] or request.remote_addr or "")


def _reached_mail(response) -> bool:
    """Only a submission that got as far as a confirmation mail counts: a mistyped address
    corrected and sent again is not an attack, and people behind one office router
    subscribe one after another."""
    return response.status_code < 400


per_ip = limiter.shared_limit(
    lambda: current_app.config["SUBSCRIBE_LIMIT_PER_IP"],
    scope="subscribe-ip",
    methods=["POST"],
    deduct_when=_reached_mail,
)
per_address = limiter.shared_limit(
    lambda: current_app.config["SUBSCRIBE_LIMIT_PER_ADDRESS"],
    scope="subscribe-address",
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_reached_mail,
)


def add_retry_after(response):
    """``Retry-After`` on a refusal by a limit. Flask-Limiter's own headers are off: working
    out a limit's window for them costs a Redis round trip on every limited request."""
    if response.status_code != 429 or "Retry-After" in response.headers:
        return response
    limit = limiter.current_limit
    if limit is not None:
        try:
            response.headers["Retry-After"] = str(max(1, int(limit.reset_at - time.time())))
        except Exception:  # the storage went away: the refusal stands without the header
            current_app.logger.warning("No Retry-After: the limits' storage did not answer")
    return response
