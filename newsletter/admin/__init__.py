"""The editors' UI under ``/admin``: everything here needs a logged-in user."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import auth, dashboard, imports, issues, labels, lists, settings, subscribers, tokens, users  # noqa: E402, F401
