"""``/api/v1/issues``: write issues per language, preview and test them, send and follow them.

Every state change goes through ``campaigns`` (as ``flask issues`` does); the checks here
only turn its refusals into stable codes and messages in the caller's language.
"""

import smtplib
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC

from flask import current_app
from flask_babel import gettext as _

from .. import campaign_control, campaign_progress, campaigns, delivery, issue_copies, tracking
from ..extensions import db
from ..mail.message import decoded_header
from ..models import (
    Delivery,
    DeliveryState,
    Event,
    EventGroup,
    Fallback,
    Issue,
    IssueStatus,
    Layout,
    utcnow,
)
from .auth import token_blueprint
from .errors import ApiError, invalid
from .pagination import cursor_page
from .schemas import (
    DeliveryFilter,
    DeliveryPage,
    IssueCreate,
    IssueFilter,
    IssuePage,
    IssueSchema,
    IssueUpdate,
    LanguageArgs,
    PreviewSchema,
    ProgressSchema,
    ResultsSchema,
    ScheduleInput,
    SendResult,
    TestSendInput,
    VariantInput,
    VariantSchema,
    known_language,
)
from .subscribers import check_lists

bp = token_blueprint("issues", "Issues (campaigns), their texts per language and deliveries")
ID = "<int(max=2147483647):issue_id>"
LANGUAGE = "<string(minlength=2,maxlength=8):language>"


# Refusals that are not about the issue's state; every other one answers 409.
REFUSAL_STATUS = {"variant_not_found": 404, "forbidden": 403}


def run_campaign(function: Callable, *args):
    """Call a ``campaigns`` or ``campaign_control`` function; a refusal answers 409 with
    the refusal's code (``invalid_state``, ``issue_not_ready``, ``issue_not_editable``,
    ``translations_not_ready`` with the languages in ``fields.languages``)."""
    try:
        return function(*args)
    except campaigns.CampaignError as error:
        languages = getattr(error, "languages", None)
        fields = {"languages": languages} if languages else None
        status = REFUSAL_STATUS.get(error.code, 409)
        raise ApiError(status, error.code, str(error), fields) from None


def check_language(language: str, field: str = "language") -> None:
    try:
        known_language(language)
    except Exception as error:  # marshmallow's ValidationError, with our message
        raise invalid({field: [str(m) for m in error.messages]}) from None


def variant_or_404(issue: Issue, language: str):
    variant = issue.variant(language)
    if variant is None:
        raise ApiError(404, "variant_not_found", _("The issue has no text in this language."))
    return variant


@bp.route("")
@bp.arguments(IssueFilter, location="query")
@bp.response(200, IssuePage)
def list_issues(args: dict) -> dict:
    """Issues by id, optionally of one status."""
    query = db.select(Issue)
    if args.get("status"):
        query = query.where(Issue.status == IssueStatus(args["status"]))
    return cursor_page(query, Issue.id, args["cursor"], args["limit"])


@bp.route("", methods=["POST"])
@bp.arguments(IssueCreate)
@bp.response(201, IssueSchema)
def create(data: dict) -> Issue:
    """A draft issue for some lists, optionally with its texts per language."""
    list_ids = check_lists(data["lists"])
    issue = run_campaign(
        campaigns.create_issue,
        data["name"].strip(),
        data.get("default_language") or current_app.config["DEFAULT_LANGUAGE"],
        list_ids,
        Fallback(data.get("fallback", Fallback.DEFAULT.value)),
        data.get("audience_languages"),
        check_layout(data.get("layout_id")),
        event_audience(data.get("audience_event")),
    )
    set_tracking(issue, data)
    run_campaign(campaigns.set_automation, issue, data.get("sent_after_days"))
    for language, text in sorted(data["variants"].items()):
        run_campaign(_set_variant, issue, language, text)
    db.session.commit()
    return issue


def set_tracking(issue: Issue, data: dict) -> None:
    for name in ("track_clicks", "track_opens"):
        if name in data:
            setattr(issue, name, data[name])


def _set_variant(issue: Issue, language: str, text: dict):
    return campaigns.set_variant(
        issue,
        language,
        text["subject"],
        text["body"],
        text.get("preheader", ""),
        base_version=text.get("version"),
    )


@bp.route(f"/{ID}")
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read(issue_id: int) -> Issue:
    """One issue with its texts."""
    return db.get_or_404(Issue, issue_id)


