"""API tokens: admins list, create and revoke the keys of the JSON API.

A token's secret is shown once, in the answer to the form that created it; only a hash of
it is stored, so it can't be shown again (nor kept in the session cookie).
"""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from .. import accounts
from ..extensions import db
from ..form_fields import ActionForm
from ..models import ApiToken, TokenScope
from . import bp
from .auth import admin_required


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("Who or what uses it, e.g. “CRM sync”."),
    )
    scope = SelectField(
        _l("Permissions"),
        choices=[
            SelectChoice(TokenScope.READ.value, _l("Read only")),
            SelectChoice(TokenScope.WRITE.value, _l("Read and write")),
        ],
        default=TokenScope.READ.value,
    )

    def validate_name(self, field) -> None:
        if any(ord(char) < 32 or ord(char) == 127 for char in field.data or ""):
            raise ValidationError(_l("A name must fit on one line, without control characters."))


def _all_tokens() -> list[ApiToken]:
    return list(
        db.session.execute(
            db.select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        ).scalars()
    )


def _page(form: TokenForm, secret: str | None = None, created: ApiToken | None = None):
    return render_template(
        "admin/tokens.html",
        form=form,
        revoke_form=ActionForm(),
        tokens=_all_tokens(),
        secret=secret,
        created=created,
    )


@bp.get("/tokens")
@admin_required
def tokens():
    return _page(TokenForm())


@bp.post("/tokens")
@admin_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form), 400
    token, secret = accounts.create_token(
        form.name.data, TokenScope(form.scope.data), created_by=current_user
    )
    db.session.commit()
    page = _page(TokenForm(formdata=None), secret=secret, created=token)
    # The secret is on this page only: no browser or proxy may keep a copy.
    return page, 201, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int(max=2147483647):token_id>/revoke")
@admin_required
def revoke_token(token_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    token = db.get_or_404(ApiToken, token_id)
    accounts.revoke_token(token)
    db.session.commit()
    flash(_("The token “%(name)s” is revoked.", name=token.name), "ok")
    return redirect(url_for("admin.tokens"))
