"""Setting up two-factor sign-in in a real browser, then logging in with a code."""

import re
import time

import pyotp
import pytest
from factories import make_user
from playwright.sync_api import expect

from newsletter.extensions import db
from newsletter.models import User


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def test_enrol_and_log_in_with_a_code(page, live_server, in_app):
    in_app(make_user, "ed@example.org")
    page.goto(live_server + "/admin/login")
    page.fill("#email", "ed@example.org")
    page.fill("#password", "correct horse battery")
    page.click("main button[type=submit]")
    page.click("a.who")
    expect(page.locator("h1")).to_have_text("Your account")
    page.click("text=Set up two-factor sign-in")
    qr = page.locator("[data-testid=qr-code] svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] > 100, "a QR code big enough to scan"
    secret = page.locator("[data-testid=totp-secret]").text_content().replace(" ", "")
    assert secret == in_app(lambda: db.session.execute(db.select(User.totp_secret)).scalar())
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    codes = page.locator("[data-testid=recovery-codes] li")
    expect(codes).to_have_count(10)
    page.click("text=I have saved them")
    expect(page.locator("#two-factor + p .badge")).to_have_text("On")

    page.click("header form button.link")  # Log out
    page.fill("#email", "ed@example.org")
    page.fill("#password", "correct horse battery")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/login/code$"))
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
