"""Public pages and mail on a phone, in a real browser: long German words fit the screen,
and links wear the organisation's colour."""

import uuid
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import pytest
from flask_babel import force_locale
from playwright.sync_api import expect

from newsletter.extensions import db
from newsletter.mail.render import render_email
from newsletter.models import MailingList
from newsletter.organisation import current_organisation

PHONE = {"width": 375, "height": 812}
COMPOUND = "Frühjahrsmitgliederversammlungseinladungsbenachrichtigungsdienst"


def phone(browser, locale: str):
    context = browser.new_context(viewport=PHONE, locale=locale)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def german_phone(browser):
    yield from phone(browser, "de-DE")


def make_compound_list() -> None:
    names = {"en": "Spring meeting", "de": COMPOUND}
    db.session.add(MailingList(slug="spring", names=names, public=True))
    db.session.commit()


def assert_fits_and_hyphenates(page, selector: str) -> None:
    assert page.evaluate("window.innerWidth") == PHONE["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"the page is {scroll_width} px wide"
    word = page.locator(selector, has_text=COMPOUND).first
    assert word.evaluate("e => getComputedStyle(e).hyphens") == "auto"
    assert word.evaluate("e => e.closest('[lang]').lang") == "de"


def test_long_german_word_fits_a_phone_on_the_subscribe_page(live_server, german_phone, in_app):
    in_app(make_compound_list)
    german_phone.goto(f"{live_server}/de/")
    assert_fits_and_hyphenates(german_phone, "label.choice strong")


def test_long_german_word_fits_a_phone_in_a_mail(live_server, german_phone, in_app):
    def confirmation_html() -> str:
        with force_locale("de"):
            return render_email(
                "confirm",
                "Bitte bestätigen Sie Ihr Abonnement",
                reader_name="Anna",
                lists=[COMPOUND],
                confirm_url="https://newsletter.example/confirm",
                preferences_url="https://newsletter.example/preferences",
                unsubscribe_url="https://newsletter.example/unsubscribe",
            ).html

    german_phone.set_content(in_app(confirmation_html))
    assert_fits_and_hyphenates(german_phone, "li")


def test_links_and_buttons_wear_the_organisations_colour(live_server, german_phone, in_app):
    def choose_colours() -> None:
        org = current_organisation()
        org.name, org.brand_color = "Red Internacional", "#aa0033"
        db.session.add(org)
        db.session.commit()

    in_app(choose_colours)
    german_phone.goto(f"{live_server}/de/")
    link = german_phone.locator("main a").first
    assert link.evaluate("e => getComputedStyle(e).color") == "rgb(170, 0, 51)"
    button = german_phone.locator("button[type=submit]")
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(170, 0, 51)"


def put_in_mailbox(app, html: str, text: str) -> str:
    """A message in the dev mailbox, as the mailbox transport stores it; returns its id."""
    message = EmailMessage()
    message["From"] = "Newsletter <news@newsletter.example>"
    message["To"] = "anna@example.org"
    message["Subject"] = "Lange Links"
    message["Date"] = formatdate()
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message_id = uuid.uuid4().hex
    folder = Path(app.config["MAILBOX_PATH"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{message_id}.eml").write_bytes(message.as_bytes())
    return message_id


def test_dev_mailbox_message_with_a_long_link_fits_a_phone(app, live_server, german_phone):
    link = "https://newsletter.example/de/confirm/" + "x" * (300 - 38)
    assert len(link) == 300
    message_id = put_in_mailbox(app, f'<p><a href="{link}">Bestätigen</a></p>', f"{link}\n")
    german_phone.goto(f"{live_server}/dev/mailbox/{message_id}")
    expect(german_phone.locator("ul.links a")).to_have_text(link)
    expect(german_phone.locator("pre.mail-text")).to_contain_text(link)
    scroll_width = german_phone.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"the page is {scroll_width} px wide"


def test_the_events_pages_fit_a_phone_and_lead_to_the_calendar(live_server, german_phone, in_app):
    from datetime import timedelta

    from newsletter import events
    from newsletter.models import utcnow

    def make_event() -> int:
        start = (utcnow() + timedelta(days=20)).replace(second=0, microsecond=0)
        event = events.save_event(
            None,
            events.EventTimes(start, start + timedelta(hours=4), "Europe/Berlin"),
            {
                "en": {"title": "Spring meeting"},
                "de": {
                    "title": COMPOUND,
                    "summary": "Ein Tag mit Vorträgen.",
                    "description": "## Programm\n\n- Begrüßung\n- Vorträge",
                    "place_name": "Gewerkschaftshaus",
                    "place_address": "Hauptstraße 1, 10115 Berlin",
                },
            },
            published=True,
        )
        db.session.commit()
        return event.id

    event_id = in_app(make_event)
    german_phone.goto(f"{live_server}/de/")
    german_phone.get_by_test_id("events-link").click()
    german_phone.get_by_role("link", name=COMPOUND).click()
    expect(german_phone.locator("h1")).to_have_text(COMPOUND)
    assert_fits_and_hyphenates(german_phone, "h1")
    expect(german_phone.get_by_test_id("event")).to_contain_text("Gewerkschaftshaus")
    with german_phone.expect_download() as download:
        german_phone.get_by_test_id("event-ics").click()
    assert download.value.suggested_filename == f"event-{event_id}.ics"
    assert "SUMMARY;LANGUAGE=de:" in Path(download.value.path()).read_text()


@pytest.fixture
def french_phone(browser):
    yield from phone(browser, "fr-FR")


def test_someone_registers_for_an_event_from_a_phone_and_confirms_by_mail(
    app, live_server, french_phone, in_app, smtp
):
    import re
    from datetime import timedelta

    from newsletter import events
    from newsletter.models import Registration, utcnow

    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"

    def make_event() -> int:
        start = (utcnow() + timedelta(days=20)).replace(second=0, microsecond=0)
        event = events.save_event(
            None,
            events.EventTimes(start, start + timedelta(hours=4), "Europe/Paris"),
            {"en": {"title": "Seminar"}, "fr": {"title": "Séminaire de printemps"}},
            capacity=10,
            published=True,
            questions={"country": "required", "dietary": "optional"},
        )
        db.session.commit()
        return event.id

    event_id = in_app(make_event)
    page = french_phone
    page.goto(f"{live_server}/fr/events/{event_id}")
    page.get_by_label("Nom").fill("Camille Dubois")
    page.get_by_label("Adresse e-mail").fill("camille@example.org")
    page.get_by_label("Pays").select_option(label="Belgique")
    page.get_by_label("Besoins alimentaires").fill("Végétarien")
    page.get_by_test_id("register").click()
    expect(page.get_by_test_id("registration-sent")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    mail = smtp.wait_for(1)[0].message
    text = mail.get_body(preferencelist=("plain",)).get_content()
    page.goto(re.search(r"(http://\S+/confirm)\b", text)[1])
    page.get_by_test_id("confirm-registration").click()
    expect(page.get_by_test_id("registration-status")).to_contain_text("Vous êtes inscrit")
    answers = in_app(lambda: db.session.execute(db.select(Registration.answers)).scalar_one())
    assert answers == {"country": "BE", "dietary": "Végétarien"}
    assert smtp.wait_for(2)[1].message["Subject"].startswith("Vous êtes inscrit")
