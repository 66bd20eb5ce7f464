"""How the editors' UI shows things: the words for each status in the editor's language,
the badge colours, and times (stored and shown in UTC, and saying so)."""

from datetime import datetime

from flask_babel import format_date, format_time, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..i18n import file_size
from ..models import (
    ConsentAction,
    DeliveryState,
    ImportStatus,
    IssueStatus,
    SubscriberStatus,
    TranslationState,
    utcnow,
)
from . import bp

SUBSCRIBER_STATUS = {
    SubscriberStatus.PENDING: _l("Pending"),
    SubscriberStatus.CONFIRMED: _l("Confirmed"),
    SubscriberStatus.UNSUBSCRIBED: _l("Unsubscribed"),
    SubscriberStatus.BOUNCED: _l("Bounced"),
    SubscriberStatus.COMPLAINED: _l("Complained"),
}

SUBSCRIBER_BADGES = {
    SubscriberStatus.CONFIRMED: "good",
    SubscriberStatus.PENDING: "warn",
    SubscriberStatus.UNSUBSCRIBED: "",
    SubscriberStatus.BOUNCED: "bad",
    SubscriberStatus.COMPLAINED: "bad",
}

CONSENT_ACTIONS = {
    ConsentAction.SUBSCRIBE.value: _l("Subscribed"),
    ConsentAction.CONFIRM.value: _l("Confirmed"),
    ConsentAction.PREFERENCES.value: _l("Changed preferences"),
    ConsentAction.UNSUBSCRIBE.value: _l("Unsubscribed"),
}

DELIVERY_STATES = {
    DeliveryState.QUEUED.value: _l("Queued"),
    DeliveryState.SENDING.value: _l("Sending"),
    DeliveryState.SENT.value: _l("Sent"),
    DeliveryState.FAILED.value: _l("Failed"),
    DeliveryState.SKIPPED.value: _l("Skipped"),
}

IMPORT_STATUS = {
    ImportStatus.ANALYSING: _l("Checking the file"),
    ImportStatus.ANALYSED: _l("Checked: waiting for your confirmation"),
    ImportStatus.QUEUED: _l("Waiting for a worker"),
    ImportStatus.RUNNING: _l("Importing"),
    ImportStatus.DONE: _l("Done"),
    ImportStatus.FAILED: _l("Failed"),
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


def subscriber_status_label(status: SubscriberStatus) -> str:
    return str(SUBSCRIBER_STATUS[status])


def import_status_label(status: ImportStatus) -> str:
    return str(IMPORT_STATUS[status])


@bp.app_template_global("issue_status_label")
def issue_status_label(status: IssueStatus) -> str:
    return str(ISSUE_STATUS[status])


@bp.app_template_global("issue_status_badge")
def issue_status_badge(status: IssueStatus) -> str:
    return ISSUE_BADGES.get(status, "")


TRANSLATION_STATES = {
    TranslationState.DRAFT: _l("Draft"),
    TranslationState.READY: _l("Ready for review"),
    TranslationState.APPROVED: _l("Approved"),
}
TRANSLATION_BADGES = {TranslationState.READY: "warn", TranslationState.APPROVED: "good"}


@bp.app_template_global("translation_state_label")
def translation_state_label(state: TranslationState) -> str:
    return str(TRANSLATION_STATES[state])


@bp.app_template_global("translation_state_badge")
def translation_state_badge(state: TranslationState) -> str:
    return TRANSLATION_BADGES.get(state, "")


CONSENT_SOURCES = {
    "form": _l("Subscribe page"),
    "embed": _l("Form on another website"),
    "api": _l("API"),
    "confirm-link": _l("Confirmation link"),
    "preference-centre": _l("Preference centre"),
    "unsubscribe-page": _l("Unsubscribe page"),
    "one-click": _l("One-click unsubscribe in the mail program"),
    "mailto": _l("Unsubscribe by email"),
    "complaint": _l("Spam complaint"),
    "admin": _l("Editor"),
}


@bp.app_template_global("consent_source_label")
def consent_source_label(source: str) -> str:
    """Where a consent record came from, in the editor's words (``import:<id>`` too)."""
    if source.startswith("import:"):
        return _("Import %(number)s", number=source.removeprefix("import:"))
    return str(CONSENT_SOURCES.get(source, source))


@bp.app_template_global("shown_time")
def shown_time(moment: datetime | None) -> str:
    """A date in the editor's language and a 24-hour time, naming the time zone."""
    if moment is None:
        return ""
    zone = str(get_timezone())
    return f"{format_date(moment, 'medium')} {format_time(moment, 'HH:mm')} {zone}"


def shown_clock(moment: datetime) -> str:
    """The time of day in the editor's time zone, for "Saved at 10:42"."""
    return format_time(moment, "HH:mm")


bp.add_app_template_global(utcnow, "issue_now_utc")
bp.add_app_template_global(file_size, "file_size")


@bp.context_processor
def status_labels() -> dict:
    return {"subscriber_status_labels": SUBSCRIBER_STATUS}
