"""An event from end to end in a real browser with real mail: an editor creates a
conference in four languages with a deadline and three places and sends the invitation;
each subscriber's mail carries RSVP links in their language; two subscribers say yes and
register, someone new registers on the public page with double opt-in, the fourth waits;
one cancels and the waiting person moves up and is told in their language; the reminder
goes only to the registered; after the deadline the form is closed."""

import re
from datetime import timedelta

from campaign_helpers import send_all, start
from factories import PASSWORD, make_lists, make_subscriber, make_user
from playwright.sync_api import expect

from newsletter.extensions import db
from newsletter.i18n import utc_to_local
from newsletter.models import Event, Issue, Organisation, utcnow

PEOPLE = {
    "ana@example.org": ("en", "Ana"),
    "beto@example.org": ("es", "Beto"),
    "chloe@example.org": ("fr", "Chloé"),
    "dieter@example.org": ("de", "Dieter"),
}
TITLES = {
    "en": "Spring conference",
    "es": "Conferencia de primavera",
    "fr": "Conférence de printemps",
    "de": "Frühjahrskonferenz",
}
RSVP = re.compile(r"(http://\S+/rsvp/[\w.-]+)\?answer=(yes|maybe|no)")


def prepare() -> str:
    org = db.session.get(Organisation, 1) or Organisation(id=1)
    db.session.add(org)
    make_user("editor@example.org", "editor", name="Eddie")
    newsletter = make_lists()["newsletter"]
    for email, (language, name) in PEOPLE.items():
        make_subscriber(email, language, list_ids=(newsletter,), name=name)
    db.session.commit()
    return org.time_zone or "UTC"


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def local(moment, zone: str) -> str:
    return utc_to_local(moment, zone).strftime("%Y-%m-%dT%H:%M")


