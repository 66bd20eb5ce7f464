"""The issue composer: writing an issue in every language with a live preview of the sent
mail and live audience counts, and test sends of a saved variant.

Every change goes through ``campaigns`` (which refuses edits once sending started), and
previews go through the same rendering as delivery.
"""

from dataclasses import dataclass, replace

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from .. import (
    attachments,
    campaigns,
    delivery,
    translation_status,
    translators,
    variant_versions,
    xliff,
)
from ..extensions import db
from ..form_fields import ActionForm, small_number
from ..i18n import language_name
from ..links import external_url
from ..mail.checks import Finding, check_variant
from ..mail.issue_mail import prepare_variant
from ..models import Issue, IssueStatus, IssueVariant, Layout
from ..word_diff import word_diff
from . import bp
from .blocks import all_blocks
from .issue_forms import (
    AttachmentForm,
    IssueForm,
    TestSendForm,
    XliffForm,
    check_variants,
    composer_form,
    form_audience_counts,
    save_issue,
    variant_drafts,
    variant_forms,
)
from .presentation import shown_time


def variant_markers(issue: Issue | None) -> dict[str, str | None]:
    """Per language: "missing", "stale" (its source changed since the translation was
    last brought up to date) or None."""
    markers: dict[str, str | None] = {}
    for code in current_app.config["LANGUAGES"]:
        variant = issue.variant(code) if issue else None
        if variant is None:
            markers[code] = "missing"
        elif translation_status.is_stale(issue, variant):
            markers[code] = "stale"
        else:
            markers[code] = None
    return markers


@dataclass(frozen=True)
class SentParts:
    html: str
    text: str
    empty: bool = False
    findings: tuple[Finding, ...] = ()


def preview_parts(
    language: str,
    subject: str,
    preheader: str,
    body: str,
    issue_id: int | None,
    layout: Layout | None = None,
) -> SentParts:
    """The HTML and text parts exactly as a test send delivers them (no name, the test
    links), parsed back from the message, in ``layout`` (else the default).
    Unsaved text is rendered, never stored."""
    subject = " ".join(subject.split())[:200]
    if not subject or not body.strip():
        return SentParts("", "", empty=True)
    variant = IssueVariant(
        language=language, subject=subject, preheader=" ".join(preheader.split())[:200], body=body
    )
    view_url = external_url("public.view_issue", lang=language, issue_id=issue_id or 0)
    issue = db.session.get(Issue, issue_id) if issue_id else None
    saved = issue.variant(language) if issue else None
    # The saved variant's download links show; attached files are not encoded for a preview.
    links = [a for a in saved.attachments if a.link_only] if saved else []
    message = delivery.preview_message(
        prepare_variant(None, variant, view_url, layout, files=links)
    )
    return SentParts(
        message.get_body(preferencelist=("html",)).get_content(),
        message.get_body(preferencelist=("plain",)).get_content(),
    )


def checked_preview(
    language: str,
    subject: str,
    preheader: str,
    body: str,
    issue_id: int | None,
    layout_id: int | None = None,
) -> SentParts:
    """The preview, with the checks before send of that mail and of its fields."""
    layout = db.session.get(Layout, layout_id) if layout_id else None
    parts = preview_parts(language, subject, preheader, body, issue_id, layout)
    findings = check_variant(language, subject, preheader, body, parts.html, layout)
    return replace(parts, findings=tuple(findings))


def issue_findings(issue: Issue, languages) -> dict[str, tuple[Finding, ...]]:
    """The checks of each saved variant in ``languages``, as its mail would be sent."""
    findings = {}
    for code in languages:
        variant = issue.variant(code)
        if variant is not None:
            findings[code] = checked_preview(
                code,
                variant.subject,
                variant.preheader or "",
                variant.body,
                issue.id,
                issue.layout_id,
            ).findings
    return findings


