"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/subscribers")
def subscribers():
    return render_template("admin/dashboard.html")
