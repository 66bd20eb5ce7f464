"""Events: editors write one in every language with its times in its own zone; the public
pages list upcoming and past ones, show one in the reader's language, and offer both as
iCalendar (one event's .ics and a feed of the upcoming ones)."""

from datetime import datetime, timedelta

import pytest
from helpers import csrf_token
from icalendar import Calendar

from newsletter import events
from newsletter.extensions import db
from newsletter.models import Event, EventText, utcnow

TEXTS = {
    "en": ("Seminar on workers' rights", "Two days of talks.", "Venue Hall", "1 Main St, Paris"),
    "es": ("Seminario sobre derechos laborales", "Dos días de charlas.", "Sala", "Calle 1"),
    "fr": ("Séminaire\u00a0: les droits des travailleurs", "Deux jours.", "Salle", "1 rue, Paris"),
    "de": ("Seminar über Arbeitsrechte", "Zwei Tage Vorträge.", "Halle", "Hauptstr. 1"),
}


def form_data(token: str, **changes) -> dict:
    data = {
        "csrf_token": token,
        "starts_at": "2030-05-08T10:00",
        "ends_at": "2030-05-09T17:30",
        "time_zone": "Europe/Paris",
        "registration_deadline": "2030-05-01T23:59",
        "capacity": "3",
        "waiting_list": "y",
        "online_url": "",
        "published": "y",
    }
    for code, (title, summary, place, address) in TEXTS.items():
        data |= {
            f"text_{code}-title": title,
            f"text_{code}-summary": summary,
            f"text_{code}-description": f"**{title}**\n\nProgramme.",
            f"text_{code}-place_name": place,
            f"text_{code}-place_address": address,
        }
    return data | changes


def event_count() -> int:
    return db.session.execute(db.select(db.func.count(Event.id))).scalar_one()


def make_event(starts_in: timedelta = timedelta(days=30), published=True, title="Seminar") -> int:
    start = (utcnow() + starts_in).replace(microsecond=0)
    event = events.save_event(
        None,
        events.EventTimes(start, start + timedelta(hours=3), "Europe/Berlin"),
        {"en": {"title": title}, "de": {"title": f"{title} (de)", "place_name": "Berlin"}},
        published=published,
    )
    db.session.commit()
    return event.id


