"""Saved blocks (editors and admins): snippets with text per language, inserted into an
issue from the composer. Inserting copies the text, so editing or deleting a block later
changes no issue."""

from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import language_name
from ..models import SavedBlock
from . import bp

BODY_MAX = 5000


def block_form(languages: list[str], **kwargs) -> FlaskForm:
    class BlockForm(FlaskForm):
        name = StringField(
            _l("Name"),
            validators=[DataRequired(), Length(max=100)],
            description=_l("Shown in the composer's list, e.g. “About the network”."),
        )

    for code in languages:
        setattr(
            BlockForm,
            f"body_{code}",
            TextAreaField(language_name(code), validators=[Optional(), Length(max=BODY_MAX)]),
        )
    return BlockForm(**kwargs)


def all_blocks() -> list[SavedBlock]:
    return list(db.session.scalars(db.select(SavedBlock).order_by(SavedBlock.name)))


@bp.get("/blocks")
def blocks():
    return render_template("admin/blocks/index.html", rows=all_blocks())


@bp.get("/blocks.json")
def blocks_json():
    """Every block with its text per language, for the composer."""
    return jsonify(
        items=[{"id": item.id, "name": item.name, "body": item.body} for item in all_blocks()]
    )


@bp.route("/blocks/new", methods=["GET", "POST"])
def new_block():
    return _edit(None)


@bp.route("/blocks/<int:block_id>", methods=["GET", "POST"])
def edit_block(block_id: int):
    return _edit(db.get_or_404(SavedBlock, block_id))


def _edit(item: SavedBlock | None):
    languages = current_app.config["LANGUAGES"]
    data = None
    if item is not None:
        data = {"name": item.name, **{f"body_{c}": item.body.get(c, "") for c in languages}}
    form = block_form(languages, data=data)
    if form.validate_on_submit():
        name = form.name.data.strip()
        taken = db.select(SavedBlock.id).where(func.lower(SavedBlock.name) == name.lower())
        if item is not None:
            taken = taken.where(SavedBlock.id != item.id)
        body = {c: v.strip() for c in languages if (v := form[f"body_{c}"].data or "").strip()}
        if db.session.execute(taken).first():
            form.name.errors.append(_("Another block already has this name."))
        elif not body:
            form[f"body_{languages[0]}"].errors.append(
                _("Write the block in one language at least.")
            )
        else:
            item = item or SavedBlock()
            item.name = name
            item.body = body
            db.session.add(item)
            db.session.commit()
            flash(_("The block “%(name)s” is saved.", name=item.name), "ok")
            return redirect(url_for("admin.blocks"))
    return render_template("admin/blocks/edit.html", form=form, item=item, languages=languages), (
        422 if form.errors else 200
    )


@bp.post("/blocks/<int:block_id>/delete")
def delete_block(block_id: int):
    item = db.get_or_404(SavedBlock, block_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    db.session.delete(item)
    db.session.commit()
    flash(_("The block is deleted. Issues it was inserted into keep their text."), "ok")
    return redirect(url_for("admin.blocks"))
