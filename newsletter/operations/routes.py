"""Endpoints for the machines that run the service: load balancers and orchestrators.

The probes need no login and say nothing beyond the names of the dependencies that don't
answer; the metrics are for a scraper with the token or from an allowed network.
"""

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..extensions import limiter
from ..health import unreachable_dependencies
from ..metrics import web_registry

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is alive and answers requests; nothing else is checked."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Ready for traffic when the database, the broker and a configured relay answer."""
    unreachable = unreachable_dependencies()
    if unreachable:
        return jsonify(status="unavailable", unreachable=unreachable), 503
    return jsonify(status="ok")


@bp.get("/metrics")
@limiter.exempt
def metrics():
    """Prometheus metrics for a scraper that shows the token or comes from an allowed
    network; 404 for everyone else, as if the page did not exist."""
    if not _may_scrape():
        abort(404)
    registry = web_registry(current_app._get_current_object())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    config = current_app.config
    token = config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in network for network in config["METRICS_ALLOWED_IPS"])
