"""The account page: each user's own open sessions and two-factor sign-in."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .. import sessions, two_factor
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import TIME_ZONES
from ..organisation import current_organisation
from . import bp
from .auth import CodeForm, code_limit_per_account, code_limit_per_ip


class ConfirmForm(FlaskForm):
    """Who asks for a change to two-factor sign-in: a current code or the password."""

    answer = PasswordField(
        _l("A code from your app, or your password"),
        validators=[DataRequired(), Length(max=200)],
    )


class TimeZoneForm(FlaskForm):
    time_zone = SelectField(_l("Your time zone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = _("The organisation's (%(zone)s)", zone=current_organisation().time_zone)
        self.time_zone.choices = [SelectChoice("", default)] + [
            SelectChoice(zone, zone) for zone in TIME_ZONES
        ]


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
        confirm_form=ConfirmForm(),
        zone_form=TimeZoneForm(time_zone=current_user.time_zone or ""),
        recovery_left=two_factor.unused_recovery_codes(current_user),
        required=two_factor.is_required(),
    )


@bp.post("/account/time-zone")
def set_time_zone():
    form = TimeZoneForm()
    if not form.validate_on_submit():
        abort(400)
    current_user.time_zone = form.time_zone.data or None
    db.session.commit()
    flash(
        _(
            "Times are now shown in %(zone)s.",
            zone=form.time_zone.data or current_organisation().time_zone,
        ),
        "ok",
    )
    return redirect(url_for("admin.account"))


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


def _no_store(page, status=200):
    """Recovery codes are on this page only: no browser or proxy may keep a copy."""
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/account/two-factor", methods=["GET", "POST"])
@code_limit_per_ip
@code_limit_per_account
def two_factor_setup():
    """Set up two-factor sign-in: scan the QR code, then prove it with a code."""
    if current_user.has_two_factor:
        return redirect(url_for("admin.account"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        codes = two_factor.enable(current_user, form.code.data)
        if codes is not None:
            db.session.commit()
            page = render_template("admin/recovery_codes.html", codes=codes, first_time=True)
            return _no_store(page)
        db.session.rollback()
        form.code.errors.append(_("This code is wrong or was already used."))
        status = 422
    elif form.errors:
        status = 422
    secret = two_factor.pending_secret(current_user)
    issuer = current_organisation().name or two_factor.ISSUER
    uri = two_factor.provisioning_uri(current_user, issuer)
    db.session.commit()
    page = render_template(
        "admin/two_factor_setup.html",
        form=form,
        qr_code=two_factor.qr_code_svg(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        required=two_factor.setup_required(current_user),
    )
    return _no_store(page, status)


def _confirmed() -> bool:
    """The confirmation form was sent and is right; else a message is flashed."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("Enter a code from your app or your password to confirm."), "error")
        return False
    if not two_factor.confirms_identity(current_user, form.answer.data):
        db.session.rollback()
        flash(_("This code or password is wrong."), "error")
        return False
    return True


@bp.post("/account/two-factor/disable")
@code_limit_per_ip
@code_limit_per_account
def two_factor_disable():
    if not current_user.has_two_factor:
        return redirect(url_for("admin.account"))
    if two_factor.is_required():
        flash(_("Two-factor sign-in is required for everyone here."), "error")
        return redirect(url_for("admin.account"))
    if not _confirmed():
        return redirect(url_for("admin.account"))
    two_factor.disable(current_user)
    db.session.commit()
    flash(_("Two-factor sign-in is off."), "ok")
    return redirect(url_for("admin.account"))


@bp.post("/account/two-factor/recovery-codes")
@code_limit_per_ip
@code_limit_per_account
def two_factor_new_recovery_codes():
    if not current_user.has_two_factor:
        return redirect(url_for("admin.account"))
    if not _confirmed():
        return redirect(url_for("admin.account"))
    codes = two_factor.new_recovery_codes(current_user)
    db.session.commit()
    return _no_store(render_template("admin/recovery_codes.html", codes=codes, first_time=False))
