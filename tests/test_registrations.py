"""Registering for an event: double opt-in for anyone who is not a confirmed subscriber,
the capacity and the waiting list (also under two requests at once), cancelling, the mails
in the registrant's language, the editors' view, and the registrant's data."""

import re
import threading
from datetime import timedelta

import pytest
from factories import make_subscriber
from helpers import csrf_token, tasks_done

from newsletter import events, registrations, subscriptions
from newsletter.extensions import db
from newsletter.models import Event, Registration, RegistrationStatus, Subscriber, utcnow


def make_event(capacity=None, waiting_list=False, closes_in=timedelta(days=10)) -> int:
    start = (utcnow() + timedelta(days=20)).replace(microsecond=0)
    event = events.save_event(
        None,
        events.EventTimes(start, start + timedelta(hours=3), "Europe/Paris", utcnow() + closes_in),
        {"en": {"title": "Seminar"}, "fr": {"title": "Séminaire"}, "de": {"title": "Seminar DE"}},
        capacity=capacity,
        waiting_list=waiting_list,
        published=True,
    )
    db.session.commit()
    return event.id


def register(client, lang: str, event_id: int, email: str, name: str = "Ana", **extra):
    token = csrf_token(client, f"/{lang}/events/{event_id}")
    response = client.post(
        f"/{lang}/events/{event_id}/register",
        data={"csrf_token": token, "name": name, "email": email} | extra,
    )
    tasks_done()
    return response


def statuses(event_id: int) -> dict[str, str]:
    rows = db.session.execute(
        db.select(Registration.email, Registration.status).where(Registration.event_id == event_id)
    ).all()
    return {email: status.value for email, status in rows}


def link(message, kind: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"http://\S+/registrations/[\w-]+{kind}", text)[0]


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_someone_new_confirms_by_mail_and_gets_the_calendar(client, in_app, smtp):
    event_id = in_app(make_event)
    response = register(client, "fr", event_id, "new@example.org", "Nadia")
    assert response.status_code == 302 and response.location.endswith("?sent=1")
    assert 'data-testid="registration-sent"' in client.get(response.location).get_data(as_text=True)
    [mail] = [item.message for item in smtp.wait_for(1)]
    assert mail["Content-Language"] == "fr"
    assert mail["Subject"] == "Veuillez confirmer votre inscription\u00a0: Séminaire"
    confirm = path(link(mail, "/confirm"))
    # Opening the link (a mail scanner does) changes nothing; the button does.
    page = client.get(confirm).get_data(as_text=True)
    assert 'data-testid="confirm-registration"' in page
    assert in_app(statuses, event_id) == {"new@example.org": "pending"}
    token = csrf_token(client, confirm)
    done = client.post(confirm, data={"csrf_token": token})
    tasks_done()
    assert done.status_code == 302
    assert in_app(statuses, event_id) == {"new@example.org": "registered"}
    assert "Vous êtes inscrit" in client.get(done.location).get_data(as_text=True)
    second = smtp.wait_for(2)[1].message
    assert second["Subject"].startswith("Vous êtes inscrit")
    [ics] = [part for part in second.iter_attachments()]
    assert ics.get_content_type() == "text/calendar"
    assert "SUMMARY;LANGUAGE=fr:Séminaire" in ics.get_content()
    # The link works once.
    again = client.post(confirm, data={"csrf_token": token})
    tasks_done()
    assert again.status_code == 302 and len(smtp.settle()) == 2


def test_a_confirmed_subscriber_is_registered_at_once(client, in_app, smtp):
    event_id = in_app(make_event)
    member = in_app(lambda: make_subscriber("member@example.org", "de").id)
    register(client, "de", event_id, "Member@Example.org")
    assert in_app(statuses, event_id) == {"member@example.org": "registered"}
    linked = in_app(lambda: db.session.execute(db.select(Registration.subscriber_id)).scalar_one())
    assert linked == member
    mail = smtp.wait_for(1)[0].message
    assert mail["Content-Language"] == "de" and mail["Subject"].endswith("Seminar DE")


