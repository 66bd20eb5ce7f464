"""The admin's layout in a real browser: inputs look alike, pages fit a phone, the header fits."""

import pytest
from campaign_helpers import make_issue
from factories import make_lists, make_subscriber, make_user
from playwright.sync_api import Page, expect

BOX = """el => {
  const s = getComputedStyle(el);
  return [s.height, s.paddingTop, s.paddingLeft, s.borderTopWidth, s.borderTopStyle,
          s.borderTopColor, s.borderRadius, s.fontSize];
}"""


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, base: str, email: str = "admin@example.org") -> None:
    page.goto(base + "/admin/login")
    page.fill("#email", email)
    page.fill("#password", "correct horse battery")
    page.click("main button[type=submit]")
    expect(page.locator("nav.admin-nav")).to_be_visible()


def test_password_inputs_look_like_the_text_inputs_beside_them(page, live_server, in_app):
    in_app(make_user, "admin@example.org", "admin")
    page.goto(live_server + "/admin/login")
    assert page.locator("#password").evaluate(BOX) == page.locator("#email").evaluate(BOX)

    log_in(page, live_server)
    page.goto(live_server + "/admin/users/new")
    name = page.locator("#name").evaluate(BOX)
    assert page.locator("#password").evaluate(BOX) == name
    assert page.locator("#email").evaluate(BOX) == name


def test_search_and_date_inputs_look_like_text_inputs(page, live_server, in_app):
    in_app(make_user, "admin@example.org", "admin")
    issue_id = in_app(lambda: make_issue([make_lists()["newsletter"]]))
    log_in(page, live_server)
    page.goto(live_server + "/admin/users/new")
    text = page.locator("#name").evaluate(BOX)[1:]  # all but the height: widths differ by type

    page.goto(live_server + "/admin/subscribers")
    assert page.locator("input[type=search][name=q]").evaluate(BOX)[1:] == text
    page.goto(f"{live_server}/admin/issues/{issue_id}/send")
    assert page.get_by_test_id("scheduled-at").evaluate(BOX)[1:] == text


PAGES = (
    "/admin/",
    "/admin/issues",
    "/admin/issues/new",
    "/admin/subscribers",
    "/admin/subscribers/{subscriber}",
    "/admin/lists",
    "/admin/imports/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/tokens",
    "/admin/settings",
    "/admin/account",
)


def admin_with_data(language: str) -> int:
    """An admin in ``language``, an issue and a subscriber; returns the subscriber's id."""
    make_user("admin@example.org", "admin", language=language, name="Ada Admin")
    ids = make_lists()
    make_issue([ids["newsletter"]])
    return make_subscriber("reader@example.org", list_ids=(ids["newsletter"],)).id


@pytest.mark.parametrize("language", ["en", "es", "fr", "de"])
def test_every_admin_page_fits_a_phone_and_the_header_fits_one_row_on_a_laptop(
    page, live_server, in_app, language
):
    subscriber = in_app(admin_with_data, language)
    log_in(page, live_server)
    assert page.locator("html").get_attribute("lang") == language
    too_wide = {}
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            page.goto(live_server + path.format(subscriber=subscriber))
            if width == 375:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > 375:
                    too_wide[path] = scroll
            else:
                # One row: the brand, every section link and the account share a middle line.
                middles = page.locator(
                    "header.site .brand, header.site nav a, header.site .who"
                ).evaluate_all(
                    "els => els.map(el => { const r = el.getBoundingClientRect();"
                    " return Math.round((r.top + r.bottom) / 2); })"
                )
                assert max(middles) - min(middles) <= 4, (path, middles)
    assert too_wide == {}
