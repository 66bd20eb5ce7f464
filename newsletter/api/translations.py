"""``/api/v1/issues/{id}/translations`` and the states of each language's text: ready for
review, approve, mark up to date with the source, what changed in the source, and the
choice to send a language the fallback instead. ``translation_status`` decides."""

from .. import translation_status
from ..extensions import db
from ..models import Issue, User
from .auth import current_token, token_blueprint
from .issues import ID, LANGUAGE, check_language, run_campaign
from .schemas import SourceChangesSchema, TranslationsSchema, VariantSchema

bp = token_blueprint(
    "translations",
    "The review state of each language of an issue, and what changed in its source",
    url_prefix="/api/v1/issues",
)
VARIANT = f"/{ID}/variants/{LANGUAGE}"


def token_user() -> User | None:
    """Whoever created the token acts through it (None once that account is deleted)."""
    token = current_token()
    return db.session.get(User, token.created_by_id) if token.created_by_id else None


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
