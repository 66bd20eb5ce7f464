"""Checks before send in a real browser: a warning appears under the preview while the
editor types, and goes once the text is fixed."""

import re

import pytest
from campaign_helpers import make_issue
from factories import make_lists, make_user
from helpers import markdown_field
from playwright.sync_api import expect
from test_send_checks import save_organisation


@pytest.fixture
def editor_page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def test_a_warning_follows_the_text_the_editor_types(editor_page, live_server, in_app):
    def prepare():
        make_user("editor@example.org", "editor")
        save_organisation()
        return make_issue([make_lists()["newsletter"]])

    issue_id = in_app(prepare)
    page = editor_page
    page.goto(live_server + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    checks = page.get_by_test_id("send-checks")
    expect(checks).to_contain_text("No problems found")

    body = markdown_field(page, "en")
    body.fill("# Our news\n\nRead [the agenda](http://example.org/agenda).")
    warning = checks.locator("li[data-code=insecure_link]")
    expect(warning).to_contain_text("“http://example.org/agenda” uses http://")
    expect(warning.locator(".badge")).to_have_text("Warning")

    body.fill("# Our news\n\nRead [the agenda](https://example.org/agenda).")
    expect(warning).to_have_count(0)
    expect(checks).to_contain_text("No problems found")
    expect(
        page.frame_locator("#preview-phone").locator("a", has_text="the agenda")
    ).to_have_attribute("href", re.compile(r"^https://example\.org/agenda$"))
