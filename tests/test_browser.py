"""A whole subscription lived in a real browser: headless Chromium against a real HTTP server.

Subscribe in Spanish on a phone-sized screen, read the confirmation in the dev mailbox,
confirm, switch the preference centre to German, and leave.
"""

import re
import time

import pytest
from factories import make_lists, subscriber_state
from playwright.sync_api import Page, expect

from newsletter.models import ConsentAction, SubscriberStatus

PHONE = {"width": 375, "height": 812}
MAIL_TIMEOUT = 15


@pytest.fixture
def phone(browser):
    """A Spanish-speaking visitor on a phone-sized screen."""
    context = browser.new_context(viewport=PHONE, locale="es-ES")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def foreign(translated):
    """The text in ``lang``, which must differ from the English (else the catalog is missing)."""

    def text(lang: str, english: str, **variables) -> str:
        result = translated(lang, english, **variables)
        in_english = english % variables if variables else english
        assert result != in_english, f"the {lang!r} catalog has no translation for {english!r}"
        return result

    return text


def assert_fits_phone_width(page: Page) -> None:
    assert page.evaluate("window.innerWidth") == PHONE["width"], "not a phone-sized screen"
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"the page scrolls sideways on a phone: {page.url}"


def assert_fits_phone(page: Page, button_name: str) -> None:
    """The button is shown, and within the width of the phone's screen."""
    button = page.get_by_role("button", name=button_name, exact=True)
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert_fits_phone_width(page)


def wait_for_mail(page: Page, inbox_url: str, recipient: str):
    """Reload the dev mailbox until a mail to ``recipient`` is listed; its row."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    page.goto(inbox_url)
    while True:
        row = page.locator("table.mailbox tbody tr", has_text=recipient)
        if row.count():
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"no mail to {recipient} in the dev mailbox after {MAIL_TIMEOUT} s")
        time.sleep(0.25)
        page.reload()


def test_subscribe_confirm_switch_to_german_and_leave(live_server, phone, in_app, foreign):
    page = phone
    in_app(make_lists)
    email = "sofia@example.org"

    # The Spanish subscribe page, on a phone.
    page.goto(f"{live_server}/es/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text(foreign("es", "Stay informed"))
    subscribe = foreign("es", "Subscribe")
    assert_fits_phone(page, subscribe)

    page.get_by_label(foreign("es", "Email address")).fill(email)
    page.get_by_label(foreign("es", "Name (optional)")).fill("Sofía")
    page.get_by_role("checkbox", name="Eventos").check()
    page.get_by_role("button", name=subscribe, exact=True).click()

    # Thanks, in Spanish.
    expect(page).to_have_url(f"{live_server}/es/thanks")
    expect(page.locator("h1")).to_have_text(foreign("es", "Almost done"))
    expect(page.get_by_role("status")).to_have_text(
        foreign("es", "Thank you. Please check your inbox to confirm your subscription.")
    )
    assert_fits_phone_width(page)

    # The confirmation mail arrives in the dev mailbox, in Spanish.
    row = wait_for_mail(page, f"{live_server}/dev/mailbox/", email)
    expect(page.locator("h1")).to_have_text(foreign("es", "Dev mailbox"))
    subject = foreign("es", "Please confirm your subscription")
    expect(row.get_by_role("link")).to_have_text(subject)
    row.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(subject)
    text_part = page.locator("pre.mail-text")
    expect(text_part).to_contain_text(foreign("es", "Hello %(name)s,", name="Sofía"))
    expect(text_part).to_contain_text("- Eventos")
    links = page.locator("h2", has_text=foreign("es", "Links in this email")).locator(
        "xpath=following-sibling::ul[1]"
    )
    confirm_link = links.get_by_role("link").filter(has_text=f"{live_server}/es/confirm/")
    expect(confirm_link).to_have_count(1)

    # Opening the link asks for a click; the click confirms.
    confirm_link.click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text(foreign("es", "Confirm your subscription"))
    assert in_app(subscriber_state, email).status == SubscriberStatus.PENDING
    confirm = foreign("es", "Confirm my subscription")
    assert_fits_phone(page, confirm)
    page.get_by_role("button", name=confirm, exact=True).click()
    expect(page.locator("h1")).to_have_text(foreign("es", "You are subscribed"))
    expect(page.get_by_role("status")).to_have_text(
        foreign("es", "Thank you, your subscription is confirmed.")
    )
    assert in_app(subscriber_state, email).status == SubscriberStatus.CONFIRMED

    # The preference centre, in Spanish, with what was chosen.
    page.get_by_role("link", name=foreign("es", "Manage your preferences"), exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/es/preferences/")))
    expect(page.locator("h1")).to_have_text(foreign("es", "Your preferences"))
    expect(page.get_by_text(email, exact=True)).to_be_visible()
    expect(page.get_by_role("checkbox", name="Eventos")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Boletín")).not_to_be_checked()
    expect(page.get_by_label(foreign("es", "Name (optional)"))).to_have_value("Sofía")

    # Switch to German and save: the page comes back in German.
    page.get_by_role("combobox", name=foreign("es", "Language"), exact=True).select_option("de")
    page.get_by_role("button", name=foreign("es", "Save my preferences"), exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/de/preferences/")))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text(foreign("de", "Your preferences"))
    expect(page.get_by_role("status")).to_have_text(
        foreign("de", "Your preferences have been saved.")
    )
    expect(page.get_by_role("checkbox", name="Veranstaltungen")).to_be_checked()
    expect(page.get_by_role("combobox", name=foreign("de", "Language"), exact=True)).to_have_value(
        "de"
    )
    assert in_app(subscriber_state, email).language == "de"

    # Leave everything: the German "unsubscribed" page.
    leave = foreign("de", "Unsubscribe from everything")
    assert_fits_phone(page, leave)
    page.get_by_role("button", name=leave, exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text(foreign("de", "You are unsubscribed"))
    expect(page.get_by_role("status")).to_have_text(
        foreign("de", "You will not receive any more emails from us at %(email)s.", email=email)
    )

    person = in_app(subscriber_state, email)
    assert person.status == SubscriberStatus.UNSUBSCRIBED
    assert person.language == "de"
    assert person.name == "Sofía"
    assert person.list_ids == set()
    assert [c.action for c in person.consents] == [
        ConsentAction.SUBSCRIBE,
        ConsentAction.CONFIRM,
        ConsentAction.PREFERENCES,
        ConsentAction.UNSUBSCRIBE,
    ]
    assert [c.language for c in person.consents] == ["es", "es", "de", "de"]
    assert all("Chrome" in (c.user_agent or "") for c in person.consents)
