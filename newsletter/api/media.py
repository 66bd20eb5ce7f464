"""``/api/v1/media``: the media library's images, uploaded as multipart forms."""

from flask import abort
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..media import library
from ..media.library import MAX_ALT_TEXT, MediaRefused
from ..models import MediaFile
from .auth import token_blueprint
from .errors import ApiError, error_response
from .pagination import cursor_page
from .schemas import Page, PageArgs, Text

bp = token_blueprint(
    "media", "Media library: images for issues", max_body=lambda: library.max_bytes() + 64 * 1024
)
ID = "<int(max=2147483647):media_id>"


class MediaSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(
        required=True, metadata={"description": "The public address mails show it from"}
    )
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True, metadata={"description": "Pixels; at most 1200 wide"})
    size = fields.Integer(required=True, metadata={"description": "Bytes, as stored"})
    alt = fields.Dict(
        keys=Text(),
        values=Text(),
        required=True,
        metadata={"description": "Alt text by language code"},
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class MediaPage(Page):
    items = fields.List(fields.Nested(MediaSchema), required=True)


class MediaUpload(Schema):
    file = Upload(
        required=True,
        metadata={"description": "A JPEG, PNG, GIF or WebP image (MEDIA_MAX_BYTES at most)"},
    )


class MediaUpdate(Schema):
    alt = fields.Dict(
        keys=Text(validate=validate.Length(max=8)),
        values=Text(validate=validate.Length(max=MAX_ALT_TEXT)),
        required=True,
        metadata={"description": "Alt text by language code; the whole set is replaced"},
    )


def _refusal(error: MediaRefused) -> ApiError:
    code = "payload_too_large" if error.code == "too_large" else error.code
    return ApiError(error.status, code, error.message)


@bp.errorhandler(413)
def too_large(_error):
    error = MediaRefused("too_large")
    return error_response(error.status, "payload_too_large", error.message)


def _item(media_id: int) -> MediaFile:
    item = library.find(media_id)
    if item is None:
        abort(404)
    return item


@bp.route("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, MediaPage)
def list_media(args: dict) -> dict:
    """The library's images by id."""
    page = cursor_page(db.select(MediaFile), MediaFile.id, args["cursor"], args["limit"])
    return {**page, "items": [library.describe(item) for item in page["items"]]}


@bp.route("", methods=["POST"])
@bp.arguments(MediaUpload, location="files")
@bp.response(201, MediaSchema)
@bp.alt_response(400, response="BAD_REQUEST")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
def upload(files: dict) -> dict:
    """Add an image: it is re-encoded without metadata (EXIF, GPS) and made at most 1200 px
    wide. Refused (400, 413) with a `code` such as `not_an_image`, `svg`, `damaged`,
    `too_many_pixels`, `animated`, `empty` or `too_large`."""
    upload = files["file"]
    try:
        item = library.add_image(upload.read(), upload.filename)
    except MediaRefused as error:
        raise _refusal(error) from error
    return library.describe(item)


@bp.route(f"/{ID}")
@bp.response(200, MediaSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read(media_id: int) -> dict:
    """One image."""
    return library.describe(_item(media_id))


@bp.route(f"/{ID}", methods=["PATCH"])
@bp.arguments(MediaUpdate)
@bp.response(200, MediaSchema)
@bp.alt_response(404, response="NOT_FOUND")
def update(data: dict, media_id: int) -> dict:
    """Replace an image's alt texts (languages not configured are dropped)."""
    item = _item(media_id)
    try:
        library.set_alt_text(item, data["alt"])
    except MediaRefused as error:
        raise _refusal(error) from error
    return library.describe(item)


@bp.route(f"/{ID}", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete(media_id: int) -> None:
    """Delete an image; mails that show it will show a broken image."""
    library.delete_image(_item(media_id))