@bp.route(f"/{ID}", methods=["PATCH"])
@bp.arguments(IssueUpdate)
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update(data: dict, issue_id: int) -> Issue:
    """Change name, default language, fallback or audience, before sending."""
    issue = db.get_or_404(Issue, issue_id)
    run_campaign(campaigns.check_editable, issue)
    if "name" in data:
        issue.name = data["name"].strip()
    if "default_language" in data:
        run_campaign(campaigns.set_default_language, issue, data["default_language"])
    if "fallback" in data:
        issue.fallback = Fallback(data["fallback"])
    if {"lists", "audience_languages", "audience_event"} & set(data):
        list_ids = check_lists(data["lists"]) if "lists" in data else issue.list_ids
        languages = data.get("audience_languages", issue.audience_languages)
        audience = (
            event_audience(data["audience_event"])
            if "audience_event" in data
            else campaigns.event_audience_of(issue)
        )
        run_campaign(campaigns.set_audience, issue, list_ids, languages, audience)
    if "layout_id" in data:
        run_campaign(campaigns.set_layout, issue, check_layout(data["layout_id"]))
    set_tracking(issue, data)
    if "sent_after_days" in data:
        run_campaign(campaigns.set_automation, issue, data["sent_after_days"])
    db.session.commit()
    return issue


def event_audience(data: dict | None) -> campaigns.EventAudience | None:
    if data is None:
        return None
    if db.session.get(Event, data["event_id"]) is None:
        raise invalid({"audience_event": [_("There is no such event.")]})
    return campaigns.EventAudience(data["event_id"], EventGroup(data["group"]))


def check_layout(layout_id: int | None) -> int | None:
    if layout_id is not None and db.session.get(Layout, layout_id) is None:
        raise invalid({"layout_id": [_("There is no such layout.")]})
    return layout_id


