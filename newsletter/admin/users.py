"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/users")
def users():
    return render_template("admin/dashboard.html")
