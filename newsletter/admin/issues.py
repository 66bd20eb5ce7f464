"""Issues in the editors' UI: the list, the composer with its live preview and audience
counts, test sends, the confirm step, and the campaign page with live progress.

Views are thin: every change of an issue goes through ``campaigns`` (which refuses edits
once sending started), and previews go through the same rendering as delivery.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import (
    DateTimeLocalField,
    EmailField,
    Form,
    FormField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import campaigns, delivery, subscriptions, tasks
from ..extensions import db
from ..form_fields import ActionForm, MultiCheckboxField
from ..i18n import language_name
from ..links import external_url
from ..mail.campaign import prepare_variant
from ..models import (
    Delivery,
    DeliveryState,
    Fallback,
    Issue,
    IssueStatus,
    IssueVariant,
    Subscriber,
    utcnow,
)
from . import bp
from .labels import ISSUE_STATUS

S = IssueStatus
EDITABLE = {S.DRAFT, S.SCHEDULED}
LIVE = {S.SCHEDULED, S.SENDING, S.PAUSED}
ISSUES_PER_PAGE = 50
FAILED_PER_PAGE = 50
# Variants saved together are written a few milliseconds apart; only a later save counts.
STALE_MARGIN = timedelta(seconds=5)

STATUS_BADGES = {S.SENDING: "warn", S.PAUSED: "warn", S.SENT: "good", S.CANCELLED: "bad"}


@bp.app_template_global("issue_status_label")
def status_label(status: IssueStatus) -> str:
    return str(ISSUE_STATUS[status])


@bp.app_template_global("issue_status_badge")
def status_badge(status: IssueStatus) -> str:
    return STATUS_BADGES.get(status, "")


@bp.app_template_global("issue_utc_text")
def utc_text(moment: datetime | None) -> str:
    """Times are stored and shown in UTC, and say so."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


bp.add_app_template_global(utcnow, "issue_now_utc")


# Forms


class VariantForm(Form):
    """One language's text; plain ``Form``: the composer around it carries the CSRF token."""

    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=200)])
    preheader = StringField(
        _l("Preheader"),
        validators=[Optional(), Length(max=200)],
        description=_l("The line mail apps show after the subject."),
    )
    body = TextAreaField(_l("Body (Markdown)"))

    def is_empty(self) -> bool:
        return not (self.subject.data or "").strip() and not (self.body.data or "").strip()

    def is_partial(self) -> bool:
        return not self.is_empty() and not (
            (self.subject.data or "").strip() and (self.body.data or "").strip()
        )


class IssueForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("Only editors see it."),
    )
    default_language = SelectField(_l("Default language"))
    fallback = RadioField(
        _l("Readers whose language has no variant"),
        choices=[
            SelectChoice(Fallback.DEFAULT.value, _l("receive the default language")),
            SelectChoice(Fallback.SKIP.value, _l("receive nothing (counted as skipped)")),
        ],
        default=Fallback.DEFAULT.value,
    )
    lists = MultiCheckboxField(
        _l("Lists"), coerce=int, validators=[DataRequired(message=_l("Choose one or more lists."))]
    )
    audience_languages = MultiCheckboxField(
        _l("Only readers of these languages"),
        description=_l("Leave all unticked to reach readers of every language."),
    )


def variant_field_name(code: str) -> str:
    return f"variant_{code}"


def composer_form(issue: Issue | None = None) -> IssueForm:
    """The composer for the configured languages, filled from ``issue`` on a GET."""
    languages = current_app.config["LANGUAGES"]

    class ComposerForm(IssueForm):
        pass

    for code in languages:
        setattr(ComposerForm, variant_field_name(code), FormField(VariantForm))
    # On a POST the browser's fields are the truth; the saved issue only fills a GET.
    form = ComposerForm(data=issue_data(issue) if issue and request.method == "GET" else None)
    names = [SelectChoice(code, language_name(code)) for code in languages]
    form.default_language.choices = names
    form.audience_languages.choices = names
    locale = str(get_locale())
    form.lists.choices = [
        SelectChoice(item.id, item.name_in(locale)) for item in subscriptions.all_lists()
    ]
    if issue is None and request.method == "GET":
        form.default_language.data = current_app.config["DEFAULT_LANGUAGE"]
    return form


