"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/settings")
def settings():
    return render_template("admin/dashboard.html")
