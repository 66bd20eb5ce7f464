"""Autosave and the refusal of a stale save, in headless Chromium against a live server."""

import re

import pytest
from factories import make_lists, make_user
from helpers import markdown_field
from playwright.sync_api import Page, expect

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.models import Issue


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/admin/login")
    page.fill("#email", email)
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")


@pytest.fixture
def people(in_app):
    in_app(make_user, "editor@example.org", "editor", name="Eddie Editor")
    in_app(make_user, "ada@example.org", "admin", name="Ada Admin")
    return in_app(make_lists)


@pytest.fixture
def window(browser, live_server):
    """A fresh browser context per call: two windows are two people."""
    contexts = []

    def open_window(email: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        log_in(page, live_server, email)
        return page

    yield open_window
    for context in contexts:
        context.close()


def test_typing_is_saved_by_itself_and_is_there_after_a_reload(window, live_server, people, in_app):
    page = window("editor@example.org")
    page.goto(live_server + "/admin/issues/new")
    status = page.get_by_test_id("autosave-status")
    page.get_by_test_id("issue-name").fill("Spring call")
    page.get_by_label("Newsletter").check()
    page.get_by_test_id("subject-en").fill("We meet in April")
    markdown_field(page, "en").fill("Bring a friend.")
    expect(status).to_have_text("Not saved")

    expect(status).to_have_text(re.compile(r"^Saved at \d\d:\d\d$"))
    expect(page).to_have_url(re.compile(r"/admin/issues/\d+/edit$"))  # the new draft's page
    markdown_field(page, "en").fill("Bring a friend, and a chair.")
    expect(status).to_have_text("Not saved")
    expect(status).to_have_text(re.compile(r"^Saved at "))
    page.reload()

    expect(page.get_by_test_id("body-en")).to_have_value("Bring a friend, and a chair.")
    expect(page.get_by_test_id("issue-name")).to_have_value("Spring call")
    issue_id = int(re.search(r"/issues/(\d+)/", page.url)[1])
    version = in_app(lambda: db.session.get(Issue, issue_id).variant("en").version)
    assert version == 2, "one new version per autosave that changed the text"


def test_the_second_of_two_editors_sees_the_difference_and_chooses(
    window, live_server, people, in_app
):
    def make_issue():
        issue = campaigns.create_issue("Shared", "en", {people["newsletter"]})
        campaigns.set_variant(issue, "en", "Meeting", "The meeting is on Friday.")
        db.session.commit()
        return issue.id

    issue_id = in_app(make_issue)
    url = f"{live_server}/admin/issues/{issue_id}/edit"
    eddie, ada = window("editor@example.org"), window("ada@example.org")
    eddie.goto(url)
    ada.goto(url)

    markdown_field(ada, "en").fill("The meeting is on Saturday.")
    ada.get_by_test_id("save-issue").click()
    expect(ada.locator(".notice, .flash").first).to_contain_text("The issue is saved.")

    markdown_field(eddie, "en").fill("The meeting is on Friday, at noon.")
    eddie.get_by_test_id("save-issue").click()

    conflict = eddie.get_by_test_id("conflict-en")
    expect(conflict).to_contain_text("saved by Ada Admin")
    expect(conflict.locator("del").first).to_have_text("Saturday")
    expect(conflict.locator("ins").first).to_have_text("Friday, at noon")
    expect(conflict.get_by_role("button", name="Keep my text")).to_be_visible()
    conflict.get_by_role("button", name="Take their text").click()

    expect(eddie.get_by_test_id("body-en")).to_have_value("The meeting is on Saturday.")
    markdown_field(eddie, "en").fill("The meeting is on Saturday, at noon.")
    eddie.get_by_test_id("save-issue").click()
    expect(eddie.locator(".notice, .flash").first).to_contain_text("The issue is saved.")
    body = in_app(lambda: db.session.get(Issue, issue_id).variant("en").body)
    assert body == "The meeting is on Saturday, at noon."
