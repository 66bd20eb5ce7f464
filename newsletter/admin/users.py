"""Users (admins): the accounts of admins, editors and translators; and the languages of
each translator, which editors may change too."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from .. import accounts
from ..extensions import db
from ..form_fields import MultiCheckboxField
from ..i18n import language_name
from ..models import Role, User
from . import bp
from .auth import admin_required

ROLE_LABELS = {
    Role.ADMIN: _l("Admin"),
    Role.EDITOR: _l("Editor"),
    Role.TRANSLATOR: _l("Translator"),
}


def language_choices() -> list[SelectChoice]:
    return [SelectChoice(c, language_name(c)) for c in current_app.config["LANGUAGES"]]


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    role = SelectField(
        _l("Role"), choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()]
    )
    translation_languages = MultiCheckboxField(
        _l("Languages this translator writes"),
        description=_l("Only for translators, who read every language and write these."),
    )
    language = SelectField(_l("Language of the interface"))
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(max=200)],
        description=_l("At least 10 characters. Leave empty to keep the current password."),
    )
    active = BooleanField(_l("May log in"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()
        self.translation_languages.choices = language_choices()


@bp.get("/users")
@admin_required
def users():
    rows = db.session.execute(db.select(User).order_by(User.email)).scalars().all()
    return render_template("admin/users/index.html", rows=rows, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = UserForm(data={"role": Role.EDITOR.value})
    form.password.description = _(
        "At least %(count)d characters.", count=accounts.MIN_PASSWORD_LENGTH
    )
    if form.validate_on_submit():
        try:
            accounts.create_user(
                form.email.data,
                form.password.data or "",
                Role(form.role.data),
                name=(form.name.data or "").strip(),
                language=form.language.data,
                translation_languages=form.translation_languages.data,
            )
        except accounts.AccountError as error:
            db.session.rollback()
            form.email.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("The account is created."), "ok")
            return redirect(url_for("admin.users"))
    return render_template("admin/users/edit.html", form=form, user=None), (
        422 if form.errors else 200
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user, data={"role": user.role.value})
    del form.email  # the address identifies the account; make a new one instead
    if form.validate_on_submit():
        problem = _check_change(user, form)
        if problem:
            form.role.errors.append(problem)
        else:
            try:
                accounts.update_user(
                    user,
                    name=(form.name.data or "").strip(),
                    role=Role(form.role.data),
                    language=form.language.data,
                    active=form.active.data,
                    password=form.password.data or "",
                    translation_languages=form.translation_languages.data,
                )
            except accounts.AccountError as error:
                db.session.rollback()
                form.translation_languages.errors.append(str(error))
            else:
                db.session.commit()
                flash(_("The account is saved."), "ok")
                return redirect(url_for("admin.users"))
    return render_template("admin/users/edit.html", form=form, user=user), (
        422 if form.errors else 200
    )


def _check_change(user: User, form: UserForm) -> str | None:
    """Why the change can't be made, or None."""
    if user.id == current_user.id and (form.role.data != Role.ADMIN or not form.active.data):
        return _("You can't remove your own admin rights or lock yourself out.")
    if form.password.data and len(form.password.data) < accounts.MIN_PASSWORD_LENGTH:
        return _(
            "The password needs at least %(count)d characters.",
            count=accounts.MIN_PASSWORD_LENGTH,
        )
    return None


class TranslatorLanguagesForm(FlaskForm):
    translation_languages = MultiCheckboxField(_l("Languages this translator writes"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.translation_languages.choices = language_choices()


def translator_accounts() -> list[User]:
    return list(
        db.session.execute(
            db.select(User).where(User.role == Role.TRANSLATOR).order_by(User.email)
        ).scalars()
    )


@bp.get("/translators")
def translators_page():
    """Editors and admins give each translator the languages they write."""
    rows = [
        (
            user,
            TranslatorLanguagesForm(
                prefix=f"translator-{user.id}",  # one form per translator: unique ids
                data={"translation_languages": user.translation_languages},
            ),
        )
        for user in translator_accounts()
    ]
    return render_template("admin/users/translators.html", rows=rows)


@bp.post("/translators/<int:user_id>")
def set_translator_languages(user_id: int):
    user = db.get_or_404(User, user_id)
    if not user.is_translator:
        abort(404)
    form = TranslatorLanguagesForm(prefix=f"translator-{user.id}")
    if not form.validate_on_submit():
        abort(400)
    try:
        accounts.set_translation_languages(user, form.translation_languages.data)
    except accounts.AccountError as error:
        db.session.rollback()
        flash(f"{user.email}: {error}", "error")
    else:
        db.session.commit()
        flash(
            _(
                "%(email)s now translates %(languages)s.",
                email=user.email,
                languages=", ".join(language_name(c) for c in user.translation_languages),
            ),
            "ok",
        )
    return redirect(url_for("admin.translators_page"))
