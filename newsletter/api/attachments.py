"""``/api/v1/issues/{id}/variants/{lang}/attachments``: the files of one language variant.

Uploads are multipart/form-data (``file``, ``link_only``); ``attachments`` decides what is
accepted, as it does for the composer.
"""

from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from .. import attachments
from ..extensions import db
from ..models import Issue
from .auth import token_blueprint
from .errors import ApiError
from .issues import ID, LANGUAGE, check_language, run_campaign
from .schemas import AttachmentList, AttachmentSchema, AttachmentUpload


class UploadParser(FlaskParser):
    """webargs's parser, whose ``files`` location also reads the form fields sent with the
    files: one multipart body, one schema (and one request body in the OpenAPI document)."""

    def load_files(self, req, schema: Schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


bp = token_blueprint(
    "attachments",
    "Files sent with one language variant of an issue, attached or as a download link",
    url_prefix="/api/v1/issues",
    max_body=attachments.upload_limit,
)
bp.ARGUMENTS_PARSER = UploadParser()

ATTACHMENTS = f"/{ID}/variants/{LANGUAGE}/attachments"


def _refused(error: attachments.AttachmentError) -> ApiError:
    return ApiError(error.status, error.code, str(error))


@bp.route(ATTACHMENTS)
@bp.response(200, AttachmentList)
@bp.alt_response(404, response="NOT_FOUND")
def list_attachments(issue_id: int, language: str) -> dict:
    """The variant's files, in the order the message carries them."""
    issue = db.get_or_404(Issue, issue_id)
    check_language(language)
    variant = issue.variant(language)
    return {"items": variant.attachments if variant else []}


@bp.route(ATTACHMENTS, methods=["POST"])
@bp.arguments(AttachmentUpload, location="files")
@bp.response(201, AttachmentSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def add(data: dict, issue_id: int, language: str):
    """Add a file: attached to the message (all attached files of a message together at
    most `ATTACHMENT_MAX_BYTES`), or with `link_only` offered in it as a download link
    (at most `HOSTED_FILE_MAX_BYTES`). The type is read from the content."""
    issue = db.get_or_404(Issue, issue_id)
    check_language(language)
    upload = data["file"]
    try:
        attachment = run_campaign(
            attachments.add_attachment,
            issue,
            language,
            upload.filename or "",
            upload.read(),
            data["link_only"],
        )
    except attachments.AttachmentError as error:
        raise _refused(error) from None
    db.session.commit()
    return attachment


@bp.route(f"{ATTACHMENTS}/<int(max=2147483647):attachment_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def remove(issue_id: int, language: str, attachment_id: int) -> None:
    """Remove a file from the variant, before sending starts."""
    issue = db.get_or_404(Issue, issue_id)
    check_language(language)
    try:
        run_campaign(attachments.remove_attachment, issue, language, attachment_id)
    except attachments.AttachmentError as error:
        raise _refused(error) from None
    db.session.commit()
