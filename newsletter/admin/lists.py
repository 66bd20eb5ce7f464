"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/lists")
def lists():
    return render_template("admin/dashboard.html")