@dataclass(frozen=True)
class ConflictView:
    """What the composer shows for a language saved meanwhile by someone else."""

    language: str
    saved_version: int
    saved_by: str
    saved_at: str
    removed: bool
    diffs: list[tuple[str, Markup]]


FIELD_LABELS = (("subject", _l("Subject")), ("preheader", _l("Preheader")), ("body", _l("Body")))


def conflict_view(conflict: variant_versions.Conflict) -> ConflictView:
    saved = conflict.saved
    theirs = dict(zip(("subject", "preheader", "body"), campaigns.stored_text(saved), strict=True))
    mine = dict(zip(("subject", "preheader", "body"), conflict.draft.text, strict=True))
    author = saved.saved_by if saved is not None else None
    return ConflictView(
        language=conflict.language,
        saved_version=conflict.saved_version,
        saved_by=(author.name or author.email) if author else _("someone else"),
        saved_at=shown_time(saved.saved_at) if saved else "",
        removed=saved is None,
        diffs=[
            (str(label), word_diff(theirs[name], mine[name]))
            for name, label in FIELD_LABELS
            if theirs[name] != mine[name]
        ],
    )


def render_composer(
    form: IssueForm,
    issue: Issue | None,
    status: int = 200,
    conflicts: list[variant_versions.Conflict] | None = None,
):
    languages = current_app.config["LANGUAGES"]
    # ?tab= opens a language's panel (?lang= would also switch the page's own language).
    active = request.args.get("tab") or request.args.get("lang")
    writable = translators.writable_languages(current_user)
    if active not in languages and current_user.is_translator and writable:
        active = writable[0]
    if conflicts:
        active = conflicts[0].language
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
    saved_blocks = all_blocks()
    beside = beside_variant(issue)
    return (
        render_template(
            "admin/issues/composer.html",
            form=form,
            issue=issue,
            variants=variant_forms(form),
            markers=variant_markers(issue),
            statuses=translation_status.statuses(issue) if issue else {},
            may_approve=translation_status.may_approve(current_user),
            active=active,
            preview=preview_for_form(form, active, issue),
            counts=form_audience_counts(form),
            test_form=test_form,
            saved_blocks=saved_blocks,
            saved_blocks_data=[{"id": b.id, "body": b.body} for b in saved_blocks],
            conflicts=[conflict_view(conflict) for conflict in conflicts or []],
            autosaves=issue is None or issue.status == IssueStatus.DRAFT,
            action_form=ActionForm(),
            attachment_form=AttachmentForm(),
            xliff_form=XliffForm(),
            # The saved source (or the language picked to read beside), shown beside each
            # other language in the XLIFF file's segments, with its mail.
            source=translation_status.source_variant(issue) if issue else None,
            beside=beside,
            beside_paragraphs=xliff.paragraphs(beside.body) if beside else [],
            beside_preview=saved_preview(issue, beside) if beside else None,
            # A translator writes only their languages and changes nothing else.
            writable=writable,
            writable_names=", ".join(language_name(code) for code in writable),
            locked=current_user.is_translator,
            attach_limit=attachments.attach_limit(),
            hosted_limit=attachments.hosted_limit(),
            attached_sizes=attachments.attached_bytes_by_language(issue) if issue else {},
        ),
        status,
    )


def beside_variant(issue: Issue | None) -> IssueVariant | None:
    """The saved text shown beside the others: the language in ``?beside=``, else the source."""
    if issue is None:
        return None
    picked = request.args.get("beside")
    chosen = issue.variant(picked) if isinstance(picked, str) else None
    return chosen or translation_status.source_variant(issue)


def saved_preview(issue: Issue, variant: IssueVariant) -> SentParts:
    return preview_parts(
        variant.language,
        variant.subject,
        variant.preheader or "",
        variant.body,
        issue.id,
        issue.layout,
    )


def preview_for_form(form: IssueForm, language: str, issue: Issue | None) -> SentParts:
    variant = variant_forms(form)[language]
    return checked_preview(
        language,
        variant.subject.data or "",
        variant.preheader.data or "",
        variant.body.data or "",
        issue.id if issue else None,
        form.layout.data,
    )