def test_the_waiting_list_fills_the_place_someone_gives_up(client, in_app, smtp):
    event_id = in_app(make_event, 2, True)
    for email, lang in (("a@example.org", "en"), ("b@example.org", "fr"), ("c@example.org", "de")):
        in_app(make_subscriber, email, lang)
        register(client, lang, event_id, email)
    assert in_app(statuses, event_id) == {
        "a@example.org": "registered",
        "b@example.org": "registered",
        "c@example.org": "waiting",
    }
    page = client.get(f"/en/events/{event_id}").get_data(as_text=True)
    assert 'data-testid="registration-full"' in page and "waiting list" in page
    mails = {item.recipients[0]: item.message for item in smtp.wait_for(3)}
    manage = path(link(mails["a@example.org"], ""))
    token = csrf_token(client, manage)
    client.post(manage, data={"csrf_token": token})
    tasks_done()
    assert in_app(statuses, event_id)["a@example.org"] == "cancelled"
    assert in_app(statuses, event_id)["c@example.org"] == "registered"
    promoted = smtp.wait_for(4)[3].message
    assert promoted["To"].endswith("c@example.org>") or "c@example.org" in promoted["To"]
    assert promoted["Content-Language"] == "de"
    assert "text/calendar" in [p.get_content_type() for p in promoted.iter_attachments()]


def test_a_full_event_without_a_waiting_list_takes_no_one_more(client, in_app, smtp):
    event_id = in_app(make_event, 1)
    register(client, "en", event_id, "late@example.org")  # pending, not confirmed yet
    in_app(make_subscriber, "first@example.org", "en")
    register(client, "en", event_id, "first@example.org")
    page = client.get(f"/en/events/{event_id}").get_data(as_text=True)
    assert 'data-testid="registration-form"' not in page
    confirm = path(link(smtp.wait_for(2)[0].message, "/confirm"))
    client.post(confirm, data={"csrf_token": csrf_token(client, confirm)})
    tasks_done()
    assert in_app(statuses, event_id) == {
        "first@example.org": "registered",
        "late@example.org": "cancelled",
    }
    assert smtp.wait_for(3)[2].message["Subject"].startswith("Sorry, no place is left")


def test_registration_closes_at_the_deadline(client, in_app):
    event_id = in_app(make_event, closes_in=-timedelta(minutes=1))
    page = client.get(f"/en/events/{event_id}").get_data(as_text=True)
    assert 'data-testid="registration-closed"' in page
    token = csrf_token(client, "/en/")  # the page has no form now; a forged POST still comes
    response = client.post(
        f"/en/events/{event_id}/register",
        data={"csrf_token": token, "name": "Late", "email": "late@example.org"},
    )
    assert response.status_code == 409
    assert "Registration for this event is closed." in response.get_data(as_text=True)
    assert in_app(statuses, event_id) == {}