def issue_data(issue: Issue) -> dict:
    data = {
        "name": issue.name,
        "default_language": issue.default_language,
        "fallback": issue.fallback.value,
        "lists": sorted(issue.list_ids),
        "audience_languages": issue.audience_languages or [],
    }
    for variant in issue.variants:
        data[variant_field_name(variant.language)] = {
            "subject": variant.subject,
            "preheader": variant.preheader,
            "body": variant.body,
        }
    return data


def variant_forms(form: IssueForm) -> dict[str, VariantForm]:
    return {
        code: getattr(form, variant_field_name(code)).form
        for code in current_app.config["LANGUAGES"]
    }


class TestSendForm(FlaskForm):
    test_address = EmailField(_l("Send a test to"), validators=[DataRequired(), Length(max=254)])
    test_language = SelectField(_l("Language"))


class ScheduleForm(FlaskForm):
    scheduled_at = DateTimeLocalField(
        _l("Date and time (UTC)"),
        format="%Y-%m-%dT%H:%M",
        # Not DataRequired: it would hide "Not a valid datetime value." (year 10000) behind
        # "This field is required.".
        validators=[InputRequired()],
    )


# Saving


def check_variants(form: IssueForm) -> bool:
    """A language with a subject but no body (or the reverse) is an error, not a variant."""
    ok = True
    for variant in variant_forms(form).values():
        if variant.is_partial():
            variant.body.errors = [*variant.body.errors, _("A variant needs a subject and a body.")]
            ok = False
    return ok


def save_issue(form: IssueForm, issue: Issue | None) -> Issue:
    """Write the form through ``campaigns``; raises CampaignError once sending started."""
    languages = form.audience_languages.data or None
    if issue is None:
        issue = campaigns.create_issue(
            form.name.data.strip(),
            form.default_language.data,
            set(form.lists.data),
            Fallback(form.fallback.data),
            languages,
        )
    else:
        campaigns.set_audience(issue, set(form.lists.data), languages)  # refuses first
        issue.name = form.name.data.strip()[:200]
        issue.default_language = form.default_language.data
        issue.fallback = Fallback(form.fallback.data)
    for code, variant in variant_forms(form).items():
        save_variant(issue, code, variant)
    return issue


def save_variant(issue: Issue, code: str, variant: VariantForm) -> None:
    """Empty fields mean "no variant in this language": none is created, any is removed."""
    if variant.is_empty():
        existing = issue.variant(code)
        if existing is not None:
            issue.variants.remove(existing)
        return
    campaigns.set_variant(
        issue, code, variant.subject.data, variant.body.data, variant.preheader.data or ""
    )


# Variant markers and preview


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
    message = delivery.preview_message(prepare_variant(None, variant, view_url))
    return SentParts(
        message.get_body(preferencelist=("html",)).get_content(),
        message.get_body(preferencelist=("plain",)).get_content(),
    )


def saved_preview(issue: Issue | None, language: str) -> SentParts:
    variant = issue.variant(language) if issue else None
    if variant is None:
        return SentParts("", "", empty=True)
    return preview_parts(language, variant.subject, variant.preheader, variant.body, issue.id)


# Audience counts


def issue_audience_counts(issue: Issue) -> campaigns.AudienceCounts:
    return campaigns.audience_counts(
        issue.list_ids,
        issue.audience_languages,
        {v.language for v in issue.variants},
        issue.default_language,
        issue.fallback,
    )


def form_audience_counts(form: IssueForm) -> campaigns.AudienceCounts:
    """Counts for the composer's unsaved choices (a language with text counts as a variant)."""
    known = current_app.config["LANGUAGES"]
    list_ids = {value for value in form.lists.data or [] if isinstance(value, int)}
    languages = [code for code in form.audience_languages.data or [] if code in known]
    variants = {code for code, variant in variant_forms(form).items() if not variant.is_empty()}
    default = form.default_language.data
    if default not in known:
        default = current_app.config["DEFAULT_LANGUAGE"]
    fallback = Fallback.SKIP if form.fallback.data == Fallback.SKIP.value else Fallback.DEFAULT
    return campaigns.audience_counts(list_ids, languages or None, variants, default, fallback)


