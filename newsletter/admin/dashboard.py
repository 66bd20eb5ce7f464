"""The first page after logging in: subscribers and recent campaigns at a glance."""

from flask import render_template

from . import bp


@bp.get("/")
def dashboard():
    return render_template("admin/dashboard.html")
