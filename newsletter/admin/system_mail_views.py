"""System mails in the editors' UI: which are written in which language, and a form per
mail and language with a preview and a reset to the built-in text. ``system_mails``
decides what may be saved."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired

from .. import automations, system_mails
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import text_direction
from ..models import SystemMail
from . import bp

LANGUAGE = "<string(length=2):lang>"


class SystemMailForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[InputRequired()])
    body = TextAreaField(_l("Text (Markdown)"), validators=[InputRequired()])


def known(kind: str, lang: str) -> None:
    if kind not in system_mails.KINDS or lang not in current_app.config["LANGUAGES"]:
        abort(404)


@bp.get("/system-mails")
def system_mails_index():
    written = {
        (mail.kind, mail.language) for mail in db.session.execute(db.select(SystemMail)).scalars()
    }
    return render_template(
        "admin/system_mails/index.html",
        kinds=system_mails.shown_kinds(),
        written=written,
        automated=automations.automated_issues(),
    )


@bp.route(f"/system-mails/<kind>/{LANGUAGE}", methods=["GET", "POST"])
def system_mail(kind: str, lang: str):
    known(kind, lang)
    mail = system_mails.written(kind, lang)
    if mail is not None:
        form = SystemMailForm(obj=mail)
    else:
        subject, body = system_mails.draft(kind, lang)
        form = SystemMailForm(data={"subject": subject, "body": body})
    preview, refusal, status = None, None, 200
    if form.validate_on_submit():
        try:
            if request.form.get("action") == "save":
                system_mails.save(kind, lang, form.subject.data, form.body.data)
                db.session.commit()
                flash(_("The mail is saved: it is sent from now on in this language."), "ok")
                return redirect(url_for("admin.system_mail", kind=kind, lang=lang))
            subject, body = system_mails.check(kind, form.subject.data, form.body.data)
            sample = SystemMail(kind=kind, language=lang, subject=subject, body=body)
            links = {}
            if not system_mails.KINDS[kind].event:  # registrants have no subscriber links
                links = {
                    "preferences_url": "https://example.org/preferences",
                    "unsubscribe_url": "https://example.org/unsubscribe",
                }
            with force_locale(lang):
                preview = system_mails.render(sample, system_mails.SAMPLES, **links)
        except system_mails.SystemMailError as error:
            db.session.rollback()
            refusal, status = str(error), 422
    elif form.is_submitted():
        status = 422
    return render_template(
        "admin/system_mails/edit.html",
        kind=kind,
        spec=system_mails.KINDS[kind],
        lang=lang,
        direction=text_direction(lang),
        form=form,
        written=mail is not None,
        preview=preview,
        refusal=refusal,
        help=system_mails.PLACEHOLDER_HELP,
        action_form=ActionForm(),
    ), status


@bp.post(f"/system-mails/<kind>/{LANGUAGE}/reset")
def reset_system_mail(kind: str, lang: str):
    known(kind, lang)
    if not ActionForm().validate_on_submit():
        abort(400)
    if system_mails.reset(kind, lang):
        db.session.commit()
        if system_mails.KINDS[kind].built_in:
            flash(_("The built-in text is sent again in this language."), "ok")
        else:
            flash(_("This mail is no longer sent in this language."), "ok")
    return redirect(url_for("admin.system_mail", kind=kind, lang=lang))