# Issue list


def load_issue(issue_id: int) -> Issue:
    issue = db.session.get(Issue, issue_id)
    if issue is None:
        abort(404)
    return issue


def issue_languages(issue_ids: list[int]) -> dict[int, list[str]]:
    rows = db.session.execute(
        select(IssueVariant.issue_id, IssueVariant.language)
        .where(IssueVariant.issue_id.in_(issue_ids))
        .order_by(IssueVariant.language)
    )
    result: dict[int, list[str]] = defaultdict(list)
    for issue_id, language in rows:
        result[issue_id].append(language)
    return result


def progress_summaries(issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """Ledger rows per state for many issues in one GROUP BY."""
    rows = db.session.execute(
        select(Delivery.issue_id, Delivery.state, func.count())
        .where(Delivery.issue_id.in_(issue_ids))
        .group_by(Delivery.issue_id, Delivery.state)
    )
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for issue_id, state, count in rows:
        summary = result[issue_id]
        summary[DeliveryState(state).value] += count
        summary["total"] += count
    return result


@bp.get("/issues")
def issues():
    page = max(request.args.get("page", 1, type=int), 1)
    rows = list(
        db.session.execute(
            select(Issue)
            .order_by(Issue.created_at.desc(), Issue.id.desc())
            .limit(ISSUES_PER_PAGE + 1)
            .offset((page - 1) * ISSUES_PER_PAGE)
        ).scalars()
    )
    shown = rows[:ISSUES_PER_PAGE]
    ids = [issue.id for issue in shown]
    return render_template(
        "admin/issues/list.html",
        issues=shown,
        languages_of=issue_languages(ids),
        summaries=progress_summaries(ids),
        page=page,
        has_next=len(rows) > ISSUES_PER_PAGE,
    )


# Composer


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
    issue = load_issue(issue_id)
    if issue.status not in EDITABLE and request.method == "GET":
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
    issue = load_issue(issue_id)
    form = TestSendForm()
    form.test_language.choices = [SelectChoice(v.language) for v in issue.variants]
    back = redirect(url_for("admin.edit_issue", issue_id=issue.id))
    if issue.status not in EDITABLE:
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


# Sending


@bp.get("/issues/<int:issue_id>/send")
def confirm_send(issue_id: int):
    """The confirm step: who gets which variant, then send now or schedule (UTC)."""
    issue = load_issue(issue_id)
    if issue.status not in EDITABLE:
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    return render_confirm(issue, ScheduleForm())


def render_confirm(issue: Issue, schedule_form: ScheduleForm, status: int = 200):
    if schedule_form.scheduled_at.data is None and issue.scheduled_at:
        schedule_form.scheduled_at.data = issue.scheduled_at
    return (
        render_template(
            "admin/issues/confirm_send.html",
            issue=issue,
            counts=issue_audience_counts(issue),
            markers=variant_markers(issue),
            action_form=ActionForm(),
            schedule_form=schedule_form,
        ),
        status,
    )


def start_now(issue: Issue) -> int:
    """As ``flask issues send`` does: write the ledger, commit, then queue delivery."""
    count = campaigns.start_sending(issue)
    db.session.commit()
    tasks.dispatch_delivery(issue.id)
    return count


@bp.post("/issues/<int:issue_id>/send")
def send_issue(issue_id: int):
    issue = load_issue(issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        count = start_now(issue)
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.confirm_send", issue_id=issue.id))
    flash(_("Sending has started: %(count)d messages.", count=count), "ok")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


@bp.post("/issues/<int:issue_id>/schedule")
def schedule_issue(issue_id: int):
    issue = load_issue(issue_id)
    form = ScheduleForm()
    if not form.validate_on_submit():
        return render_confirm(issue, form, 400)
    if form.scheduled_at.data <= utcnow():
        form.scheduled_at.errors = [_("Choose a time in the future (UTC).")]
        return render_confirm(issue, form, 400)
    try:
        campaigns.schedule(issue, form.scheduled_at.data)
        db.session.commit()
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.confirm_send", issue_id=issue.id))
    flash(_("The issue is scheduled for %(when)s.", when=utc_text(issue.scheduled_at)), "ok")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


def control(issue_id: int, action, dispatch: bool, done: str):
    """Run a campaigns action on a POST with a valid CSRF token; refusals become messages."""
    issue = load_issue(issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(issue)
        db.session.commit()
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        if dispatch:
            tasks.dispatch_delivery(issue.id)
        flash(done, "ok")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


@bp.post("/issues/<int:issue_id>/pause")
def pause_issue(issue_id: int):
    return control(issue_id, campaigns.pause, False, _("The issue is paused."))


@bp.post("/issues/<int:issue_id>/resume")
def resume_issue(issue_id: int):
    return control(issue_id, campaigns.resume, True, _("The issue is sending again."))


@bp.post("/issues/<int:issue_id>/resend")
def resend_failed_issue(issue_id: int):
    return control(
        issue_id,
        campaigns.resend_failed,
        True,
        _("The failed deliveries are queued again."),
    )


@bp.route("/issues/<int:issue_id>/cancel", methods=["GET", "POST"])
def cancel_issue(issue_id: int):
    """GET asks for confirmation; POST cancels for good."""
    if request.method == "POST":
        return control(issue_id, campaigns.cancel, False, _("The issue is cancelled."))
    issue = load_issue(issue_id)
    return render_template("admin/issues/cancel.html", issue=issue, action_form=ActionForm())


# Campaign page


def failed_deliveries(issue_id: int, page: int) -> list:
    """Failed recipients with the server's reason, a page at a time."""
    return list(
        db.session.execute(
            select(
                Subscriber.email,
                Delivery.language,
                Delivery.attempts,
                Delivery.last_code,
                Delivery.last_response,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.issue_id == issue_id, Delivery.state == DeliveryState.FAILED)
            .order_by(Delivery.id)
            .limit(FAILED_PER_PAGE + 1)
            .offset((page - 1) * FAILED_PER_PAGE)
        ).all()
    )


def progress_payload(issue: Issue) -> dict:
    """What campaign.js shows: counts per language and overall, the rate, the state."""
    report = campaigns.progress(issue.id)

    labels = {"-": _("No variant (skipped)"), "all": _("All languages")}

    def row(code: str, part: campaigns.LanguageProgress) -> dict:
        return {
            "language": code,
            "label": labels.get(code) or language_name(code),
            "sent": part.sent,
            "failed": part.failed,
            "skipped": part.skipped,
            "remaining": part.remaining,
            "total": part.total,
            "done": part.sent + part.failed + part.skipped,
        }

    return {
        "status": issue.status.value,
        "status_label": status_label(issue.status),
        "status_badge": status_badge(issue.status),
        "languages": [row(code, part) for code, part in sorted(report.languages.items())],
        "overall": row("all", report.overall),
        "rate": round(report.rate, 1),
        "live": issue.status in LIVE,
    }


@bp.get("/issues/<int:issue_id>")
def campaign(issue_id: int):
    issue = load_issue(issue_id)
    if issue.status == S.DRAFT:
        return redirect(url_for("admin.edit_issue", issue_id=issue.id))
    page = max(request.args.get("failed_page", 1, type=int), 1)
    failed = failed_deliveries(issue.id, page)
    view_language = issue.default_language
    return render_template(
        "admin/issues/campaign.html",
        issue=issue,
        progress=progress_payload(issue),
        counts=issue_audience_counts(issue) if issue.status == S.SCHEDULED else None,
        failed=failed[:FAILED_PER_PAGE],
        failed_page=page,
        failed_has_next=len(failed) > FAILED_PER_PAGE,
        action_form=ActionForm(),
        view_url=url_for("public.view_issue", lang=view_language, issue_id=issue.id),
    )


@bp.get("/issues/<int:issue_id>/progress.json")
def campaign_progress(issue_id: int):
    return jsonify(progress_payload(load_issue(issue_id)))
