"""Public event pages: upcoming and past events, one event, and both as iCalendar."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_name
from flask import Response, abort, render_template
from flask_babel import get_locale
from markupsafe import Markup

from .. import event_calendar, events
from ..mail.markdown_dialect import markdown_to_html
from ..models import Event
from .routes import bp


def shown_in_zone(moment: datetime, event: Event) -> str:
    """A time of ``event`` in its own zone, in the reader's language: "8 mai 2027, 10:00"."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(event.time_zone))
    return format_datetime(local, "medium", locale=get_locale())


def zone_name(event: Event) -> str:
    return get_timezone_name(ZoneInfo(event.time_zone), locale=get_locale())


def page_helpers() -> dict:
    return {
        "text_in": events.text_in,
        "shown_in_zone": shown_in_zone,
        "zone_name": zone_name,
        "description_html": lambda text: Markup(markdown_to_html(text.description)),
    }


@bp.route("/<lang>/events")
def events_page():
    upcoming, past = events.published_events()
    return render_template("public/events.html", upcoming=upcoming, past=past, **page_helpers())


@bp.route("/<lang>/events/<int:event_id>")
def event(event_id: int):
    found = events.published_event(event_id)
    if found is None:
        abort(404)
    return render_template("public/event.html", event=found, **page_helpers())


def ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/<lang>/events/<int:event_id>.ics")
def event_ics(event_id: int):
    found = events.published_event(event_id)
    if found is None:
        abort(404)
    body = event_calendar.calendar_of([found], str(get_locale()))
    return ics(body, f"event-{found.id}.ics")


@bp.route("/<lang>/events.ics")
def events_feed():
    """The upcoming events as a calendar to subscribe to."""
    upcoming, _past = events.published_events()
    return ics(event_calendar.calendar_of(upcoming, str(get_locale())), "events.ics")
