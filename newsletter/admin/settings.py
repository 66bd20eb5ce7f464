"""Settings (admins): the organisation's name, logo, colours and postal address."""

import re

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import organisation
from ..extensions import db
from ..i18n import TIME_ZONES, language_name
from ..models import tidy_lines
from . import bp
from .auth import accepts_uploads, admin_required

COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")


def colour_code(_form, field) -> None:
    """The whole value is one colour: ``$`` would let a trailing newline through."""
    if not COLOR_PATTERN.fullmatch(field.data or ""):
        raise ValidationError(_l("Use a colour like #0b6e4f."))


def settings_form(languages: list[str], **kwargs) -> FlaskForm:
    class SettingsForm(FlaskForm):
        name = StringField(_l("Organisation name"), validators=[DataRequired(), Length(max=200)])
        logo = FileField(_l("Logo (PNG, JPEG or GIF, at most 512 KB)"))
        remove_logo = BooleanField(_l("Remove the logo"))
        brand_color = StringField(_l("Colour of buttons and links"), validators=[colour_code])
        text_color = StringField(_l("Text colour"), validators=[colour_code])
        background_color = StringField(_l("Background colour"), validators=[colour_code])
        time_zone = SelectField(
            _l("Time zone"),
            choices=TIME_ZONES,
            description=_l(
                "Times in the editors' UI are shown and typed in this zone, unless an"
                " editor chose their own on their account page."
            ),
        )
        require_two_factor = BooleanField(
            _l("Everyone must use two-factor sign-in"),
            description=_l(
                "Users without it are asked to set it up right after their password, "
                "before they can do anything else."
            ),
        )
        require_approval = BooleanField(
            _l("Every language must be approved before sending"),
            description=_l(
                "An issue is sent or scheduled only when the text of each language of its"
                " audience is approved by an editor and each translation is up to date"
                " with the default language, unless an editor chooses to send a language"
                " the fallback instead."
            ),
        )

        track_clicks = BooleanField(
            _l("New issues count clicks"),
            description=_l(
                "Their links lead through this site, which counts each reader's clicks. "
                "Editors can change it per issue. Say so in your privacy notice."
            ),
        )
        track_opens = BooleanField(
            _l("New issues count opens"),
            description=_l("An invisible image counts who opened a mail; unreliable."),
        )

    for code in languages:
        setattr(
            SettingsForm,
            f"address_{code}",
            TextAreaField(language_name(code), validators=[Optional(), Length(max=500)]),
        )
    return SettingsForm(**kwargs)


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
@accepts_uploads(lambda: organisation.LOGO_MAX_BYTES + 64 * 1024)
def settings():
    languages = current_app.config["LANGUAGES"]
    org = organisation.current_organisation()
    data = {
        "name": org.name,
        "brand_color": org.brand_color,
        "text_color": org.text_color,
        "background_color": org.background_color,
        "require_two_factor": org.require_two_factor,
        "require_approval": org.require_approval,
        "track_clicks": org.track_clicks,
        "track_opens": org.track_opens,
        "time_zone": org.time_zone,
        **{f"address_{code}": org.postal_address.get(code, "") for code in languages},
    }
    form = settings_form(languages, data=data)
    if form.validate_on_submit():
        upload = form.logo.data
        if form.require_two_factor.data and not current_user.has_two_factor:
            form.require_two_factor.errors.append(
                _("Set up two-factor sign-in for your own account first.")
            )
            return _page(form, org, languages), 422
        try:
            logo = organisation.save_logo(upload.read()) if upload else org.logo
        except organisation.LogoError:
            form.logo.errors.append(_("The logo must be a PNG, JPEG or GIF of at most 512 KB."))
        else:
            org.require_two_factor = form.require_two_factor.data
            org.require_approval = form.require_approval.data
            org.track_clicks, org.track_opens = form.track_clicks.data, form.track_opens.data
            org.time_zone = form.time_zone.data
            org.logo = None if form.remove_logo.data else logo
            org.name = form.name.data.strip()
            for field in ("brand_color", "text_color", "background_color"):
                setattr(org, field, form[field].data.lower())
            org.postal_address = {
                code: text
                for code in languages
                if (text := tidy_lines(form[f"address_{code}"].data or ""))
            }
            db.session.add(org)
            db.session.commit()
            flash(_("The settings are saved."), "ok")
            return redirect(url_for("admin.settings"))
    return _page(form, org, languages), 422 if form.errors else 200


def _page(form, org, languages):
    return render_template("admin/settings.html", form=form, org=org, languages=languages)
