"""API tokens: admins list, create and revoke the keys of the JSON API.

A token acts with the rights of one account (its ``created_by``): the admin who creates it,
or an account they choose, such as a translator's, whose token reaches only their work.

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
from ..models import ApiToken, TokenScope, User
from . import bp
from .auth import admin_required
from .users import ROLE_LABELS


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
    acts_as = SelectField(
        _l("Acts with the rights of"),
        coerce=int,
        description=_l(
            "A translator's token reaches only the issues and the languages of that translator."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acts_as.choices = [
            SelectChoice(user.id, f"{user.email} ({ROLE_LABELS[user.role]})")
            for user in active_users()
        ]
        if self.acts_as.data is None:
            self.acts_as.data = current_user.id

    def validate_name(self, field) -> None:
        if any(ord(char) < 32 or ord(char) == 127 for char in field.data or ""):
            raise ValidationError(_l("A name must fit on one line, without control characters."))


def active_users() -> list[User]:
    return list(
        db.session.execute(db.select(User).where(User.active).order_by(User.email)).scalars()
    )


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
        users={user.id: user for user in db.session.execute(db.select(User)).scalars()},
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
        form.name.data,
        TokenScope(form.scope.data),
        created_by=db.session.get(User, form.acts_as.data),
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
