"""Events as iCalendar (RFC 5545): one event's ``.ics`` and the feed of upcoming ones, in
a reader's language, with the event's own time zone (and its VTIMEZONE)."""

from datetime import UTC
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from .events import text_in
from .links import external_url
from .models import Event
from .organisation import current_organisation


def calendar_of(events: list[Event], language: str) -> bytes:
    calendar = Calendar()
    name = current_organisation().name or "Newsletter"
    calendar.add("prodid", f"-//{name}//Events//{language.upper()}")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(calendar_event(event, language))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def calendar_event(event: Event, language: str) -> CalendarEvent:
    text = text_in(event, language)
    zone = ZoneInfo(event.time_zone)
    page = external_url("public.event", lang=language, event_id=event.id)
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.id}@{urlsplit(current_app.config['BASE_URL']).hostname}")
    entry.add("dtstamp", event.updated_at.replace(tzinfo=UTC))
    entry.add("dtstart", event.starts_at.replace(tzinfo=UTC).astimezone(zone))
    entry.add("dtend", event.ends_at.replace(tzinfo=UTC).astimezone(zone))
    entry.add("summary", text.title, parameters={"LANGUAGE": text.language})
    description = "\n\n".join(part for part in (text.summary, text.description, page) if part)
    entry.add("description", description, parameters={"LANGUAGE": text.language})
    place = ", ".join(part for part in (text.place_name, text.place_address) if part)
    if place or event.online_url:
        entry.add("location", place or event.online_url)
    entry.add("url", page)
    return entry
