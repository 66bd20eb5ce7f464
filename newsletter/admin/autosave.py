"""Autosave of the composer: the page posts the whole form a few seconds after the editor
stops typing (static/autosave.js) and gets the new versions back as JSON.

A new issue is created as a draft by its first autosave that has a name and a list; the
page then takes the draft's edit address. Only drafts are saved automatically: a scheduled
issue changes when its editor presses "Save".
"""

from flask import jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .. import campaigns, variant_versions
from ..extensions import db
from ..models import Issue, IssueStatus, utcnow
from . import bp
from .issue_forms import check_variants, composer_form, save_issue, variant_drafts
from .presentation import shown_clock, translation_state_label


def refused(status: int, message: str, stop: bool = False):
    """``stop``: the page stops autosaving (another save or the issue's state is in the way)."""
    return jsonify(error=message, stop=stop), status


def someone_saved_meanwhile():
    return refused(
        409,
        _(
            "Not saved: someone else saved this issue in the meantime, so autosave has"
            " stopped. Press “Save” to compare your text with theirs."
        ),
        stop=True,
    )


@bp.post("/issues/autosave")
def autosave_new_issue():
    return autosave(None)


@bp.post("/issues/<int:issue_id>/autosave")
def autosave_issue(issue_id: int):
    return autosave(db.get_or_404(Issue, issue_id))


def autosave(issue: Issue | None):
    if issue is not None and issue.status != IssueStatus.DRAFT:
        return refused(
            409, _("Only drafts are saved automatically: press “Save” to change it."), True
        )
    form = composer_form(issue)
    # A missing or expired CSRF token is refused before this view runs (an HTML 400 page,
    # which autosave.js reads as "the page has expired").
    if not form.validate_on_submit() or not check_variants(form):
        return refused(
            422,
            _(
                "Not saved yet: the issue needs a name, a list, and a subject and a body in"
                " each language you write."
            ),
        )
    drafts = variant_drafts(form)
    if variant_versions.conflicts(issue, drafts):
        return someone_saved_meanwhile()
    try:
        saved = save_issue(form, issue, current_user)
        db.session.commit()
    except (campaigns.VersionConflict, IntegrityError):
        db.session.rollback()
        return someone_saved_meanwhile()
    except campaigns.CampaignError as error:
        db.session.rollback()
        return refused(409, str(error), True)
    # A language kept as someone else saved it stays on the page's old version, so that
    # the next save from this page still leaves it alone.
    versions = {
        code: draft.base_version
        if code in saved.kept
        else variant_versions.current_version(saved.issue.variant(code))
        for code, draft in drafts.items()
    }
    return jsonify(
        saved_at=_("Saved at %(time)s", time=shown_clock(utcnow())),
        versions=versions,
        # A changed text is a draft again: the tabs show each language's state as saved.
        states={
            variant.language: translation_state_label(variant.state)
            for variant in saved.issue.variants
        },
        issue_id=saved.issue.id,
        edit_url=url_for("admin.edit_issue", issue_id=saved.issue.id),
        autosave_url=url_for("admin.autosave_issue", issue_id=saved.issue.id),
    )
