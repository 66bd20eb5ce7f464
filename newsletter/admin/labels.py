"""The words editors see for each status, in their own language."""

from flask_babel import lazy_gettext as _l

from ..models import IssueStatus, SubscriberStatus
from . import bp

SUBSCRIBER_STATUS = {
    SubscriberStatus.PENDING: _l("Waiting for confirmation"),
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


@bp.context_processor
def status_labels() -> dict:
    return {"subscriber_status_labels": SUBSCRIBER_STATUS}
