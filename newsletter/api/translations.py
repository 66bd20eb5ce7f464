"""``/api/v1/issues/{id}/translations`` and the states of each language's text: ready for
review, approve, mark up to date with the source, what changed in the source, and the
choice to send a language the fallback instead. ``translation_status`` decides."""

from flask import Response
from flask_babel import gettext as _
from flask_smorest.fields import Upload
from marshmallow import Schema

from .. import translation_status, xliff
from ..extensions import db
from ..models import Issue
from .auth import token_blueprint, token_user
from .errors import ApiError
from .issues import ID, LANGUAGE, check_language, run_campaign
from .schemas import SourceChangesSchema, TranslationsSchema, VariantSchema

bp = token_blueprint(
    "translations",
    "The review state of each language of an issue, and what changed in its source",
    url_prefix="/api/v1/issues",
)
VARIANT = f"/{ID}/variants/{LANGUAGE}"


def _issue(issue_id: int, language: str | None = None) -> Issue:
    issue = db.get_or_404(Issue, issue_id)
    if language is not None:
        check_language(language)
    return issue


def _changed(issue: Issue, change, *args):
    result = run_campaign(change, issue, *args)
    db.session.commit()
    return result


@bp.route(f"/{ID}/translations")
@bp.response(200, TranslationsSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read_translations(issue_id: int) -> dict:
    """Whether the issue may be sent: the languages not ready, the fallback choices, and
    what each audience language would receive now, with its number of readers."""
    issue = _issue(issue_id)
    return {
        "require_approval": translation_status.approval_required(),
        "not_ready": translation_status.unready_languages(issue),
        "fallback_choices": issue.fallback_choices,
        "plan": translation_status.send_plan(issue),
    }


@bp.route(f"{VARIANT}/ready", methods=["POST"])
@bp.response(200, VariantSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def ready_for_review(issue_id: int, language: str):
    """Mark the text in one language ready for review."""
    return _changed(_issue(issue_id, language), translation_status.request_review, language)


@bp.route(f"{VARIANT}/approve", methods=["POST"])
@bp.response(200, VariantSchema)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def approve(issue_id: int, language: str):
    """Approve the text in one language as it is now (editors and admins). A stale
    translation must be marked up to date first; any later change returns it to draft."""
    return _changed(_issue(issue_id, language), translation_status.approve, language, token_user())


@bp.route(f"{VARIANT}/up-to-date", methods=["POST"])
@bp.response(200, VariantSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def mark_up_to_date(issue_id: int, language: str):
    """Record that the translation covers the source's current version."""
    return _changed(_issue(issue_id, language), translation_status.mark_up_to_date, language)


@bp.route(f"{VARIANT}/source-changes")
@bp.response(200, SourceChangesSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def source_changes(issue_id: int, language: str) -> dict:
    """What changed in the source (subject, preheader, body) since the version this
    translation follows, as HTML with removed words in `<del>` and added ones in `<ins>`."""
    issue = _issue(issue_id, language)
    changes = run_campaign(translation_status.source_changes, issue, language)
    return {
        "language": changes.language,
        "from_version": changes.from_version,
        "to_version": changes.to_version,
        **{name: str(diff) for name, diff in changes.diffs.items()},
    }


@bp.route(f"/{ID}/fallbacks/{LANGUAGE}", methods=["PUT"])
@bp.response(200, TranslationsSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def choose_fallback(issue_id: int, language: str) -> dict:
    """Send this language the issue's fallback instead of its own translation."""
    _changed(_issue(issue_id, language), translation_status.choose_fallback, language, token_user())
    return read_translations(issue_id)


@bp.route(f"/{ID}/fallbacks/{LANGUAGE}", methods=["DELETE"])
@bp.response(200, TranslationsSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def revoke_fallback(issue_id: int, language: str) -> dict:
    """Send this language its own translation again."""
    _changed(_issue(issue_id, language), translation_status.revoke_fallback, language)
    return read_translations(issue_id)


class XliffUpload(Schema):
    file = Upload(
        required=True,
        metadata={"description": "The translated XLIFF 2.0 file (512 KB at most)"},
    )


XLIFF_FILE = {"content": {"application/xliff+xml": {"schema": {"type": "string"}}}}


@bp.route(f"/{ID}/xliff/{LANGUAGE}")
@bp.doc(responses={"200": {"description": "The XLIFF 2.0 file", **XLIFF_FILE}})
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def export_xliff(issue_id: int, language: str):
    """The XLIFF 2.0 file for translating the issue into one language: a unit for the
    subject, the preheader and each paragraph of the source, the current translation as
    target when it is up to date."""
    issue = _issue(issue_id, language)
    data = run_campaign(xliff.export, issue, language)
    name = xliff.file_name(issue, language)
    return Response(
        data,
        mimetype="application/xliff+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route(f"/{ID}/xliff/{LANGUAGE}", methods=["PUT"])
@bp.arguments(XliffUpload, location="files")
@bp.response(200, VariantSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def import_xliff(files: dict, issue_id: int, language: str):
    """Bring a translated XLIFF file back (multipart field `file`): the language's text
    becomes its targets, up to date with the source. A file of another issue, language or
    source version, or with segments missing or untranslated, is refused (422
    `xliff_refused`, every reason in `fields.file`) and nothing changes."""
    issue = _issue(issue_id, language)
    try:
        variant = run_campaign(xliff.import_, issue, language, files["file"].read(), token_user())
    except xliff.XliffRefused as refused:
        db.session.rollback()
        raise ApiError(
            422, "xliff_refused", _("The file was not imported."), {"file": refused.problems}
        ) from None
    db.session.commit()
    return variant
