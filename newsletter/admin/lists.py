"""Lists (topics): their names and descriptions in each language, public or private."""

import re

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import language_name
from ..models import IssueList, MailingList, Subscriber, SubscriberStatus, Subscription
from . import bp

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def list_form(languages: list[str], default: str, **kwargs) -> FlaskForm:
    """A form with a name and a description field per language; the default's name is needed."""

    class ListForm(FlaskForm):
        slug = StringField(
            _l("Short name in addresses"),
            validators=[DataRequired(), Length(max=64)],
            description=_l("Lower-case letters, digits and hyphens, e.g. “weekly-news”."),
        )
        public = BooleanField(
            _l("Public: shown on the subscribe form"),
            default=True,
        )

        def validate_slug(self, field):
            field.data = (field.data or "").strip().lower()
            if not SLUG.fullmatch(field.data):
                raise ValidationError(_l("Use lower-case letters, digits and hyphens only."))

    for code in languages:
        required = [DataRequired()] if code == default else [Optional()]
        setattr(
            ListForm,
            f"name_{code}",
            StringField(language_name(code), validators=[*required, Length(max=100)]),
        )
        setattr(
            ListForm,
            f"description_{code}",
            TextAreaField(language_name(code), validators=[Optional(), Length(max=500)]),
        )
    return ListForm(**kwargs)


def _form_for(item: MailingList | None) -> FlaskForm:
    config = current_app.config
    data = {}
    if item is not None:
        data = {"slug": item.slug, "public": item.public}
        for code in config["LANGUAGES"]:
            data[f"name_{code}"] = item.names.get(code, "")
            data[f"description_{code}"] = item.descriptions.get(code, "")
    return list_form(config["LANGUAGES"], config["DEFAULT_LANGUAGE"], data=data or None)


def _apply(form: FlaskForm, item: MailingList) -> None:
    languages = current_app.config["LANGUAGES"]
    item.slug = form.slug.data
    item.public = form.public.data
    item.names = {c: v.strip() for c in languages if (v := form[f"name_{c}"].data or "").strip()}
    item.descriptions = {
        c: v.strip() for c in languages if (v := form[f"description_{c}"].data or "").strip()
    }


def _slug_taken(slug: str, item_id: int | None) -> bool:
    query = db.select(MailingList.id).where(MailingList.slug == slug)
    if item_id is not None:
        query = query.where(MailingList.id != item_id)
    return db.session.execute(query).first() is not None


@bp.get("/lists")
def lists():
    confirmed = (
        db.select(Subscription.list_id, func.count().label("confirmed"))
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(Subscriber.status == SubscriberStatus.CONFIRMED)
        .group_by(Subscription.list_id)
        .subquery()
    )
    rows = db.session.execute(
        db.select(MailingList, func.coalesce(confirmed.c.confirmed, 0))
        .outerjoin(confirmed, confirmed.c.list_id == MailingList.id)
        .order_by(MailingList.slug)
    ).all()
    return render_template("admin/lists/index.html", rows=rows)


@bp.route("/lists/new", methods=["GET", "POST"])
def new_list():
    return _edit(None)


@bp.route("/lists/<int:list_id>", methods=["GET", "POST"])
def edit_list(list_id: int):
    item = db.get_or_404(MailingList, list_id)
    return _edit(item)


def _edit(item: MailingList | None):
    form = _form_for(item)
    if form.validate_on_submit():
        if _slug_taken(form.slug.data, item.id if item else None):
            form.slug.errors.append(_("Another list already uses this short name."))
        else:
            item = item or MailingList()
            _apply(form, item)
            db.session.add(item)
            db.session.commit()
            flash(_("The list “%(name)s” is saved.", name=item.name_in(str(get_locale()))), "ok")
            return redirect(url_for("admin.lists"))
    return render_template(
        "admin/lists/edit.html", form=form, item=item, languages=current_app.config["LANGUAGES"]
    ), (200 if not form.errors else 422)


@bp.post("/lists/<int:list_id>/delete")
def delete_list(list_id: int):
    item = db.get_or_404(MailingList, list_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    used = db.session.execute(
        db.select(IssueList.issue_id).where(IssueList.list_id == list_id).limit(1)
    ).first()
    if used:
        flash(_("This list is the audience of an issue and can't be deleted."), "error")
        return redirect(url_for("admin.edit_list", list_id=list_id))
    db.session.delete(item)
    db.session.commit()
    flash(_("The list is deleted. Its subscribers stay, without this topic."), "ok")
    return redirect(url_for("admin.lists"))
