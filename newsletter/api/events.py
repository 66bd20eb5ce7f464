"""``/api/v1/events``: events with their texts per language (written in the editors' UI)."""

from .. import events, registrations
from ..extensions import db
from ..models import Event
from .auth import token_blueprint
from .schemas import EventList, EventSchema, RegistrationList

bp = token_blueprint("events", "Events: times, texts per language and places")
ID = "<int(max=2147483647):event_id>"


@bp.route("")
@bp.response(200, EventList)
def list_events() -> dict:
    """Every event, published or not, the latest start first."""
    return {"items": events.all_events()}


@bp.route(f"/{ID}")
@bp.response(200, EventSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read_event(event_id: int) -> Event:
    """One event."""
    return db.get_or_404(Event, event_id)


@bp.route(f"/{ID}/registrations")
@bp.response(200, RegistrationList)
@bp.alt_response(404, response="NOT_FOUND")
def list_registrations(event_id: int) -> dict:
    """Everyone who registered for the event, in the order they came, with their answers."""
    event = db.get_or_404(Event, event_id)
    return {"items": registrations.event_registrations(event.id)}