def test_a_conference_from_invitation_to_reminder(app, live_server, in_app, pages, smtp):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    zone = in_app(prepare)
    begins = (utcnow() + timedelta(days=20)).replace(second=0, microsecond=0)

    # The editor creates the conference in four languages: a deadline, three places.
    editor = pages("en-GB")
    editor.goto(live_server + "/admin/login")
    editor.fill("#email", "editor@example.org")
    editor.fill("#password", PASSWORD)
    editor.click("button[type=submit]")
    editor.goto(live_server + "/admin/events/new")
    editor.get_by_test_id("starts-at").fill(local(begins, zone))
    editor.get_by_test_id("ends-at").fill(local(begins + timedelta(hours=6), zone))
    editor.get_by_test_id("deadline").fill(local(begins - timedelta(days=3), zone))
    editor.get_by_test_id("capacity").fill("3")
    editor.get_by_label("Open a waiting list when it is full").check()
    editor.get_by_label("Shown on the public events page").check()
    for code, title in TITLES.items():
        editor.get_by_test_id(f"title-{code}").fill(title)
    editor.get_by_test_id("save-event").click()
    expect(editor.locator("p.notice.ok")).to_contain_text("The event is saved")
    event_id = int(re.search(r"/events/(\d+)", editor.url)[1])

    # It writes the invitation from the event and sends it.
    editor.get_by_role("link", name="Registrations").click()
    editor.get_by_test_id("write-invitation").click()
    expect(editor.locator("p.notice.ok")).to_contain_text("The invitation is written")
    issue_id = int(re.search(r"/issues/(\d+)/edit", editor.url)[1])
    editor.goto(f"{live_server}/admin/issues/{issue_id}/send")
    editor.get_by_test_id("confirm-send").click()
    expect(editor.locator("p.notice[data-category=started]")).to_contain_text(
        "Sending has started: 4 messages"
    )
    in_app(send_all, issue_id)
    invitations = {item.recipients[0]: item.message for item in smtp.settle()}
    assert set(invitations) == set(PEOPLE)
    links = {}
    for email, (language, _name) in PEOPLE.items():
        message = invitations[email]
        assert message["Content-Language"] == language
        assert TITLES[language] in message["Subject"]
        found = dict((answer, url) for url, answer in RSVP.findall(text_of(message)))
        assert set(found) == {"yes", "maybe", "no"}
        assert all(f"/{language}/rsvp/" in url for url in found.values())
        links[email] = found
    assert len({urls["yes"] for urls in links.values()}) == 4, "each link is its reader's"

    def say_yes_and_register(email: str, expected_status: str) -> None:
        language, _name = PEOPLE[email]
        page = pages(language, width=390)
        page.goto(links[email]["yes"] + "?answer=yes")
        page.get_by_test_id("rsvp-yes").click()
        expect(page.get_by_test_id("registration-form")).to_be_visible()
        page.get_by_test_id("register").click()
        expect(page.get_by_test_id("registration-status")).to_contain_text(expected_status)

    smtp.reset()
    say_yes_and_register("ana@example.org", "You are registered")
    say_yes_and_register("beto@example.org", "Está inscrito")
    # Someone who is not a subscriber registers on the public page, with double opt-in.
    nora = pages("fr", width=390)
    nora.goto(f"{live_server}/fr/events/{event_id}")
    nora.get_by_label("Nom").fill("Nora Martin")
    nora.get_by_label("Adresse e-mail").fill("nora@example.org")
    nora.get_by_test_id("register").click()
    expect(nora.get_by_test_id("registration-sent")).to_be_visible()
    [confirmation] = [
        item.message for item in smtp.wait_for(3) if item.recipients == ["nora@example.org"]
    ]
    nora.goto(re.search(r"(http://\S+/confirm)\b", text_of(confirmation))[1])
    nora.get_by_test_id("confirm-registration").click()
    expect(nora.get_by_test_id("registration-status")).to_contain_text("Vous êtes inscrit")
    # The fourth is on the waiting list.
    say_yes_and_register("dieter@example.org", "Warteliste")

    # Beto cancels from his registration page; Dieter moves up and is told in German.
    smtp.reset()
    beto = pages("es", width=390)
    beto.goto(links["beto@example.org"]["yes"])
    beto.get_by_test_id("rsvp-registration").get_by_role("link").click()
    beto.get_by_test_id("cancel-registration").click()
    expect(beto.get_by_test_id("registration-status")).to_contain_text("cancelada")
    [told] = [item.message for item in smtp.wait_for(1)]
    assert told["To"].endswith("<dieter@example.org>")
    assert told["Content-Language"] == "de"
    assert TITLES["de"] in told["Subject"]

    # The editor sees the answers and places, then writes the reminders.
    editor.goto(f"{live_server}/admin/events/{event_id}/registrations")
    expect(editor.get_by_test_id("count-invited").locator("td").first).to_have_text("4")
    expect(editor.get_by_test_id("count-registered").locator("td").first).to_have_text("3")
    expect(editor.get_by_test_id("count-cancelled").locator("td").first).to_have_text("1")
    editor.get_by_test_id("write-reminders").click()
    expect(editor.locator("p.notice.ok")).to_contain_text("The reminders are scheduled")
    reminders = in_app(
        lambda: [
            issue.id
            for issue in db.session.execute(
                db.select(Issue).where(Issue.audience_event_id == event_id).order_by(Issue.id)
            ).scalars()
        ]
    )
    assert len(reminders) == 2
    # The one due a day before goes out (the beat starts it when due; here, now).
    smtp.reset()
    in_app(start, reminders[1])
    in_app(send_all, reminders[1])
    reminded = {item.recipients[0]: item.message for item in smtp.settle()}
    assert set(reminded) == {"ana@example.org", "nora@example.org", "dieter@example.org"}
    assert reminded["nora@example.org"]["Content-Language"] == "fr"
    assert "Rappel" in reminded["nora@example.org"]["Subject"]
    assert "Erinnerung" in reminded["dieter@example.org"]["Subject"]

    # After the deadline the form is closed, and so are the invitation's links.
    def pass_deadline():
        db.session.get(Event, event_id).registration_deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()

    in_app(pass_deadline)
    late = pages("fr", width=390)
    late.goto(f"{live_server}/fr/events/{event_id}")
    expect(late.get_by_test_id("registration-closed")).to_be_visible()
    expect(late.get_by_test_id("registration-form")).to_have_count(0)
    late.goto(links["chloe@example.org"]["yes"])
    expect(late.get_by_test_id("rsvp-refused")).to_contain_text("expiré")
