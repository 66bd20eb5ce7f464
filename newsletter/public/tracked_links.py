"""The click redirect and the open image of tracked issues (tracking.py decides what is
counted). Both answer without a database write; neither sets a cookie."""

from flask import Response, abort, g, redirect, request

from .. import tracking
from ..models import TrackingKind
from .routes import bp

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.route("/<lang>/r/<token>/<int(max=100000):position>")
def track_click(token: str, position: int):
    """Count the click and go on to the link's address as the issue had it; a forged
    token or an unknown position is a 404, never a redirect elsewhere."""
    found = tracking.read_token(token)
    if found is None:
        abort(404)
    delivery_id, issue_id = found
    url = tracking.link_url(issue_id, g.lang, position)
    if url is None:
        abort(404)
    tracking.record(TrackingKind.CLICK, delivery_id, position, request.user_agent.string)
    response = redirect(url, 302)
    response.headers.update(PRIVATE)
    return response


@bp.route("/<lang>/o/<token>.gif")
def track_open(token: str):
    found = tracking.read_token(token)
    if found is None:
        abort(404)
    tracking.record(TrackingKind.OPEN, found[0], None, request.user_agent.string)
    return Response(tracking.PIXEL, mimetype="image/gif", headers=PRIVATE)
