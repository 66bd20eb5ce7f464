"""The saved versions of one variant: who saved each and when, its text, and restoring an
earlier one (which saves it as the newest version)."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import campaigns, variant_versions
from ..extensions import db
from ..form_fields import ActionForm
from ..models import Issue, IssueVariant
from ..word_diff import word_diff
from . import bp
from .composer import FIELD_LABELS

BASE = "/issues/<int:issue_id>/variants/<lang>/versions"


def variant_or_404(issue_id: int, lang: str) -> tuple[Issue, IssueVariant]:
    issue = db.get_or_404(Issue, issue_id)
    variant = issue.variant(lang) if lang in current_app.config["LANGUAGES"] else None
    if variant is None:
        abort(404)
    return issue, variant


@bp.get(BASE)
def variant_versions_list(issue_id: int, lang: str):
    issue, variant = variant_or_404(issue_id, lang)
    return render_template(
        "admin/issues/versions.html",
        issue=issue,
        variant=variant,
        revisions=variant_versions.revisions(variant),
        editable=campaigns.is_editable(issue),
        action_form=ActionForm(),
    )


@bp.get(f"{BASE}/<int:version>")
def variant_version(issue_id: int, lang: str, version: int):
    issue, variant = variant_or_404(issue_id, lang)
    revision = variant_versions.revision(variant, version)
    if revision is None:
        abort(404)
    changes = [
        (str(label), word_diff(getattr(revision, name), getattr(variant, name)))
        for name, label in FIELD_LABELS
        if getattr(revision, name) != getattr(variant, name)
    ]
    return render_template(
        "admin/issues/version.html",
        issue=issue,
        variant=variant,
        revision=revision,
        changes=changes,
        editable=campaigns.is_editable(issue),
        action_form=ActionForm(),
    )


@bp.post(f"{BASE}/<int:version>/restore")
def restore_variant_version(issue_id: int, lang: str, version: int):
    issue, variant = variant_or_404(issue_id, lang)
    if not ActionForm().validate_on_submit():
        abort(400)
    before = variant.version
    try:
        restored = variant_versions.restore(issue, lang, version, current_user)
        db.session.commit()
    except LookupError:
        abort(404)
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.variant_versions_list", issue_id=issue.id, lang=lang))
    if restored.version == before:
        message = _(
            "Version %(old)d has the text of the current version: nothing changed.", old=version
        )
        flash(message, "ok")
        return redirect(url_for("admin.variant_versions_list", issue_id=issue.id, lang=lang))
    flash(
        _(
            "Version %(old)d is restored as version %(new)d.",
            old=version,
            new=restored.version,
        ),
        "ok",
    )
    return redirect(url_for("admin.edit_issue", issue_id=issue.id, lang=lang))
