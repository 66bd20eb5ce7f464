"""The account page: each user's own open sessions (and, below, two-factor sign-in)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from .. import sessions
from ..extensions import db
from . import bp
from .auth import ActionForm


def _current_session():
    return sessions.find_session(current_user.session_key)


@bp.get("/account")
def account():
    current = _current_session()
    return render_template(
        "admin/account.html",
        open_sessions=sessions.open_sessions(current_user),
        current_id=current.id if current else None,
        describe_browser=sessions.describe_browser,
        action_form=ActionForm(),
    )


@bp.post("/account/sessions/end-others")
def end_other_sessions():
    if not ActionForm().validate_on_submit():
        abort(400)
    sessions.revoke_all(current_user, keep=_current_session())
    db.session.commit()
    flash(_("You are logged out everywhere else."), "ok")
    return redirect(url_for("admin.account"))


@bp.post("/account/sessions/end-all")
def end_all_sessions():
    if not ActionForm().validate_on_submit():
        abort(400)
    sessions.revoke_all(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are logged out everywhere."), "info")
    return redirect(url_for("admin.login"))
