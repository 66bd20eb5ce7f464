"""The issue composer: writing an issue in every language with a live preview of the sent
mail and live audience counts, and test sends of a saved variant.

Every change goes through ``campaigns`` (which refuses edits once sending started), and
previews go through the same rendering as delivery.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from .. import attachments, campaigns, delivery
from ..extensions import db
from ..i18n import language_name
from ..links import external_url
from ..mail.issue_mail import prepare_variant
from ..models import Issue, IssueVariant
from . import bp
from .issue_forms import (
    AttachmentForm,
    IssueForm,
    TestSendForm,
    check_variants,
    composer_form,
    form_audience_counts,
    save_issue,
    variant_forms,
)

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL

# Variants saved together are written a few milliseconds apart; only a later save counts.
STALE_MARGIN = timedelta(seconds=5)


def variant_markers(issue: Issue | None) -> dict[str, str | None]:
    """Per language: "missing", "stale" (older than the latest change to another
    language, so its translation may lag behind) or None."""
    languages = current_app.config["LANGUAGES"]
    variants = {v.language: v for v in issue.variants} if issue else {}
    latest = max((v.updated_at for v in variants.values()), default=None)
    markers: dict[str, str | None] = {}
    for code in languages:
        variant = variants.get(code)
        if variant is None:
            markers[code] = "missing"
        elif latest - variant.updated_at > STALE_MARGIN:
            markers[code] = "stale"
        else:
            markers[code] = None
    return markers


@dataclass(frozen=True)
class SentParts:
    html: str
    text: str
    empty: bool = False


def preview_parts(
    language: str, subject: str, preheader: str, body: str, issue_id: int | None
) -> SentParts:
    """The HTML and text parts exactly as a test send delivers them (no name, the test
    links), parsed back from the message. Unsaved text is rendered, never stored."""
    subject = " ".join(subject.split())[:200]
    if not subject or not body.strip():
        return SentParts("", "", empty=True)
    variant = IssueVariant(
        language=language, subject=subject, preheader=" ".join(preheader.split())[:200], body=body
    )
    view_url = external_url("public.view_issue", lang=language, issue_id=issue_id or 0)
    issue = db.session.get(Issue, issue_id) if issue_id and issue_id <= MAX_ID else None
    saved = issue.variant(language) if issue else None
    # The saved variant's download links show; attached files are not encoded for a preview.
    links = [a for a in saved.attachments if a.link_only] if saved else []
    message = delivery.preview_message(prepare_variant(None, variant, view_url, files=links))
    return SentParts(
        message.get_body(preferencelist=("html",)).get_content(),
        message.get_body(preferencelist=("plain",)).get_content(),
    )


def render_composer(form: IssueForm, issue: Issue | None, status: int = 200):
    languages = current_app.config["LANGUAGES"]
    active = request.args.get("lang")
    if active not in languages:
        active = issue.default_language if issue else form.default_language.data
    if active not in languages:
        active = current_app.config["DEFAULT_LANGUAGE"]
    test_form = TestSendForm()
    test_form.test_language.choices = [
        SelectChoice(v.language, language_name(v.language))
        for v in (issue.variants if issue else [])
    ]
    if issue is not None and request.method == "GET":
        test_form.test_address.data = current_user.email
        test_form.test_language.data = active
    return (
        render_template(
            "admin/issues/composer.html",
            form=form,
            issue=issue,
            variants=variant_forms(form),
            markers=variant_markers(issue),
            active=active,
            preview=preview_for_form(form, active, issue),
            counts=form_audience_counts(form),
            test_form=test_form,
            attachment_form=AttachmentForm(),
            attach_limit=attachments.attach_limit(),
            hosted_limit=attachments.hosted_limit(),
            attached_sizes=attachments.attached_bytes_by_language(issue) if issue else {},
        ),
        status,
    )


def preview_for_form(form: IssueForm, language: str, issue: Issue | None) -> SentParts:
    variant = variant_forms(form)[language]
    return preview_parts(
        language,
        variant.subject.data or "",
        variant.preheader.data or "",
        variant.body.data or "",
        issue.id if issue else None,
    )


def submit_composer(form: IssueForm, issue: Issue | None):
    """Validate and save; on success go to the saved issue, else show the form again."""
    if not (form.validate_on_submit() and check_variants(form)):
        return render_composer(form, issue, 400 if request.method == "POST" else 200)
    try:
        issue = save_issue(form, issue)
        db.session.commit()
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        if issue is not None:
            return redirect(url_for("admin.campaign", issue_id=issue.id))
        return render_composer(form, None, 400)
    flash(_("The issue is saved."), "ok")
    return redirect(url_for("admin.edit_issue", issue_id=issue.id))


@bp.route("/issues/new", methods=["GET", "POST"])
def new_issue():
    return submit_composer(composer_form(), None)


@bp.route("/issues/<int:issue_id>/edit", methods=["GET", "POST"])
def edit_issue(issue_id: int):
    issue = db.get_or_404(Issue, issue_id)
    if issue.status not in campaigns.EDITABLE and request.method == "GET":
        flash(_("This issue can no longer be changed: sending has started."), "error")
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    return submit_composer(composer_form(issue), issue)


@bp.post("/issues/preview")
def preview_issue():
    """The sent HTML and text of unsaved fields, for the composer's live preview (JSON)."""
    language = request.form.get("language", "")
    if language not in current_app.config["LANGUAGES"]:
        abort(400)
    issue_id = request.form.get("issue_id", "")
    parts = preview_parts(
        language,
        request.form.get("subject", "")[:1000],
        request.form.get("preheader", "")[:1000],
        request.form.get("body", ""),
        int(issue_id) if issue_id.isdigit() else None,
    )
    return jsonify(html=parts.html, text=parts.text, empty=parts.empty)


@bp.post("/issues/audience")
def issue_audience():
    """The audience counts for the composer's unsaved choices, as an HTML fragment."""
    form = composer_form()
    return render_template("admin/issues/_audience.html", counts=form_audience_counts(form))


@bp.post("/issues/<int:issue_id>/test")
def send_test_issue(issue_id: int):
    """One message of a saved variant to any address, synchronously."""
    issue = db.get_or_404(Issue, issue_id)
    form = TestSendForm()
    form.test_language.choices = [SelectChoice(v.language) for v in issue.variants]
    back = redirect(url_for("admin.edit_issue", issue_id=issue.id))
    if issue.status not in campaigns.EDITABLE:
        back = redirect(url_for("admin.campaign", issue_id=issue.id))
    if not form.validate_on_submit():
        flash(_("Enter an email address and choose a language that has a variant."), "error")
        return back
    address, language = form.test_address.data, form.test_language.data
    try:
        delivery.send_test(issue, language, address)
    except campaigns.CampaignError:
        flash(_("The issue has no variant in this language."), "error")
        return back
    except ValueError:  # InvalidEmail
        flash(_("“%(address)s” is not an address we can send to.", address=address), "error")
        return back
    except OSError as error:  # smtplib's errors and connection failures
        flash(_("The mail server did not accept the test: %(error)s", error=str(error)), "error")
        return back
    flash(
        _(
            "A test of the %(language)s variant went to %(address)s.",
            language=language_name(language),
            address=address,
        ),
        "ok",
    )
    return back