def take_saved_text(form: IssueForm, issue: Issue, language: str):
    """ "Take their text": the saved text replaces the editor's in one language, nothing is
    saved, and the other languages keep what the editor typed."""
    fields = variant_forms(form).get(language)
    if fields is None:
        abort(400)
    variant = issue.variant(language)
    fields.subject.data, fields.preheader.data, fields.body.data = campaigns.stored_text(variant)
    fields.version.data = str(variant_versions.current_version(variant))
    flash(_("The saved text is in the form now. Nothing is saved yet."), "ok")
    return render_composer(
        form, issue, 200, variant_versions.conflicts(issue, variant_drafts(form))
    )


def keep_own_text(form: IssueForm) -> None:
    """ "Keep my text": the version the editor has now seen becomes the base of the save."""
    language, _sep, version = request.form.get("keep_own", "").partition(":")
    fields = variant_forms(form).get(language)
    if fields is not None and small_number(version) is not None:
        fields.version.data = version


def submit_composer(form: IssueForm, issue: Issue | None):
    """Validate and save; on success go to the saved issue, else show the form again.

    A language someone else saved after this form loaded it, and that the form changed
    too, refuses the whole save (409): the composer shows both texts and a choice."""
    if issue is not None and request.method == "POST":
        if "take_saved" in request.form:
            return take_saved_text(form, issue, request.form["take_saved"])
        keep_own_text(form)
    if not (form.validate_on_submit() and check_variants(form)):
        return render_composer(form, issue, 400 if request.method == "POST" else 200)
    drafts = variant_drafts(form)
    found = variant_versions.conflicts(issue, drafts)
    if found:
        return render_composer(form, issue, 409, found)
    try:
        saved = save_issue(form, issue, current_user)
        db.session.commit()
    except (campaigns.VersionConflict, IntegrityError):
        if issue is None:
            raise
        db.session.rollback()  # a save that came in between: compare with it
        return render_composer(form, issue, 409, variant_versions.conflicts(issue, drafts))
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        if issue is not None:
            return redirect(url_for("admin.campaign", issue_id=issue.id))
        return render_composer(form, None, 400)
    flash(_("The issue is saved."), "ok")
    if saved.kept:
        names = ", ".join(language_name(code) for code in sorted(saved.kept))
        flash(
            _(
                "Someone else saved %(languages)s in the meantime and you had not changed it:"
                " their text is kept.",
                languages=names,
            ),
            "ok",
        )
    return redirect(url_for("admin.edit_issue", issue_id=saved.issue.id))


@bp.route("/issues/new", methods=["GET", "POST"])
def new_issue():
    return submit_composer(composer_form(), None)


@bp.route("/issues/<int:issue_id>/edit", methods=["GET", "POST"])
def edit_issue(issue_id: int):
    issue = db.get_or_404(Issue, issue_id)
    if not campaigns.is_editable(issue) and request.method == "GET":
        flash(_("This issue can no longer be changed: sending has started."), "error")
        if current_user.is_translator:
            return redirect(url_for("admin.issues"))
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    return submit_composer(composer_form(issue), issue)


@bp.post("/issues/preview")
def preview_issue():
    """The sent HTML and text of unsaved fields and their checks before send, for the
    composer's live preview (JSON)."""
    language = request.form.get("language", "")
    if language not in current_app.config["LANGUAGES"]:
        abort(400)
    parts = checked_preview(
        language,
        request.form.get("subject", "")[:1000],
        request.form.get("preheader", "")[:1000],
        request.form.get("body", ""),
        small_number(request.form.get("issue_id")),
        small_number(request.form.get("layout")),
    )
    return jsonify(
        html=parts.html,
        text=parts.text,
        empty=parts.empty,
        checks=[finding.as_json() for finding in parts.findings],
    )


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
    if not campaigns.is_editable(issue):
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
