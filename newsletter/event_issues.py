"""Issues written from an event: an invitation to the subscribers of the public lists, and
reminders to the registered, each in every language the event is written in, with the
event's block (its card and RSVP links). The editor reads and changes them like any issue.
"""

from contextlib import suppress
from datetime import timedelta

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from . import campaigns, events, subscriptions
from .campaigns import CampaignError, EventAudience
from .models import Event, EventGroup, Issue, User, utcnow

REMINDER_DAYS = (7, 1)
"""Reminders go this many days before the event starts."""


def block(event: Event) -> str:
    return f"::event[{event.id}]"


def _write(issue: Issue, event: Event, subject, intro, saved_by: User | None) -> None:
    for text in event.texts:
        with force_locale(text.language):
            campaigns.set_variant(
                issue,
                text.language,
                subject(text.title),
                f"{intro()}\n\n{block(event)}\n",
                saved_by=saved_by,
            )


def write_invitation(event: Event, saved_by: User | None = None) -> Issue:
    """A draft inviting the subscribers of the public lists (the editor may choose others)."""
    list_ids = {item.id for item in subscriptions.public_lists()}
    if not list_ids:
        raise CampaignError(_("There are no public lists to invite."), "no_lists")
    title = events.text_in(event, events.default_language()).title
    issue = campaigns.create_issue(
        _("Invitation: %(title)s", title=title), events.default_language(), list_ids
    )
    _write(
        issue,
        event,
        lambda title: _("Invitation: %(title)s", title=title),
        lambda: _("We would be glad to welcome you. Will you come?"),
        saved_by,
    )
    return issue


def write_reminders(event: Event, saved_by: User | None = None) -> list[Issue]:
    """A reminder to the registered for each of ``REMINDER_DAYS`` still ahead, scheduled
    when the organisation sends without approval, else drafts to approve and schedule.
    Who is registered is decided as each one goes out."""
    title = events.text_in(event, events.default_language()).title
    written = []
    for days in REMINDER_DAYS:
        when = event.starts_at - timedelta(days=days)
        if when <= utcnow():
            continue
        issue = campaigns.create_issue(
            ngettext(
                "Reminder %(num)d day before: %(title)s",
                "Reminder %(num)d days before: %(title)s",
                days,
                title=title,
            ),
            events.default_language(),
            set(),
            event_audience=EventAudience(event.id, EventGroup.REGISTERED),
        )
        _write(
            issue,
            event,
            lambda title: _("Reminder: %(title)s", title=title),
            lambda: _("You are registered. We look forward to seeing you."),
            saved_by,
        )
        # When approval comes first, the editor schedules it once approved.
        with suppress(CampaignError):
            campaigns.schedule(issue, when)
        written.append(issue)
    return written
