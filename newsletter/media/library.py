"""Adding, describing, listing and deleting images of the media library.

The admin pages, the composer's JSON endpoints and the API all call these functions; the
bytes are stored in the database (``MediaFile.data``) so that every web process serves the
same files. The README says how to move them to object storage.
"""

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..links import external_url
from ..models import MediaFile, User
from .images import ImageRefused, clean_image, safe_filename

MAX_ALT_TEXT = 300
MAX_LISTED = 500

MESSAGES = {
    "no_file": _l("Please choose an image to upload."),
    "empty": _l("The file is empty."),
    "too_large": _l("The file is larger than %(size)s MB. Please upload a smaller image."),
    "svg": _l(
        "SVG drawings are not accepted, because they can contain scripts. "
        "Please upload a JPEG, PNG, GIF or WebP image."
    ),
    "not_an_image": _l(
        "This file is not an image we accept. Please upload a JPEG, PNG, GIF or WebP image."
    ),
    "damaged": _l("This image is damaged or incomplete and can’t be read."),
    "too_many_pixels": _l(
        "This image has too many pixels (at most %(megapixels)s million). "
        "Please make it smaller and upload it again."
    ),
    "animated": _l(
        "Animated images are not accepted: many mail programs show only their first frame. "
        "Please upload a still image."
    ),
    "alt_too_long": _l("An alt text may have at most %(max)s characters."),
    "alt_control": _l("An alt text must fit on one line, without control characters."),
}


class MediaRefused(Exception):
    """An upload or a change refused; ``status`` for HTTP, ``message`` in the UI language."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.status = 413 if code == "too_large" else 400

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code]) % {
            "size": max_bytes() // (1024 * 1024),
            "megapixels": current_app.config["MEDIA_MAX_PIXELS"] // 1_000_000,
            "max": MAX_ALT_TEXT,
        }


def max_bytes() -> int:
    return current_app.config["MEDIA_MAX_BYTES"]


def clean_alt_text(values: dict[str, str]) -> dict[str, str]:
    """The alt texts of the configured languages, trimmed; empty ones left out."""
    cleaned = {}
    for code in current_app.config["LANGUAGES"]:
        text = str(values.get(code) or "").strip()
        if not text:
            continue
        if any(not char.isprintable() for char in text):
            raise MediaRefused("alt_control")
        if len(text) > MAX_ALT_TEXT:
            raise MediaRefused("alt_too_long")
        cleaned[code] = text
    return cleaned


def add_image(
    data: bytes | None,
    filename: str | None,
    created_by: User | None = None,
    alt_text: dict[str, str] | None = None,
) -> MediaFile:
    """Store an upload re-encoded (``images.clean_image``); nothing is stored on refusal."""
    if data is None:
        raise MediaRefused("no_file")
    alt = clean_alt_text(alt_text or {})
    try:
        image = clean_image(data, max_bytes(), current_app.config["MEDIA_MAX_PIXELS"])
    except ImageRefused as error:
        raise MediaRefused(error.code) from error
    item = MediaFile(
        filename=safe_filename(filename, image.format),
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size=len(image.data),
        sha256=image.sha256,
        data=image.data,
        alt_text=alt,
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(item)
    db.session.commit()
    return item


def set_alt_text(item: MediaFile, values: dict[str, str]) -> None:
    item.alt_text = clean_alt_text(values)  # a new dict: the JSON column sees the change
    db.session.commit()


def delete_image(item: MediaFile) -> None:
    """Remove the image; mails already sent still point at its address, which now 404s."""
    db.session.delete(item)
    db.session.commit()


def newest_first(limit: int = MAX_LISTED) -> list[MediaFile]:
    query = db.select(MediaFile).order_by(MediaFile.created_at.desc(), MediaFile.id.desc())
    return list(db.session.execute(query.limit(limit)).scalars())


def find(media_id: int, filename: str | None = None) -> MediaFile | None:
    """The image with this id (and, for its public address, this file name)."""
    item = db.session.get(MediaFile, media_id)
    if item is None or (filename is not None and item.filename != filename):
        return None
    return item


def public_url(item: MediaFile) -> str:
    """The absolute address mail clients fetch the image from (no login)."""
    return external_url("public.media_file", media_id=item.id, filename=item.filename)


def describe(item: MediaFile) -> dict:
    """What the composer and the API know of an image."""
    return {
        "id": item.id,
        "url": public_url(item),
        "width": item.width,
        "height": item.height,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": item.size,
        "alt": dict(item.alt_text or {}),
        "created_at": item.created_at.isoformat(timespec="seconds") + "Z",
    }
