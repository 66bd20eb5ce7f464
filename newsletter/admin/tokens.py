"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/tokens")
def tokens():
    return render_template("admin/dashboard.html")
