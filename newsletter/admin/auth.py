"""Logging in and out, who may see what, and each user's own UI language."""

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import EmailField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .. import accounts, sessions
from ..extensions import csrf, db, limiter, login_manager
from ..i18n import language_name
from ..models import User
from . import bp


@login_manager.user_loader
def load_user(session_key: str) -> User | None:
    """The user of an open session (see ``sessions.find_session``), noting its use."""
    row = sessions.find_session(session_key)
    if row is None:
        return None
    if sessions.touch(row):
        db.session.commit()
    user = row.user
    user.session_key = session_key
    return user


@bp.before_request
def require_login():
    """Every admin page needs a user, but the login page itself."""
    if request.endpoint in {"admin.login", "admin.static"}:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def admin_required(view):
    """Only admins: editors get 403."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def accepts_uploads(limit, too_large=None):
    """Let one view take bodies up to ``limit()`` bytes instead of the site's small limit.

    The site-wide CSRF check reads the body before any view runs, under the small limit,
    so the view is exempt from it and the token is checked here once the limit is raised.
    ``too_large()`` answers a bigger body (else the 413 error page).
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method == "POST":
                request.max_content_length = limit()
                try:
                    request.files  # noqa: B018  (parse the body now, under the larger limit)
                except RequestEntityTooLarge:
                    if too_large is None:
                        raise
                    return too_large()
                csrf.protect()
            return view(*args, **kwargs)

        return csrf.exempt(wrapper)

    return decorate


def _account_key() -> str:
    return "login:" + request.form.get("email", "").strip().lower()[:254]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language of this interface"))


def _safe_next(target: str | None) -> str:
    """Only paths on this site: a login link must not send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key, methods=["POST"]
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            return _complete_login(user, request.args.get("next"))
        form.password.errors.append(_("The email address or the password is wrong."))
        status = 401
    return render_template("admin/login.html", form=form), status


def _complete_login(user: User, next_path: str | None):
    """Open a server-side session for ``user`` and put its key in the cookie."""
    user.session_key = sessions.open_session(user, request.remote_addr, request.user_agent.string)
    db.session.commit()
    login_user(user)
    return redirect(_safe_next(next_path))


@bp.post("/logout")
def logout():
    row = sessions.find_session(current_user.session_key)
    if row is not None:
        sessions.revoke(row)
        db.session.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("admin.login"))


@bp.post("/language")
@login_required
def set_language():
    form = LanguageForm()
    form.language.choices = [
        SelectChoice(code, language_name(code)) for code in current_app.config["LANGUAGES"]
    ]
    if form.validate_on_submit():
        current_user.language = form.language.data
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
