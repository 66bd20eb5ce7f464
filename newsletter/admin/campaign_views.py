"""Campaigns in the editors' UI: the issue list, the confirm step, sending now or at a time,
pause, resume, cancel and resend, and the campaign page with its live progress.

Every change of state goes through ``campaign_control``; its refusals become messages.
"""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_timezone
from flask_babel import gettext as _
from flask_login import current_user

from .. import (
    campaign_control,
    campaigns,
    invitations,
    issue_copies,
    tracking,
    translation_status,
)
from ..campaign_progress import (
    LanguageProgress,
    Preparation,
    failed_deliveries,
    issue_languages,
    preparation,
    progress,
    progress_summaries,
)
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import language_name, utc_to_local
from ..models import Issue, IssueStatus, utcnow
from ..organisation import languages_without_address
from . import bp
from .composer import issue_findings, variant_markers
from .issue_forms import ScheduleForm
from .presentation import issue_status_badge, issue_status_label, shown_time

LIVE = {IssueStatus.SCHEDULED, IssueStatus.SENDING, IssueStatus.PAUSED}
"""States in which the campaign page keeps following the progress."""
ISSUES_PER_PAGE = 50
FAILED_PER_PAGE = 50


@bp.get("/issues")
def issues():
    page = max(request.args.get("page", 1, type=int), 1)
    rows = list(
        db.session.execute(
            db.select(Issue)
            .options(db.selectinload(Issue.variants), db.selectinload(Issue.fallback_choices))
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
        statuses_of={
            issue.id: translation_status.statuses(issue)
            for issue in shown
            if campaigns.is_editable(issue)
        },
        summaries=progress_summaries(ids),
        page=page,
        has_next=len(rows) > ISSUES_PER_PAGE,
        action_form=ActionForm(),
    )


@bp.get("/issues/<int:issue_id>/send")
def confirm_send(issue_id: int):
    """The confirm step: who gets which variant, then send now or schedule (UTC)."""
    issue = db.get_or_404(Issue, issue_id)
    if issue.status not in campaigns.EDITABLE:
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    return render_confirm(issue, ScheduleForm())


def render_confirm(issue: Issue, schedule_form: ScheduleForm, status: int = 200):
    if schedule_form.scheduled_at.data is None and issue.scheduled_at:
        schedule_form.scheduled_at.data = utc_to_local(issue.scheduled_at)
    counts = campaigns.issue_audience_counts(issue)
    not_ready = translation_status.unready_languages(issue)
    mailed = [code for code, count in counts.per_variant.items() if count]
    return (
        render_template(
            "admin/issues/confirm_send.html",
            issue=issue,
            counts=counts,
            event_audience=invitations.audience_label(issue),
            no_address=[language_name(c) for c in languages_without_address(mailed)],
            findings=issue_findings(issue, mailed),
            time_zone=str(get_timezone()),
            markers=variant_markers(issue),
            statuses=translation_status.statuses(issue),
            plan=translation_status.send_plan(issue),
            not_ready=not_ready,
            not_ready_names=[language_name(code) for code in not_ready],
            require_approval=translation_status.approval_required(),
            action_form=ActionForm(),
            schedule_form=schedule_form,
        ),
        status,
    )


@bp.post("/issues/<int:issue_id>/send")
def send_issue(issue_id: int):
    issue = db.get_or_404(Issue, issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        count = campaign_control.send_now(issue.id)
    except campaigns.CampaignError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.confirm_send", issue_id=issue.id))
    # "started": the campaign page drops this notice once the campaign is over.
    flash(_("Sending has started: %(count)d messages.", count=count), "started")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


@bp.post("/issues/<int:issue_id>/schedule")
def schedule_issue(issue_id: int):
    issue = db.get_or_404(Issue, issue_id)
    form = ScheduleForm()
    if not form.validate_on_submit():
        return render_confirm(issue, form, 400)
    when = form.scheduled_at_utc()
    if when is None:
        return render_confirm(issue, form, 400)
    if when <= utcnow():
        form.scheduled_at.errors = [_("Please choose a time in the future.")]
        return render_confirm(issue, form, 400)
    try:
        campaign_control.schedule(issue.id, when)
    except campaigns.CampaignError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.confirm_send", issue_id=issue.id))
    flash(_("The issue is scheduled for %(when)s.", when=shown_time(issue.scheduled_at)), "ok")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


def control(issue_id: int, action, done: str):
    """Run a ``campaign_control`` action on a POST with a valid CSRF token; a refusal
    becomes a message in the editor's language."""
    issue = db.get_or_404(Issue, issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(issue.id)
    except campaigns.CampaignError as error:
        flash(str(error), "error")
    else:
        flash(done, "ok")
    return redirect(url_for("admin.campaign", issue_id=issue.id))


@bp.post("/issues/<int:issue_id>/pause")
def pause_issue(issue_id: int):
    return control(issue_id, campaign_control.pause, _("The issue is paused."))


@bp.post("/issues/<int:issue_id>/resume")
def resume_issue(issue_id: int):
    return control(issue_id, campaign_control.resume, _("The issue is sending again."))


@bp.post("/issues/<int:issue_id>/resend")
def resend_failed_issue(issue_id: int):
    return control(
        issue_id, campaign_control.resend_failed, _("The failed deliveries are queued again.")
    )


@bp.route("/issues/<int:issue_id>/cancel", methods=["GET", "POST"])
def cancel_issue(issue_id: int):
    """GET asks for confirmation; POST cancels for good."""
    if request.method == "POST":
        return control(issue_id, campaign_control.cancel, _("The issue is cancelled."))
    issue = db.get_or_404(Issue, issue_id)
    try:
        campaigns.check_allowed(issue, "cancel")
    except campaigns.CampaignError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    return render_template("admin/issues/cancel.html", issue=issue, action_form=ActionForm())


def _preparing_payload(preparing: Preparation) -> dict:
    return {
        "written": preparing.written,
        "total": preparing.total,
        "text": _(
            "Writing the list of recipients: %(written)s of %(total)s.",
            written=format_decimal(preparing.written),
            total=format_decimal(preparing.total),
        ),
    }


def progress_payload(issue: Issue) -> dict:
    """What campaign.js shows: counts per language and overall, the rate, the state."""
    report = progress(issue.id)

    labels = {"-": _("No variant (skipped)"), "all": _("All languages")}

    def row(code: str, part: LanguageProgress) -> dict:
        return {
            "language": code,
            "label": labels.get(code) or language_name(code),
            "sent": part.sent,
            "failed": part.failed,
            "skipped": part.skipped,
            "remaining": part.remaining,
            "total": part.total,
            "done": part.done,
        }

    preparing = preparation(issue)
    return {
        "status": issue.status.value,
        "status_label": issue_status_label(issue.status),
        "status_badge": issue_status_badge(issue.status),
        "languages": [row(code, part) for code, part in sorted(report.languages.items())],
        "overall": row("all", report.overall),
        "rate": round(report.rate, 1),
        "live": issue.status in LIVE,
        "preparing": _preparing_payload(preparing) if preparing else None,
    }


@bp.get("/issues/<int:issue_id>")
def campaign(issue_id: int):
    issue = db.get_or_404(Issue, issue_id)
    if issue.status == IssueStatus.DRAFT:
        return redirect(url_for("admin.edit_issue", issue_id=issue.id))
    page = max(request.args.get("failed_page", 1, type=int), 1)
    failed = failed_deliveries(issue.id, FAILED_PER_PAGE + 1, (page - 1) * FAILED_PER_PAGE)
    scheduled_counts = None
    if issue.status == IssueStatus.SCHEDULED:
        scheduled_counts = campaigns.issue_audience_counts(issue)
    view_language = issue.default_language
    return render_template(
        "admin/issues/campaign.html",
        issue=issue,
        progress=progress_payload(issue),
        counts=scheduled_counts,
        failed=failed[:FAILED_PER_PAGE],
        failed_page=page,
        failed_has_next=len(failed) > FAILED_PER_PAGE,
        action_form=ActionForm(),
        view_url=url_for("public.view_issue", lang=view_language, issue_id=issue.id),
        results=tracking.results(issue) if issue.started_at else {},
        links=tracking.link_results(issue) if issue.track_clicks else [],
        timeline=tracking.timeline(issue),
    )


@bp.post("/issues/<int:issue_id>/duplicate")
def duplicate_issue(issue_id: int):
    """A new draft with the issue's texts and audience, opened in the composer."""
    issue = db.get_or_404(Issue, issue_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        copy = issue_copies.duplicate_issue(issue, current_user)
        db.session.commit()
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.issues"))
    flash(_("This is a new draft copied from “%(name)s”.", name=issue.name), "ok")
    return redirect(url_for("admin.edit_issue", issue_id=copy.id))


@bp.get("/issues/<int:issue_id>/progress.json")
def campaign_progress(issue_id: int):
    return jsonify(progress_payload(db.get_or_404(Issue, issue_id)))
