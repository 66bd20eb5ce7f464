"""The review of each language's text in the editors' UI: ready for review, approve, mark a
translation up to date with its source, what changed in the source, and the choice to send
a language the fallback instead. ``translation_status`` decides; refusals become messages."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import translation_status
from ..campaigns import CampaignError, is_editable
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import language_name
from ..models import Issue
from . import bp
from .composer import FIELD_LABELS

BASE = "/issues/<int:issue_id>/languages/<lang>"


def issue_and_language(issue_id: int, lang: str) -> Issue:
    issue = db.get_or_404(Issue, issue_id)
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    return issue


def act(issue_id: int, lang: str, change, done: str, back: str = "admin.edit_issue"):
    """Run ``change(issue)`` on a POST with a valid CSRF token, commit, and go back to the
    composer or the review page."""
    issue = issue_and_language(issue_id, lang)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        change(issue)
        db.session.commit()
    except CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(done % {"language": language_name(lang)}, "ok")
    if request.form.get("back") == "review":
        back = "admin.confirm_send"
    # Not ?lang=: that also switches the language of the page itself.
    return redirect(url_for(back, issue_id=issue_id))


@bp.post(f"{BASE}/ready")
def translation_ready(issue_id: int, lang: str):
    return act(
        issue_id,
        lang,
        lambda issue: translation_status.request_review(issue, lang),
        _("%(language)s: the text is ready for review."),
    )


@bp.post(f"{BASE}/approve")
def translation_approve(issue_id: int, lang: str):
    return act(
        issue_id,
        lang,
        lambda issue: translation_status.approve(issue, lang, current_user),
        _("%(language)s: the text is approved."),
    )


@bp.post(f"{BASE}/up-to-date")
def translation_up_to_date(issue_id: int, lang: str):
    return act(
        issue_id,
        lang,
        lambda issue: translation_status.mark_up_to_date(issue, lang),
        _("%(language)s: the translation is marked up to date with the source."),
    )


@bp.post(f"{BASE}/fallback")
def translation_fallback(issue_id: int, lang: str):
    return act(
        issue_id,
        lang,
        lambda issue: translation_status.choose_fallback(issue, lang, current_user),
        _("%(language)s: readers will get the fallback instead of their translation."),
        "admin.confirm_send",
    )


@bp.post(f"{BASE}/own-text")
def translation_own_text(issue_id: int, lang: str):
    return act(
        issue_id,
        lang,
        lambda issue: translation_status.revoke_fallback(issue, lang),
        _("%(language)s: readers will get their own translation again."),
        "admin.confirm_send",
    )


@bp.get(f"{BASE}/source-changes")
def translation_source_changes(issue_id: int, lang: str):
    """What changed in the source since the version this translation follows."""
    issue = issue_and_language(issue_id, lang)
    try:
        changes = translation_status.source_changes(issue, lang)
    except CampaignError:
        abort(404)
    return render_template(
        "admin/issues/source_changes.html",
        issue=issue,
        language=lang,
        changes=changes,
        diffs=[(str(label), changes.diffs[name]) for name, label in FIELD_LABELS],
        stale=translation_status.is_stale(issue, issue.variant(lang)),
        editable=is_editable(issue),
        action_form=ActionForm(),
    )