@bp.route(f"/{ID}/variants/{LANGUAGE}", methods=["PUT"])
@bp.arguments(VariantInput)
@bp.response(200, VariantSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def put_variant(data: dict, issue_id: int, language: str):
    """Write or replace the issue's subject, preheader and Markdown body in one language.

    Send the `version` you read to be sure not to overwrite a text saved in the meantime:
    a stale one answers 409 with the code `conflict` and changes nothing.
    """
    issue = db.get_or_404(Issue, issue_id)
    check_language(language)
    run_campaign(campaigns.check_editable, issue)
    variant = run_campaign(_set_variant, issue, language, data)
    db.session.commit()
    return variant


@bp.route(f"/{ID}/duplicate", methods=["POST"])
@bp.response(201, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def duplicate(issue_id: int) -> Issue:
    """A new draft "Copy of …" with the issue's texts, audience and language rules, in
    any state of the original (a sent issue too)."""
    issue = db.get_or_404(Issue, issue_id)
    copy = run_campaign(issue_copies.duplicate_issue, issue)
    db.session.commit()
    return copy


@bp.route(f"/{ID}/variants/{LANGUAGE}")
@bp.response(200, VariantSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read_variant(issue_id: int, language: str):
    """The issue's text in one language."""
    return variant_or_404(db.get_or_404(Issue, issue_id), language)


@bp.route(f"/{ID}/preview/{LANGUAGE}")
@bp.arguments(LanguageArgs, location="query")
@bp.response(200, PreviewSchema)
@bp.alt_response(404, response="NOT_FOUND")
def preview(args: dict, issue_id: int, language: str) -> dict:
    """The HTML and text subscribers of this language get, rendered as delivery does.

    The personal links carry a placeholder token; `name` shows the greeting by name.
    """
    issue = db.get_or_404(Issue, issue_id)
    variant_or_404(issue, language)
    prepared = delivery.prepared_variant(issue, language)
    message = delivery.preview_message(prepared, args.get("name"))
    bodies = {
        subtype: message.get_body(preferencelist=(subtype,)).get_content()
        for subtype in ("html", "plain")
    }
    return {
        "language": language,
        "subject": str(message["Subject"]),
        "from_": decoded_header(message, "From"),
        "html": bodies["html"],
        "text": bodies["plain"],
    }


@bp.route(f"/{ID}/test", methods=["POST"])
@bp.arguments(TestSendInput)
@bp.response(202, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def send_test(data: dict, issue_id: int) -> Issue:
    """Send one message of a variant to any address, exactly as subscribers get it."""
    issue = db.get_or_404(Issue, issue_id)
    if issue.variant(data["language"]) is None:
        raise invalid({"language": [_("The issue has no text in this language.")]})
    try:
        delivery.send_test(issue, data["language"], data["to"])
    except smtplib.SMTPRecipientsRefused:
        raise invalid({"to": [_("The mail server refused this address.")]}) from None
    except (smtplib.SMTPException, OSError):
        raise ApiError(
            503, "mail_server_unavailable", _("The mail server could not be reached.")
        ) from None
    return issue


@bp.route(f"/{ID}/send", methods=["POST"])
@bp.response(202, SendResult)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def send(issue_id: int) -> dict:
    """Send now: fix the audience in the delivery ledger and queue the delivery tasks."""
    issue = db.get_or_404(Issue, issue_id)
    count = run_campaign(campaign_control.send_now, issue.id)
    return {"issue": issue, "recipients": count}


@bp.route(f"/{ID}/schedule", methods=["POST"])
@bp.arguments(ScheduleInput)
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def schedule(data: dict, issue_id: int) -> Issue:
    """Send at a later time (the campaign watcher starts it then)."""
    issue = db.get_or_404(Issue, issue_id)
    when = data["at"].astimezone(UTC).replace(tzinfo=None)
    if when <= utcnow():
        raise invalid({"at": [_("Please choose a time in the future.")]})
    return run_campaign(campaign_control.schedule, issue.id, when)


@bp.route(f"/{ID}/pause", methods=["POST"])
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def pause(issue_id: int) -> Issue:
    """Stop sending after the current batch."""
    return run_campaign(campaign_control.pause, db.get_or_404(Issue, issue_id).id)


@bp.route(f"/{ID}/resume", methods=["POST"])
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def resume(issue_id: int) -> Issue:
    """Continue a paused issue."""
    return run_campaign(campaign_control.resume, db.get_or_404(Issue, issue_id).id)


@bp.route(f"/{ID}/cancel", methods=["POST"])
@bp.response(200, IssueSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def cancel(issue_id: int) -> Issue:
    """Stop for good; nothing more is sent after the current batch."""
    return run_campaign(campaign_control.cancel, db.get_or_404(Issue, issue_id).id)


def _counts(part: campaign_progress.LanguageProgress) -> dict:
    names = ("queued", "sending", "sent", "failed", "skipped", "remaining", "total")
    return {name: getattr(part, name) for name in names}


@bp.route(f"/{ID}/results")
@bp.response(200, ResultsSchema)
@bp.alt_response(404, response="NOT_FOUND")
def results(issue_id: int) -> dict:
    """Delivered, opened, clicked, bounced, unsubscribed and complaints per language, and
    each tracked link's clicks (opens and clicks only when the issue counts them)."""
    issue = db.get_or_404(Issue, issue_id)
    return {
        "track_clicks": issue.track_clicks,
        "track_opens": issue.track_opens,
        "languages": {
            code: {**asdict(row), "click_rate": row.click_rate}
            for code, row in tracking.results(issue).items()
        },
        "links": [asdict(link) for link in tracking.link_results(issue)],
    }


@bp.route(f"/{ID}/progress")
@bp.response(200, ProgressSchema)
@bp.alt_response(404, response="NOT_FOUND")
def progress(issue_id: int) -> dict:
    """Sent, failed, skipped and remaining per language, and the current rate."""
    issue = db.get_or_404(Issue, issue_id)
    report = campaign_progress.progress(issue.id)
    preparing = campaign_progress.preparation(issue)
    return {
        "status": issue.status.value,
        "preparing": asdict(preparing) if preparing else None,
        "overall": _counts(report.overall),
        "languages": {code: _counts(part) for code, part in report.languages.items()},
        "rate": report.rate,
        "window": report.window,
    }


@bp.route(f"/{ID}/deliveries")
@bp.arguments(DeliveryFilter, location="query")
@bp.response(200, DeliveryPage)
@bp.alt_response(404, response="NOT_FOUND")
def deliveries(args: dict, issue_id: int) -> dict:
    """The issue's delivery ledger by id, optionally in one state."""
    db.get_or_404(Issue, issue_id)
    query = db.select(Delivery).where(Delivery.issue_id == issue_id)
    if args.get("state"):
        query = query.where(Delivery.state == DeliveryState(args["state"]))
    return cursor_page(query, Delivery.id, args["cursor"], args["limit"])
