"""What every answer tells the browser: a script policy our own pages satisfy, no framing,
no caching of personal pages; checked on the headers and in a real browser."""

import re

import pytest
from factories import make_list, make_subscriber, make_user
from helpers import markdown_field, recording_page, violations
from playwright.sync_api import expect

from newsletter.extensions import db
from newsletter.models import Subscriber

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def subscriber_token(in_app) -> str:
    def make():
        make_subscriber("reader@example.org")
        return db.session.execute(db.select(Subscriber.token)).scalar_one()

    return in_app(make)


def test_every_kind_of_page_forbids_inline_scripts_and_framing(client, admin_client, in_app, smtp):
    token = subscriber_token(in_app)
    pages = [
        (client, "/en/"),
        (client, f"/fr/preferences/{token}"),
        (client, "/de/archive"),
        (client, "/api/v1/docs"),
        (client, "/admin/login"),
        (admin_client, "/admin/"),
        (admin_client, "/admin/lists/new"),
        (admin_client, "/admin/issues/new"),
        (admin_client, "/admin/settings"),
        (admin_client, "/admin/account"),
        (admin_client, "/admin/account/two-factor"),
        (client, "/en/no-such-page"),
    ]
    for who, path in pages:
        response = who.get(path)
        policy = directives(response)
        assert policy["script-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        page = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.search(page), f"inline script on {path}"
        assert not INLINE_HANDLER.search(page), f"inline event handler on {path}"


def test_personal_and_admin_pages_are_never_cached_public_ones_may_be(
    client, admin_client, in_app, smtp
):
    token = subscriber_token(in_app)
    for who, path in [
        (client, f"/en/preferences/{token}"),
        (client, f"/en/preferences/{token}/export"),
        (client, f"/en/unsubscribe/{token}"),
        (client, "/admin/login"),
        (admin_client, "/admin/"),
        (admin_client, "/admin/tokens"),
        (admin_client, "/admin/subscribers"),
    ]:
        response = who.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    for path in ["/en/archive", "/en/archive.rss"]:
        response = client.get(path)
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", ""), path


@pytest.fixture
def page(browser, live_server):
    """A browser page that records every Content-Security-Policy violation."""
    with recording_page(browser, 1280, 900) as window:
        yield window


def test_our_own_scripts_run_under_the_policy_in_a_real_browser(page, live_server, in_app):
    base = live_server
    in_app(make_user, "editor@example.org", "editor")
    in_app(make_list, "assembly")

    page.goto(base + "/api/v1/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert violations(page) == []

    page.goto(base + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    # The composer's preview is mail HTML with inline styles in a srcdoc frame.
    page.goto(base + "/admin/issues/new")
    page.fill("#variant_en-subject", "Spring")
    markdown_field(page, "en").fill("# We meet in **April**")
    expect(page.frame_locator("#preview-phone").locator("h1")).to_contain_text("April")
    assert violations(page) == []

    # The language menu submits itself, and a delete button asks first.
    page.select_option("#ui-language", "de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.goto(base + "/admin/lists")
    page.locator("table.data a").first.click()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("form button.danger").click()
    assert questions == ["Diese Liste löschen?"]
    expect(page.locator("button.danger")).to_be_visible()  # dismissed: nothing deleted
    assert violations(page) == []
