"""Events: writing them (times once, texts per language), which are upcoming, and what a
reader of one language reads of them.

An event's text in a language it is not written in is the default language's (else the
first written), so every public page has something to show; the page says which language
it is in.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_name
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .extensions import db
from .models import Event, EventText, utcnow

TEXT_FIELDS = ("title", "summary", "description", "place_name", "place_address", "free_question")
TEXT_LIMITS = {
    "title": 200,
    "summary": 500,
    "place_name": 200,
    "place_address": 500,
    "free_question": 200,
}
# What the registration form may ask, in the form's order; each "optional" or "required".
QUESTIONS = ("organisation", "country", "dietary", "accessibility", "free_text")
ASKED = ("optional", "required")
QUESTION_LABELS = {
    "organisation": _l("Organisation"),
    "country": _l("Country"),
    "dietary": _l("Dietary needs"),
    "accessibility": _l("Accessibility needs"),
    "free_text": _l("Your own question"),
}


class EventError(ValueError):
    """An event that can't be saved as given; the message is for the editor."""


@dataclass(frozen=True)
class EventTimes:
    """When an event takes place, in UTC, and the zone its times are shown in."""

    starts_at: datetime
    ends_at: datetime
    time_zone: str
    registration_deadline: datetime | None = None


def save_event(
    event: Event | None,
    times: EventTimes,
    texts: dict[str, dict[str, str]],
    *,
    capacity: int | None = None,
    waiting_list: bool = False,
    online_url: str | None = None,
    published: bool = False,
    questions: dict[str, str] | None = None,
) -> Event:
    """Create or change an event; ``texts`` maps a language to its fields (a language whose
    title is empty has no text). Raises ``EventError`` and changes nothing if it can't be."""
    check_times(times)
    if online_url and not online_url.startswith(("https://", "http://")):
        raise EventError(_("Enter an address that starts with https:// or http://."))
    questions = {key: value for key, value in (questions or {}).items() if value}
    if any(key not in QUESTIONS or value not in ASKED for key, value in questions.items()):
        raise EventError(_("Choose for each question whether it is asked."))
    if (
        "free_text" in questions
        and not (texts.get(default_language(), {}).get("free_question") or "").strip()
    ):
        raise EventError(_("Your own question needs a wording in the default language."))
    if capacity is not None and capacity < 1:
        raise EventError(_("The capacity must be at least 1, or empty for no limit."))
    written = {code: fields for code, fields in texts.items() if fields.get("title", "").strip()}
    if default_language() not in written:
        raise EventError(_("An event needs a title in the default language."))
    unknown = set(written) - set(current_app.config["LANGUAGES"])
    if unknown:
        raise EventError(_("Unknown languages: %(codes)s.", codes=", ".join(sorted(unknown))))
    if event is None:
        event = Event()
        db.session.add(event)
    event.starts_at, event.ends_at = times.starts_at, times.ends_at
    event.time_zone, event.registration_deadline = times.time_zone, times.registration_deadline
    event.capacity, event.waiting_list = capacity, waiting_list
    event.online_url, event.published = online_url or None, published
    event.questions = questions
    for text in list(event.texts):
        if text.language not in written:
            event.texts.remove(text)
    for code, fields in written.items():
        text = event.text(code)
        if text is None:
            text = EventText(language=code)
            event.texts.append(text)
        for name in TEXT_FIELDS:
            value = (fields.get(name) or "").strip()
            limit = TEXT_LIMITS.get(name)
            setattr(text, name, value[:limit] if limit else value)
    return event


def asked_questions(event: Event) -> list[str]:
    """The questions ``event`` asks, in the form's order."""
    return [key for key in QUESTIONS if (event.questions or {}).get(key)]


def default_language() -> str:
    return current_app.config["DEFAULT_LANGUAGE"]


def check_times(times: EventTimes) -> None:
    if times.ends_at <= times.starts_at:
        raise EventError(_("An event must end after it starts."))
    deadline = times.registration_deadline
    if deadline is not None and deadline > times.ends_at:
        raise EventError(_("The registration deadline must be before the event ends."))


def text_in(event: Event, language: str) -> EventText:
    """The event's text in ``language``, else in the default language, else the first."""
    return event.text(language) or event.text(default_language()) or event.texts[0]


def shown_in_zone(moment: datetime, event: Event) -> str:
    """A time of ``event`` in its own zone, in the current language: "8 mai 2027, 10:00"."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(event.time_zone))
    return format_datetime(local, "medium", locale=get_locale())


def zone_name(event: Event) -> str:
    return get_timezone_name(ZoneInfo(event.time_zone), locale=get_locale())


def published_events() -> tuple[list[Event], list[Event]]:
    """Published events: those not over yet (soonest first), then past ones (latest first)."""
    now = utcnow()
    query = db.select(Event).where(Event.published)
    upcoming = db.session.execute(
        query.where(Event.ends_at > now).order_by(Event.starts_at, Event.id)
    ).scalars()
    past = db.session.execute(
        query.where(Event.ends_at <= now).order_by(Event.starts_at.desc(), Event.id.desc())
    ).scalars()
    return list(upcoming), list(past)


def all_events() -> list[Event]:
    return list(
        db.session.execute(
            db.select(Event).order_by(Event.starts_at.desc(), Event.id.desc())
        ).scalars()
    )


def published_event(event_id: int) -> Event | None:
    event = db.session.get(Event, event_id)
    return event if event is not None and event.published else None
