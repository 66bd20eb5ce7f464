"""The media library page, and the JSON endpoints the composer uploads and picks images with.

``POST /admin/media`` answers JSON to scripts (they send the CSRF token in ``X-CSRFToken``)
and a page to the plain form, which works without JavaScript.
"""

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length

from ..form_fields import ActionForm
from ..i18n import language_name
from ..media import library
from ..media.library import MAX_ALT_TEXT, MediaRefused
from ..models import MediaFile
from . import bp
from .auth import accepts_uploads

ACCEPT = "image/jpeg,image/png,image/gif,image/webp"


def _alt_fields(form_class: type[FlaskForm]) -> type[FlaskForm]:
    for code in current_app.config["LANGUAGES"]:
        field = StringField(
            _l("Alt text in %(language)s", language=language_name(code)),
            validators=[Length(max=MAX_ALT_TEXT)],
        )
        setattr(form_class, f"alt_{code}", field)
    return form_class


def upload_form(alt_text: dict[str, str] | None = None) -> FlaskForm:
    """The upload form, never read from the request (a body too large can't be read)."""

    class UploadForm(FlaskForm):
        file = FileField(_l("Image (JPEG, PNG, GIF or WebP)"))

    data = {f"alt_{code}": text for code, text in (alt_text or {}).items()}
    return _alt_fields(UploadForm)(formdata=None, data=data)


def alt_text_form(item: MediaFile, **kwargs) -> FlaskForm:
    class AltTextForm(FlaskForm):
        pass

    data = {f"alt_{code}": text for code, text in (item.alt_text or {}).items()}
    return _alt_fields(AltTextForm)(prefix=f"media-{item.id}", data=data, **kwargs)


def _alt_values(form) -> dict[str, str]:
    """``alt_<code>`` fields of a form (or of the request), by language."""
    return {code: form.get(f"alt_{code}", "") for code in current_app.config["LANGUAGES"]}


def _wants_json() -> bool:
    """A script: it sends its CSRF token as a header, or asks for JSON."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return "X-CSRFToken" in request.headers or best == "application/json"


def _page(status: int = 200, error: str | None = None, alt_text: dict | None = None):
    items = library.newest_first()
    page = render_template(
        "admin/media.html",
        items=items,
        form=upload_form(alt_text),
        alt_forms={item.id: alt_text_form(item, formdata=None) for item in items},
        action_form=ActionForm(formdata=None),
        error=error,
        accept=ACCEPT,
        max_bytes=library.max_bytes(),
        too_large=MediaRefused("too_large").message,
        public_url=library.public_url,
    )
    return page, status


def _refused(error: MediaRefused):
    if _wants_json():
        return jsonify(error=error.message), error.status
    # What was typed stays, unless the body was too large to be read at all.
    typed = _alt_values(request.form) if error.code != "too_large" else None
    return _page(error.status, error.message, typed)


@bp.get("/media")
def media_library():
    return _page()


def _upload_too_large():
    return _refused(MediaRefused("too_large"))


@bp.post("/media")
@accepts_uploads(lambda: library.max_bytes() + 64 * 1024, too_large=_upload_too_large)
def upload_media():
    upload = request.files.get("file")
    data = upload.read() if upload and upload.filename else None
    try:
        item = library.add_image(
            data,
            upload.filename if upload else None,
            created_by=current_user,
            alt_text=_alt_values(request.form),
        )
    except MediaRefused as error:
        return _refused(error)
    if _wants_json():
        return jsonify(library.describe(item)), 201
    flash(_("The image “%(name)s” is in the library.", name=item.filename), "ok")
    return redirect(url_for("admin.media_library", _anchor=f"media-{item.id}"))


@bp.get("/media.json")
def media_list_json():
    return jsonify(items=[library.describe(item) for item in library.newest_first()])


def _item_or_404(media_id: int) -> MediaFile:
    item = library.find(media_id)
    if item is None:
        abort(404)
    return item


@bp.post("/media/<int:media_id>/alt")
def update_alt_text(media_id: int):
    item = _item_or_404(media_id)
    form = alt_text_form(item)
    if not form.validate_on_submit():
        return _page(400, _("An alt text may have at most %(max)s characters.", max=MAX_ALT_TEXT))
    values = {code: form[f"alt_{code}"].data for code in current_app.config["LANGUAGES"]}
    try:
        library.set_alt_text(item, values)
    except MediaRefused as error:
        return _page(error.status, error.message)
    flash(_("The alt text of “%(name)s” is saved.", name=item.filename), "ok")
    return redirect(url_for("admin.media_library", _anchor=f"media-{item.id}"))


@bp.post("/media/<int:media_id>/delete")
def delete_media(media_id: int):
    item = _item_or_404(media_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = item.filename
    library.delete_image(item)
    flash(_("The image “%(name)s” is deleted.", name=name), "ok")
    return redirect(url_for("admin.media_library"))
