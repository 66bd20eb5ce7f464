"""Placeholder."""

from flask import render_template

from . import bp


@bp.get("/issues")
def issues():
    return render_template("admin/dashboard.html")
