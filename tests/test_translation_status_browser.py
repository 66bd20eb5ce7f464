"""The review of translations in a real browser: state badges in the composer, approving a
language, and the panel of what changed in the source of a stale translation."""

import pytest
from campaign_helpers import make_issue
from factories import make_lists, make_user
from helpers import markdown_field
from playwright.sync_api import expect

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.models import Issue


@pytest.fixture
def editor_page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def test_an_editor_approves_a_language_and_reads_what_changed_in_the_source(
    editor_page, live_server, in_app
):
    def prepare():
        make_user("editor@example.org", "editor", name="Eddie Editor")
        issue_id = make_issue([make_lists()["newsletter"]], ("en", "fr"))
        issue = db.session.get(Issue, issue_id)
        campaigns.set_variant(
            issue, "en", "News of the week", "# Our news\n\nThe assembly meets on **Monday**."
        )
        db.session.commit()
        return issue_id

    issue_id = in_app(prepare)
    page = editor_page
    page.goto(live_server + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    page.click("#tab-fr")
    expect(page.get_by_test_id("tab-state-fr")).to_have_text("Draft")
    expect(page.get_by_test_id("tab-fr").locator("[data-marker=stale]")).to_have_text("stale")

    page.get_by_test_id("stale-fr").click()
    diff = page.get_by_test_id("source-diff").nth(2)  # subject, preheader, body
    expect(diff.locator("del")).to_have_text("Friday")
    expect(diff.locator("ins")).to_have_text("Monday")
    page.get_by_test_id("up-to-date").click()

    expect(page.get_by_test_id("tab-fr").locator("[data-marker=stale]")).to_have_count(0)
    page.click("#tab-fr")
    page.get_by_test_id("approve-fr").click()
    expect(page.locator("p.notice.ok")).to_contain_text("Français: the text is approved")
    expect(page.get_by_test_id("tab-state-fr")).to_have_text("Approved")
    expect(page.get_by_test_id("state-fr")).to_have_text("Approved")
    expect(page.get_by_test_id("translation-fr")).to_contain_text("Approved by Eddie Editor")
    expect(page.get_by_test_id("tab-state-en")).to_have_text("Draft")
    expect(page.get_by_test_id("approve-fr")).to_have_count(0)

    page.goto(f"{live_server}/admin/issues")
    expect(page.get_by_test_id(f"state-{issue_id}-fr")).to_have_text("fr: Approved")

    # A change saved by autosave makes the approved text a draft again, on the page too.
    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    page.click("#tab-fr")
    markdown_field(page, "fr").fill("# Nos nouvelles\n\nL'assemblée se réunit **lundi**.")
    expect(page.get_by_test_id("autosave-status")).to_contain_text("Saved at", timeout=20_000)
    expect(page.get_by_test_id("tab-state-fr")).to_have_text("Draft")
    expect(page.get_by_test_id("state-fr")).to_have_text("Draft")
