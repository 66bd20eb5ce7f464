"""Endpoints for the machines that run the service: load balancers and orchestrators.

They need no login and say nothing about the system beyond the names of the dependencies
that don't answer.
"""

from flask import Blueprint, jsonify

from ..extensions import limiter
from ..health import unreachable_dependencies

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
