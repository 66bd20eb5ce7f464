"""How the editors' UI shows things: the words for each status in the editor's language,
the badge colours, and times (stored and shown in UTC, and saying so)."""

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import IssueStatus, SubscriberStatus, utcnow
from . import bp

SUBSCRIBER_STATUS = {
    SubscriberStatus.PENDING: _l("Pending"),
    SubscriberStatus.CONFIRMED: _l("Confirmed"),
    SubscriberStatus.UNSUBSCRIBED: _l("Unsubscribed"),
    SubscriberStatus.BOUNCED: _l("Bounced"),
    SubscriberStatus.COMPLAINED: _l("Complained"),
}

ISSUE_STATUS = {
    IssueStatus.DRAFT: _l("Draft"),
    IssueStatus.SCHEDULED: _l("Scheduled"),
    IssueStatus.SENDING: _l("Sending"),
    IssueStatus.PAUSED: _l("Paused"),
    IssueStatus.SENT: _l("Sent"),
    IssueStatus.CANCELLED: _l("Cancelled"),
}

ISSUE_BADGES = {
    IssueStatus.SENDING: "warn",
    IssueStatus.PAUSED: "warn",
    IssueStatus.SENT: "good",
    IssueStatus.CANCELLED: "bad",
}


@bp.app_template_global("issue_status_label")
def issue_status_label(status: IssueStatus) -> str:
    return str(ISSUE_STATUS[status])


@bp.app_template_global("issue_status_badge")
def issue_status_badge(status: IssueStatus) -> str:
    return ISSUE_BADGES.get(status, "")


@bp.app_template_global("issue_utc_text")
def utc_text(moment: datetime | None) -> str:
    """Times are stored and shown in UTC, and say so."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


bp.add_app_template_global(utcnow, "issue_now_utc")


@bp.context_processor
def status_labels() -> dict:
    return {"subscriber_status_labels": SUBSCRIBER_STATUS}
