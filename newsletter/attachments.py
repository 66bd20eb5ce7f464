"""Files sent with one language variant of an issue: attached to the mail, or offered in it
as a hosted download link ("link only") when they are too large to attach.

A file is accepted by what its bytes are (PDF, iCalendar, images, office documents),
never by its name: a renamed program is refused. Functions change the session; the caller
commits.
"""

import hashlib
import io
import os
import unicodedata
import zipfile

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from . import campaigns
from .extensions import db
from .i18n import file_size
from .models import Attachment, Issue, IssueVariant

MAX_FILENAME_LENGTH = 120

PDF = "application/pdf"
CALENDAR = "text/calendar"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"

# The extensions a file of each type may carry; the first is the one we give it otherwise.
EXTENSIONS = {
    PDF: (".pdf",),
    CALENDAR: (".ics",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    ODT: (".odt",),
    ODS: (".ods",),
    ODP: (".odp",),
    DOC: (".doc",),
    XLS: (".xls",),
    PPT: (".ppt",),
}

# An Office Open XML package names its main part; an OpenDocument names its type in the
# ``mimetype`` member stored first.
OOXML_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
ODF_TYPES = {ODT, ODS, ODP}
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Legacy Office files are OLE2 compound files, as Windows installers (.msi) are: the
# document's main stream, named in UTF-16 in the directory, tells them apart.
OLE2_STREAMS = {
    DOC: ("WordDocument",),
    XLS: ("Workbook", "Book"),
    PPT: ("PowerPoint Document",),
}


class AttachmentError(ValueError):
    """The file can't be stored as asked; the message says why, in the caller's language.

    ``code`` names the kind of refusal for machines (the API's error codes); ``status``
    is the HTTP status that answers it.
    """

    def __init__(self, message: str, code: str, status: int = 422):
        super().__init__(message)
        self.code = code
        self.status = status


def attach_limit() -> int:
    """Bytes of attached files one message (one variant) may carry."""
    return current_app.config["ATTACHMENT_MAX_BYTES"]


def hosted_limit() -> int:
    """Bytes of one file offered as a download link."""
    return current_app.config["HOSTED_FILE_MAX_BYTES"]


def upload_limit() -> int:
    """The largest request body an upload may have: a hosted file and the form around it."""
    return max(attach_limit(), hosted_limit()) + 64 * 1024


def _ole2_type(data: bytes) -> str | None:
    for content_type, streams in OLE2_STREAMS.items():
        if any(name.encode("utf-16-le") in data for name in streams):
            return content_type
    return None


def _zip_type(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                return declared if declared in ODF_TYPES else None
            if "[Content_Types].xml" in names:
                return next((kind for part, kind in OOXML_PARTS.items() if part in names), None)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError):
        return None
    return None


def detect_type(data: bytes) -> str | None:
    """The content type the bytes are, among the accepted ones; None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR":
        return CALENDAR
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if data.startswith(OLE2_HEADER):
        return _ole2_type(data)
    return None


def safe_filename(name: str, content_type: str) -> str:
    """The name a file is stored and sent under: its last path part, without control
    characters or characters mail clients and file systems treat specially, NFC, at most
    ``MAX_FILENAME_LENGTH`` characters, and ending in an extension of its real type."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in name)
    name = "".join("_" if ch in '<>:"|?*;%' else ch for ch in name)
    name = " ".join(name.split()).strip(" .")
    stem, extension = os.path.splitext(name)
    allowed = EXTENSIONS[content_type]
    if extension.lower() not in allowed:
        stem, extension = name, allowed[0]
    stem = stem.strip(" .")[: MAX_FILENAME_LENGTH - len(extension)].rstrip(" .")
    return (stem or _("attachment")) + extension.lower()


def attached_bytes(variant: IssueVariant) -> int:
    """The bytes of the files attached (not linked) to a variant's message."""
    query = select(func.coalesce(func.sum(Attachment.size), 0)).where(
        Attachment.variant_id == variant.id, Attachment.link_only.is_(False)
    )
    return db.session.execute(query).scalar_one()


def attached_bytes_by_language(issue: Issue) -> dict[str, int]:
    """For each language of the configuration: the bytes already attached to its message."""
    sizes = dict.fromkeys(current_app.config["LANGUAGES"], 0)
    for variant in issue.variants:
        sizes[variant.language] = sum(a.size for a in variant.attachments if not a.link_only)
    return sizes


def _variant(issue: Issue, language: str) -> IssueVariant:
    campaigns.check_editable(issue)
    variant = issue.variant(language)
    if variant is None:
        message = _("Save this language’s subject and body before adding files.")
        raise AttachmentError(message, "variant_not_found", 404)
    return variant


def _check_size(variant: IssueVariant, size: int, link_only: bool) -> None:
    if link_only:
        if size > hosted_limit():
            limit = file_size(hosted_limit())
            raise AttachmentError(
                _("A file offered as a link can be at most %(max)s.", max=limit),
                "file_too_large",
                413,
            )
        return
    if attached_bytes(variant) + size > attach_limit():
        raise AttachmentError(
            _(
                "Files attached to one message can be at most %(max)s in all. "
                "Send this one as a link instead.",
                max=file_size(attach_limit()),
            ),
            "attachments_too_large",
            413,
        )


def add_attachment(
    issue: Issue, language: str, filename: str, data: bytes, link_only: bool = False
) -> Attachment:
    """Store a file for the issue's variant in ``language``, or refuse it (nothing stored)."""
    variant = _variant(issue, language)
    if not data:
        raise AttachmentError(_("The file is empty."), "empty_file")
    content_type = detect_type(data)
    if content_type is None:
        raise AttachmentError(
            _(
                "This file type is not accepted. Attach a PDF, a calendar (.ics), "
                "an image (JPEG, PNG, GIF, WebP) or an office document."
            ),
            "unsupported_file_type",
            415,
        )
    _check_size(variant, len(data), link_only)
    position = max((a.position for a in variant.attachments), default=-1) + 1
    attachment = Attachment(
        filename=safe_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        link_only=link_only,
        position=position,
    )
    variant.attachments.append(attachment)
    return attachment


def remove_attachment(issue: Issue, language: str, attachment_id: int) -> None:
    """Delete one of the variant's files."""
    variant = _variant(issue, language)
    attachment = next((a for a in variant.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise AttachmentError(_("This file is not attached to the issue."), "not_found", 404)
    variant.attachments.remove(attachment)


def hosted_file(token: str, filename: str) -> Attachment | None:
    """The file behind a download link, if the link is one we made."""
    attachment = db.session.execute(
        select(Attachment).where(Attachment.token == token)
    ).scalar_one_or_none()
    if attachment is None or attachment.filename != filename:
        return None
    return attachment
