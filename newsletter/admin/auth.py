"""Logging in (password, then a code when two-factor sign-in is on) and out, who may see
what, and each user's own UI language."""

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from .. import accounts, sessions, translators, two_factor
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


# What a user may still reach while the organisation requires two-factor sign-in and
# they have not set it up yet.
SETUP_ENDPOINTS = {"admin.two_factor_setup", "admin.logout", "admin.set_language"}


# What a translator may reach: the issues, read; the texts of every language, read; their
# own account. Anything not named here answers them 403, including pages added later.
TRANSLATOR_ENDPOINTS = SETUP_ENDPOINTS | {
    "admin.issues",
    "admin.edit_issue",  # saves only their languages (issue_forms.keep_translator_to_own)
    "admin.autosave_issue",
    "admin.preview_issue",
    "admin.translation_source_changes",
    "admin.variant_versions_list",
    "admin.variant_version",
    "admin.download_xliff",
    "admin.media_list_json",
    "admin.blocks_json",
    "admin.account",
    "admin.set_time_zone",
    "admin.end_all_sessions",
    "admin.end_other_sessions",
    "admin.two_factor_disable",
    "admin.two_factor_new_recovery_codes",
}
# ... and these only for a language given to them (the ``lang`` or ``language`` in the URL).
TRANSLATOR_LANGUAGE_ENDPOINTS = {
    "admin.translation_ready",
    "admin.translation_up_to_date",
    "admin.upload_xliff",
    "admin.restore_variant_version",
    "admin.add_attachment",
    "admin.remove_attachment",
}


@bp.context_processor
def writing_rights():
    return {"may_write": lambda language: translators.may_write(current_user, language)}


def translator_may_reach() -> bool:
    if request.endpoint in TRANSLATOR_ENDPOINTS:
        return True
    if request.endpoint in TRANSLATOR_LANGUAGE_ENDPOINTS:
        args = request.view_args or {}
        return translators.may_write(current_user, args.get("lang", args.get("language")))
    return False


@bp.before_request
def require_login():
    """Every admin page needs a user, but the login steps themselves; a translator reaches
    only the pages of their work."""
    if request.endpoint in {"admin.login", "admin.login_code", "admin.static"}:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.endpoint not in SETUP_ENDPOINTS and two_factor.setup_required(current_user):
        return redirect(url_for("admin.two_factor_setup"))
    if current_user.is_translator and not translator_may_reach():
        if request.endpoint == "admin.dashboard":
            return redirect(url_for("admin.issues"))
        abort(403)
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


# The half-logged-in state between the password and the code step, in the signed cookie:
# it names the user and their password's fingerprint and grants nothing but the code step.
PENDING_LOGIN = "pending_login"
PENDING_SECONDS = 300


def _account_key() -> str:
    return "login:" + request.form.get("email", "").strip().lower()[:254]


def _code_account_key() -> str:
    """The account a code is typed for: the one half logged in, or the one logged in."""
    pending = session.get(PENDING_LOGIN) or {}
    user_id = pending.get("user") if isinstance(pending, dict) else None
    if user_id is None and current_user.is_authenticated:
        user_id = current_user.id
    return f"login-code:{user_id if user_id is not None else request.remote_addr}"


# Codes are throttled like passwords, across the login's code step and the account page.
code_limit_per_ip = limiter.shared_limit(
    lambda: current_app.config["LOGIN_CODE_LIMIT_PER_IP"], scope="login-code-ip", methods=["POST"]
)
code_limit_per_account = limiter.shared_limit(
    lambda: current_app.config["LOGIN_CODE_LIMIT_PER_ACCOUNT"],
    scope="login-code-account",
    key_func=_code_account_key,
    methods=["POST"],
)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def valid_code(_form, field) -> None:
    if not two_factor.looks_like_code(field.data):
        raise ValidationError(
            _l("Enter the 6-digit code from your app, or one of your recovery codes.")
        )


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), valid_code])


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
        if user is not None and user.has_two_factor:
            session[PENDING_LOGIN] = {
                "user": user.id,
                "key": sessions.password_fingerprint(user),
                "until": time.time() + PENDING_SECONDS,
                "next": request.args.get("next"),
            }
            return redirect(url_for("admin.login_code"))
        if user is not None:
            return _complete_login(user, request.args.get("next"))
        form.password.errors.append(_("The email address or the password is wrong."))
        status = 401
    return render_template("admin/login.html", form=form), status


def _pending_user() -> User | None:
    """The user who passed the password step a moment ago, with the same password."""
    pending = session.get(PENDING_LOGIN)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.active or not user.has_two_factor:
        return None
    if pending.get("key") != sessions.password_fingerprint(user):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@code_limit_per_ip
@code_limit_per_account
def login_code():
    """The second step of a login with two-factor sign-in: a code from the app."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    user = _pending_user()
    if user is None:
        session.pop(PENDING_LOGIN, None)
        flash(_("Your sign-in took too long. Please enter your password again."), "error")
        return redirect(url_for("admin.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        if two_factor.verify_second_factor(user, form.code.data):
            next_path = session.pop(PENDING_LOGIN).get("next")
            return _complete_login(user, next_path)
        db.session.rollback()
        form.code.errors.append(_("This code is wrong or was already used."))
        status = 401
    elif form.errors:
        status = 422
    return render_template("admin/login_code.html", form=form), status


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
    session.pop(PENDING_LOGIN, None)
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