def test_an_editor_writes_an_event_in_four_languages_in_its_own_time_zone(editor_client, in_app):
    token = csrf_token(editor_client, "/admin/events/new")
    response = editor_client.post("/admin/events/new", data=form_data(token))
    assert response.status_code == 302, response.get_data(as_text=True)

    def saved():
        event = db.session.execute(db.select(Event)).scalar_one()
        return (
            event.starts_at,
            event.ends_at,
            event.registration_deadline,
            event.capacity,
            event.waiting_list,
            {text.language: text.title for text in event.texts},
        )

    starts, ends, deadline, capacity, waiting, titles = in_app(saved)
    # Paris is two hours ahead of UTC in May.
    assert (starts, ends) == (datetime(2030, 5, 8, 8, 0), datetime(2030, 5, 9, 15, 30))
    assert deadline == datetime(2030, 5, 1, 21, 59)
    assert (capacity, waiting) == (3, True)
    assert titles == {code: fields[0] for code, fields in TEXTS.items()}
    page = editor_client.get(response.location).get_data(as_text=True)
    assert 'value="2030-05-08T10:00"' in page  # shown again in the event's zone


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"ends_at": "2030-05-08T09:00"}, "An event must end after it starts."),
        (
            {"registration_deadline": "2030-05-10T00:00"},
            "The registration deadline must be before the event ends.",
        ),
        ({"text_en-title": ""}, "An event needs a title in the default language."),
        ({"online_url": "javascript:alert(1)"}, "Enter an address that starts with https://"),
        ({"capacity": "0"}, "Number must be between 1 and 1000000."),
        ({"text_fr-title": "Titre\r\nBcc: x@example.org"}, "must fit on one line"),
        ({"text_de-title": "x" * 201}, "Field cannot be longer than 200 characters."),
        ({"starts_at": "9999-12-31T23:59", "time_zone": "Pacific/Kiritimati"}, ""),
        ({"time_zone": "Mars/Olympus"}, "Not a valid choice."),
    ],
)
def test_a_bad_event_is_refused_and_nothing_is_written(editor_client, in_app, changes, message):
    token = csrf_token(editor_client, "/admin/events/new")
    response = editor_client.post("/admin/events/new", data=form_data(token, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert in_app(event_count) == 0


def test_the_events_page_lists_upcoming_then_past_in_the_readers_language(client, in_app):
    soon = in_app(make_event, timedelta(days=3), title="Soon")
    later = in_app(make_event, timedelta(days=40), title="Later")
    past = in_app(make_event, -timedelta(days=10), title="Before")
    hidden = in_app(make_event, timedelta(days=5), published=False, title="Draft")
    page = client.get("/de/events").get_data(as_text=True)
    upcoming = page.split('data-testid="upcoming-events"')[1].split("</ul>")[0]
    assert upcoming.index(f"event-{soon}") < upcoming.index(f"event-{later}")
    assert "Soon (de)" in upcoming and "Berlin" in upcoming
    assert f"event-{past}" in page.split('data-testid="past-events"')[1]
    assert f"event-{hidden}" not in page and "Draft" not in page
    # Spanish has no text: the default language's shows, marked as English.
    spanish = client.get("/es/events").get_data(as_text=True)
    assert 'lang="en">Soon</a>' in spanish
    assert client.get(f"/de/events/{hidden}").status_code == 404
    assert client.get(f"/de/events/{hidden}.ics").status_code == 404
    assert client.get("/de/events/999999").status_code == 404


def test_the_event_page_shows_its_times_in_its_zone_and_links_both_ways(client, in_app):
    def prepare():
        event = events.save_event(
            None,
            events.EventTimes(
                datetime(2030, 5, 8, 8, 0),
                datetime(2030, 5, 8, 10, 0),
                "Europe/Paris",
                datetime(2030, 5, 1, 21, 59),
            ),
            {
                "en": {"title": "Seminar", "description": "<script>alert(1)</script>**Bold**"},
                "fr": {"title": "Séminaire", "summary": "Deux jours."},
            },
            published=True,
        )
        db.session.commit()
        return event.id

    event_id = in_app(prepare)
    page = client.get(f"/fr/events/{event_id}").get_data(as_text=True)
    assert "<h1>Séminaire</h1>" in page
    assert "10:00" in page and "12:00" in page  # Paris time, not UTC
    assert f'href="/fr/events/{event_id}.ics"' in page
    assert 'href="/fr/"' in page
    english = client.get(f"/en/events/{event_id}").get_data(as_text=True)
    assert "<strong>Bold</strong>" in english and "<script>" not in english
    assert 'href="/fr/events"' in client.get("/fr/").get_data(as_text=True)


def test_an_events_ics_is_in_the_readers_language_and_its_zone(client, in_app):
    def prepare():
        event = events.save_event(
            None,
            events.EventTimes(
                datetime(2030, 5, 8, 8, 0), datetime(2030, 5, 8, 10, 0), "Europe/Paris"
            ),
            {
                "en": {"title": "Seminar\r\nATTENDEE:mailto:x@example.org", "place_name": "Hall"},
                "de": {
                    "title": "Seminar auf Deutsch",
                    "summary": "Kurz",
                    "place_name": "Halle",
                    "place_address": "Hauptstr. 1",
                },
            },
            published=True,
        )
        db.session.commit()
        return event.id

    event_id = in_app(prepare)
    response = client.get(f"/de/events/{event_id}.ics")
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    calendar = Calendar.from_ical(response.data)
    [entry] = calendar.walk("VEVENT")
    assert str(entry["SUMMARY"]) == "Seminar auf Deutsch"
    assert entry["SUMMARY"].params["LANGUAGE"] == "de"
    start = entry.decoded("DTSTART")
    assert (start.hour, str(start.tzinfo)) == (10, "Europe/Paris")
    assert str(entry["LOCATION"]) == "Halle, Hauptstr. 1"
    assert f"/de/events/{event_id}" in str(entry["URL"])
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    # A line break in a title is text in the calendar, never a property of its own.
    english = Calendar.from_ical(client.get(f"/en/events/{event_id}.ics").data)
    [entry] = english.walk("VEVENT")
    assert "ATTENDEE" not in entry
    assert "ATTENDEE:mailto" in str(entry["SUMMARY"])


def test_the_feed_holds_the_upcoming_published_events(client, in_app):
    upcoming = in_app(make_event, timedelta(days=3), title="Soon")
    in_app(make_event, -timedelta(days=3), title="Before")
    in_app(make_event, timedelta(days=3), published=False, title="Hidden")
    calendar = Calendar.from_ical(client.get("/en/events.ics").data)
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Soon"]
    assert str(calendar.walk("VEVENT")[0]["UID"]).startswith(f"event-{upcoming}@")


def test_removing_a_languages_title_removes_its_text(in_app):
    event_id = in_app(make_event)

    def drop_german():
        event = db.session.get(Event, event_id)
        events.save_event(
            event,
            events.EventTimes(event.starts_at, event.ends_at, event.time_zone),
            {"en": {"title": "Seminar"}, "de": {"title": ""}},
            published=True,
        )
        db.session.commit()
        return db.session.execute(db.select(EventText.language)).scalars().all()

    assert in_app(drop_german) == ["en"]


def test_the_api_lists_events_with_their_texts(app, in_app):
    from test_api_v1 import ApiClient, make_token

    event_id = in_app(make_event)
    secret = in_app(make_token, "read")
    api = ApiClient(app.test_client(), secret)
    listed = api.get("/events").get_json()["items"]
    assert [item["id"] for item in listed] == [event_id]
    one = api.get(f"/events/{event_id}").get_json()
    assert one["time_zone"] == "Europe/Berlin" and one["published"] is True
    assert one["texts"]["de"]["place_name"] == "Berlin" and set(one["texts"]) == {"en", "de"}
    assert one["starts_at"].endswith("+00:00")
    assert api.get("/events/999999").status_code == 404
    assert ApiClient(app.test_client(), None).get("/events").status_code == 401
