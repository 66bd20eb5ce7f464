"""Layouts (editors and admins): colours and a header and footer block per language around
an issue's text, with a preview of the mail in each language."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import delivery, layouts
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import language_name
from ..links import external_url
from ..mail.issue_mail import prepare_variant
from ..models import Issue, IssueVariant, Layout
from . import bp
from .settings import colour_code

BLOCK_MAX = 2000


def layout_form(languages: list[str], **kwargs) -> FlaskForm:
    class LayoutForm(FlaskForm):
        name = StringField(
            _l("Name"),
            validators=[DataRequired(), Length(max=100)],
            description=_l("Editors pick it in the composer, e.g. “Invitation”."),
        )
        brand_color = StringField(
            _l("Colour of buttons, links and the header"),
            validators=[Optional(), colour_code],
            description=_l("Leave empty to use the organisation's colour."),
        )
        background_color = StringField(
            _l("Background colour"),
            validators=[Optional(), colour_code],
            description=_l("Leave empty to use the organisation's colour."),
        )
        make_default = BooleanField(_l("Default layout for new issues"))

    for code in languages:
        for block in ("header", "footer"):
            setattr(
                LayoutForm,
                f"{block}_{code}",
                TextAreaField(language_name(code), validators=[Optional(), Length(max=BLOCK_MAX)]),
            )
    return LayoutForm(**kwargs)


def _form_for(item: Layout | None) -> FlaskForm:
    languages = current_app.config["LANGUAGES"]
    data = None
    if item is not None:
        data = {
            "name": item.name,
            "brand_color": item.brand_color or "",
            "background_color": item.background_color or "",
            "make_default": item.is_default,
        }
        for code in languages:
            data[f"header_{code}"] = item.header.get(code, "")
            data[f"footer_{code}"] = item.footer.get(code, "")
    return layout_form(languages, data=data)


def _blocks(form: FlaskForm, block: str) -> dict[str, str]:
    languages = current_app.config["LANGUAGES"]
    return {c: v.strip() for c in languages if (v := form[f"{block}_{c}"].data or "").strip()}


def _apply(form: FlaskForm, item: Layout) -> None:
    item.name = (form.name.data or "").strip()
    item.brand_color = (form.brand_color.data or "").lower() or None
    item.background_color = (form.background_color.data or "").lower() or None
    item.header = _blocks(form, "header")
    item.footer = _blocks(form, "footer")


def _name_taken(name: str, item_id: int | None) -> bool:
    query = db.select(Layout.id).where(func.lower(Layout.name) == name.lower())
    if item_id is not None:
        query = query.where(Layout.id != item_id)
    return db.session.execute(query).first() is not None


def previews(layout: Layout) -> dict[str, str]:
    """The mail's HTML in each language, with a sample text in ``layout`` (unsaved)."""
    shown = {}
    for code in current_app.config["LANGUAGES"]:
        with force_locale(code):
            sample = IssueVariant(
                language=code,
                subject=_("Preview of the layout"),
                preheader="",
                body=_(
                    "This is where the text of an issue goes.\n\n"
                    "A second paragraph, with [a link](https://example.org/)."
                ),
            )
        view_url = external_url("public.view_issue", lang=code, issue_id=0)
        message = delivery.preview_message(prepare_variant(None, sample, view_url, layout))
        shown[code] = message.get_body(preferencelist=("html",)).get_content()
    return shown


@bp.get("/layouts")
def layouts_index():
    used = dict(
        db.session.execute(db.select(Issue.layout_id, func.count()).group_by(Issue.layout_id)).all()
    )
    return render_template("admin/layouts/index.html", rows=layouts.all_layouts(), used=used)


@bp.route("/layouts/new", methods=["GET", "POST"])
def new_layout():
    return _edit(None)


@bp.route("/layouts/<int:layout_id>", methods=["GET", "POST"])
def edit_layout(layout_id: int):
    return _edit(db.get_or_404(Layout, layout_id))


def _edit(item: Layout | None):
    form = _form_for(item)
    shown = Layout(header={}, footer={})  # what the previews show: the typed values
    if form.validate_on_submit():
        if _name_taken(form.name.data.strip(), item.id if item else None):
            form.name.errors.append(_("Another layout already has this name."))
        else:
            item = item or Layout()
            _apply(form, item)
            db.session.add(item)
            db.session.flush()
            if form.make_default.data:
                layouts.make_default(item)
            db.session.commit()
            flash(_("The layout “%(name)s” is saved.", name=item.name), "ok")
            return redirect(url_for("admin.edit_layout", layout_id=item.id))
    if form.is_submitted():
        _apply(form, shown)
    elif item is not None:
        shown = item
    return render_template(
        "admin/layouts/edit.html",
        form=form,
        item=item,
        languages=current_app.config["LANGUAGES"],
        previews=previews(shown),
    ), (422 if form.errors else 200)


@bp.post("/layouts/<int:layout_id>/delete")
def delete_layout(layout_id: int):
    item = db.get_or_404(Layout, layout_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if item.is_default:
        flash(
            _("The default layout can't be deleted: make another one the default first."), "error"
        )
        return redirect(url_for("admin.edit_layout", layout_id=layout_id))
    if layouts.in_use(item):
        flash(_("Issues use this layout, so it can't be deleted."), "error")
        return redirect(url_for("admin.edit_layout", layout_id=layout_id))
    db.session.delete(item)
    db.session.commit()
    flash(_("The layout is deleted."), "ok")
    return redirect(url_for("admin.layouts_index"))