@pytest.mark.parametrize(
    "fields, status, message",
    [
        ({"email": "not-an-address"}, 400, "Please enter a valid email address."),
        ({"name": "Ana\r\nBcc: x@example.org"}, 400, "must fit on one line"),
        ({"name": ""}, 400, "Please enter your name."),
        ({"name": "x" * 101}, 400, "A name can be at most 100 characters."),
        ({"website": "https://spam.example"}, 302, ""),
    ],
)
def test_bad_registrations_are_refused_and_nothing_is_written(
    client, in_app, smtp, fields, status, message
):
    event_id = in_app(make_event)
    data = {"email": "ok@example.org", "name": "Ana"} | fields
    response = register(client, "en", event_id, data.pop("email"), data.pop("name"), **data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert in_app(statuses, event_id) == {}
    assert smtp.settle() == []


def test_forged_and_missing_tokens_reach_nothing(client, in_app):
    event_id = in_app(make_event)
    for url in (
        "/en/registrations/forged-token",
        "/en/registrations/forged-token/confirm",
        "/en/registrations/" + "x" * 500,
    ):
        assert client.get(url).status_code == 404
    no_csrf = client.post(
        f"/en/events/{event_id}/register", data={"name": "A", "email": "a@example.org"}
    )
    assert no_csrf.status_code == 400
    assert client.post("/en/events/999999/register", data={}).status_code in (400, 404)
    assert in_app(statuses, event_id) == {}


def test_two_registrations_at_once_get_no_more_than_the_capacity(app, in_app):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has no row locks to wait on")
    event_id = in_app(make_event, 1)
    for number in range(4):
        in_app(make_subscriber, f"p{number}@example.org", "en")
    barrier = threading.Barrier(4)

    def take(email: str) -> None:
        with app.app_context():
            event = db.session.get(Event, event_id)
            barrier.wait()
            registrations.register(event, email, "P", "en")
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=take, args=(f"p{n}@example.org",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    values = list(in_app(statuses, event_id).values())
    assert sorted(values) == ["cancelled", "cancelled", "cancelled", "registered"]


def test_editors_see_the_registrations_and_export_them_safely(editor_client, in_app):
    event_id = in_app(make_event, 5)

    def prepare():
        event = db.session.get(Event, event_id)
        for email, name, lang in (
            ("a@example.org", "=HYPERLINK(1)", "fr"),
            ("b@example.org", "Bea", "de"),
        ):
            make_subscriber(email, lang)
            registrations.register(event, email, name, lang)
        db.session.commit()

    in_app(prepare)
    page = editor_client.get(f"/admin/events/{event_id}/registrations").get_data(as_text=True)
    counts = page.split('data-testid="count-registered"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', counts) == ["2", "0", "0", "1", "1"]
    csv = editor_client.get(f"/admin/events/{event_id}/registrations.csv").get_data(as_text=True)
    assert '"\'=HYPERLINK(1)"' in csv and '"b@example.org","Bea","de","registered"' in csv


def test_registrations_are_in_the_data_export_and_go_with_erasure(in_app):
    event_id = in_app(make_event)

    def prepare():
        make_subscriber("gdpr@example.org", "en")
        registrations.register(
            db.session.get(Event, event_id), "gdpr@example.org", "G", "en", {"dietary": "Vegan"}
        )
        db.session.commit()

    in_app(prepare)

    def export_and_erase():
        subscriber = db.session.execute(
            db.select(Subscriber).filter_by(email="gdpr@example.org")
        ).scalar_one()
        exported = subscriptions.export_data(subscriber)["registrations"]
        subscriptions.erase(subscriber)
        db.session.commit()
        return exported

    exported = in_app(export_and_erase)
    assert [(r["event_id"], r["status"], r["answers"]) for r in exported] == [
        (event_id, "registered", {"dietary": "Vegan"})
    ]
    assert in_app(statuses, event_id) == {}


def test_cancelling_twice_changes_nothing(in_app):
    event_id = in_app(make_event, 1, True)

    def run():
        event = db.session.get(Event, event_id)
        for email in ("x@example.org", "y@example.org"):
            make_subscriber(email, "en")
            registrations.register(event, email, "X", "en")
        first = db.session.execute(
            db.select(Registration).filter_by(email="x@example.org")
        ).scalar_one()
        promoted = registrations.cancel(first)
        again = registrations.cancel(first)
        db.session.commit()
        return [r.email for r in promoted], again, first.status

    promoted, again, status = in_app(run)
    assert (promoted, again, status) == (["y@example.org"], [], RegistrationStatus.CANCELLED)


def test_an_editor_gives_a_waiting_person_a_place_and_prints_the_check_in_list(
    editor_client, in_app, smtp
):
    event_id = in_app(make_event, 1, True)

    def prepare():
        event = db.session.get(Event, event_id)
        for email, name in (("zoe@example.org", "Zoé"), ("adam@example.org", "Adam")):
            make_subscriber(email, "fr")
            registrations.register(event, email, name, "fr")
        db.session.commit()
        return db.session.execute(
            db.select(Registration.id).filter_by(email="adam@example.org")
        ).scalar_one()

    waiting = in_app(prepare)
    page = f"/admin/events/{event_id}/registrations"
    token = csrf_token(editor_client, page)
    moved = editor_client.post(
        f"/admin/events/{event_id}/registrations/{waiting}/place", data={"csrf_token": token}
    )
    tasks_done()
    assert moved.status_code == 302
    assert in_app(statuses, event_id) == {
        "zoe@example.org": "registered",
        "adam@example.org": "registered",
    }
    [mail] = [m.message for m in smtp.wait_for(1) if "adam@example.org" in m.recipients]
    assert mail["Content-Language"] == "fr" and "place" in mail["Subject"]
    # Only a waiting person moves, only with a valid form, only within their event.
    again = editor_client.post(
        f"/admin/events/{event_id}/registrations/{waiting}/place", data={"csrf_token": token}
    )
    assert again.status_code == 302 and len(smtp.settle()) == 1
    assert (
        editor_client.post(
            f"/admin/events/{event_id + 1}/registrations/{waiting}/place",
            data={"csrf_token": token},
        ).status_code
        == 404
    )
    listing = editor_client.get(f"/admin/events/{event_id}/check-in").get_data(as_text=True)
    rows = listing.split('data-testid="check-in-list"')[1]
    assert rows.index("Adam") < rows.index("Zoé")
    assert "2 people registered" in listing


# Questions


def make_event_with_questions() -> int:
    start = (utcnow() + timedelta(days=20)).replace(microsecond=0)
    event = events.save_event(
        None,
        events.EventTimes(start, start + timedelta(hours=3), "Europe/Paris"),
        {
            "en": {"title": "Seminar", "free_question": "Which workshop?"},
            "fr": {"title": "Séminaire", "free_question": "Quel atelier\u202f?"},
        },
        published=True,
        questions={"country": "required", "dietary": "optional", "free_text": "required"},
    )
    db.session.commit()
    return event.id


ANSWERS = {"answer_country": "DE", "answer_dietary": "Vegetarian", "answer_free_text": "B"}


def test_the_form_asks_the_events_questions_in_the_readers_language(client, in_app):
    event_id = in_app(make_event_with_questions)
    page = client.get(f"/fr/events/{event_id}").get_data(as_text=True)
    assert ">Pays</label>" in page and '<option value="DE">Allemagne</option>' in page
    assert "Quel atelier\u202f?" in page
    assert "answer_organisation" not in page  # not asked


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"answer_country": ""}, "Please answer this question."),
        ({"answer_free_text": ""}, "Please answer this question."),
        ({"answer_country": "XX"}, "Not a valid choice."),
        ({"answer_dietary": "No \x7f delete"}, "An answer can't contain control characters."),
        ({"answer_dietary": "evil\u202etxt.exe"}, "An answer can't contain control characters."),
        ({"answer_dietary": "No \x07 bell"}, "control characters"),  # refused site-wide first
        ({"answer_dietary": "x" * 501}, "Field cannot be longer than 500 characters."),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_written(client, in_app, smtp, changes, message):
    event_id = in_app(make_event_with_questions)
    response = register(client, "en", event_id, "q@example.org", **(ANSWERS | changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert in_app(statuses, event_id) == {}
    assert smtp.settle() == []


def test_answers_are_kept_and_shown_to_editors_and_in_the_export(client, editor_client, in_app):
    event_id = in_app(make_event_with_questions)
    answers = ANSWERS | {"answer_dietary": "=cmd|' /C calc'!A0\nno nuts"}
    assert register(client, "en", event_id, "q@example.org", **answers).status_code == 302
    stored = in_app(lambda: db.session.execute(db.select(Registration.answers)).scalar_one())
    assert stored == {"country": "DE", "dietary": answers["answer_dietary"], "free_text": "B"}
    page = editor_client.get(f"/admin/events/{event_id}/registrations").get_data(as_text=True)
    assert ">Dietary needs</th>" in page and ">DE</td>" in page
    csv = editor_client.get(f"/admin/events/{event_id}/registrations.csv").get_data(as_text=True)
    header = csv.splitlines()[0]
    assert header.endswith('"country","dietary","free_text"')
    assert "\"'=cmd" in csv


def test_an_editor_sets_the_questions_and_a_free_question_needs_its_wording(editor_client, in_app):
    from test_events import form_data

    token = csrf_token(editor_client, "/admin/events/new")
    data = form_data(token, question_country="required", question_free_text="optional")
    refused = editor_client.post("/admin/events/new", data=data)
    assert refused.status_code == 422
    assert "Your own question needs a wording in the default language." in refused.get_data(
        as_text=True
    )
    data["text_en-free_question"] = "Which workshop?"
    made = editor_client.post("/admin/events/new", data=data)
    assert made.status_code == 302
    questions = in_app(lambda: db.session.execute(db.select(Event.questions)).scalar_one())
    assert questions == {"country": "required", "free_text": "optional"}
    forged = editor_client.post("/admin/events/new", data=data | {"question_dietary": "always"})
    assert forged.status_code == 422


def test_the_api_gives_the_registration_counts_and_the_people(app, in_app):
    from test_api_v1 import ApiClient, make_token

    event_id = in_app(make_event_with_questions)

    def prepare():
        event = db.session.get(Event, event_id)
        make_subscriber("api@example.org", "fr")
        registrations.register(event, "api@example.org", "Api", "fr", {"country": "FR"})
        registrations.register(event, "new@example.org", "New", "en")
        db.session.commit()

    in_app(prepare)
    api = ApiClient(app.test_client(), in_app(make_token, "read"))
    event = api.get(f"/events/{event_id}").get_json()
    assert event["registrations"] == {"pending": 1, "registered": 1, "waiting": 0, "cancelled": 0}
    assert event["questions"]["country"] == "required"
    people = api.get(f"/events/{event_id}/registrations").get_json()["items"]
    assert [(p["email"], p["status"], p["answers"]) for p in people] == [
        ("api@example.org", "registered", {"country": "FR"}),
        ("new@example.org", "pending", {}),
    ]
    assert api.get("/events/999999/registrations").status_code == 404
