"""The admin's layout in a real browser: inputs look alike, pages fit a phone, the header fits."""

import pytest
import sample_images
from campaign_helpers import make_issue
from factories import make_lists, make_subscriber, make_user
from helpers import markdown_field
from playwright.sync_api import Page, expect

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.media import library
from newsletter.models import Fallback

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
    "/admin/media",
    "/admin/layouts",
    "/admin/layouts/new",
    "/admin/blocks",
    "/admin/blocks/new",
    "/admin/imports/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/tokens",
    "/admin/translators",
    "/admin/events",
    "/admin/events/new",
    "/admin/settings",
    "/admin/account",
)


def admin_with_data(language: str) -> int:
    """An admin in ``language``, an issue and a subscriber; returns the subscriber's id."""
    make_user("admin@example.org", "admin", language=language, name="Ada Admin")
    ids = make_lists()
    make_issue([ids["newsletter"]])
    library.add_image(sample_images.png(), "a-photo-with-a-long-file-name-from-the-camera.png")
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


def issue_with_long_body() -> int:
    issue = campaigns.create_issue(
        "Long read", "en", {make_lists()["newsletter"]}, Fallback.DEFAULT
    )
    body = "# A long read\n\n" + "\n\n".join(f"Paragraph {n} of the report." for n in range(40))
    campaigns.set_variant(issue, "en", "A long read", body)
    db.session.commit()
    return issue.id


def test_the_preview_frames_grow_to_the_height_of_the_mail(page, live_server, in_app):
    in_app(make_user, "admin@example.org", "admin")
    issue_id = in_app(issue_with_long_body)
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    heights = {}
    for width in ("phone", "desktop"):
        page.get_by_test_id(f"preview-{width}-tab").click()
        preview = page.frame_locator(f"#preview-{width}")
        expect(preview.locator("body")).to_contain_text("Unsubscribe")
        frame = page.locator(f"#preview-{width}")
        mail_height = preview.locator("html").evaluate("html => html.scrollHeight")
        assert mail_height > 900  # taller than the frame's default height
        expect(frame).to_have_js_property("clientHeight", mail_height)
        heights[width] = mail_height

    # A preview of new text is measured again.
    markdown_field(page, "en").fill("# Short")
    page.get_by_test_id("preview-phone-tab").click()
    expect(page.frame_locator("#preview-phone").locator("h1")).to_have_text("Short")
    short = page.frame_locator("#preview-phone").locator("html").evaluate("h => h.scrollHeight")
    assert short < heights["phone"] / 2
    expect(page.locator("#preview-phone")).to_have_js_property("clientHeight", short)


def test_composer_markers_and_errors_follow_the_text(page, live_server, in_app):
    in_app(make_user, "admin@example.org", "admin")
    in_app(make_lists)
    log_in(page, live_server)
    page.goto(live_server + "/admin/issues/new")
    spanish = page.get_by_test_id("tab-es")
    expect(spanish.locator("[data-marker=missing]")).to_have_text("missing")

    page.click("#tab-es")
    page.fill("#variant_es-subject", "Asamblea")
    expect(spanish.locator("[data-marker=missing]")).to_be_visible()  # no body yet
    markdown_field(page, "es").fill("Nos vemos.")
    expect(spanish.locator("[data-marker]")).to_have_count(0)
    page.fill("#variant_es-subject", "")
    markdown_field(page, "es").fill("")
    expect(spanish.locator("[data-marker=missing]")).to_have_text("missing")

    # A subject without a body is refused; the error goes once the body is written.
    page.fill("#name", "Spring")
    page.get_by_label("Newsletter").check()
    page.click("#tab-fr")
    page.fill("#variant_fr-subject", "Assemblée")
    page.click("#save-issue")
    french = page.get_by_test_id("tab-fr")
    error = page.locator("#panel-fr .field-error")
    expect(french.locator("[data-marker=error]")).to_be_visible()
    page.click("#tab-fr")
    expect(error).to_be_visible()
    markdown_field(page, "fr").fill("Rendez-vous.")
    expect(error).to_be_hidden()
    expect(french.locator("[data-marker=error]")).to_be_hidden()
    expect(page.locator("#variant_fr-body")).not_to_have_attribute("aria-invalid", "true")
    expect(french.locator("[data-marker]:visible")).to_have_count(0)


def test_languages_left_alone_turn_stale_when_another_changes(page, live_server, in_app):
    in_app(make_user, "admin@example.org", "admin")
    issue_id = in_app(lambda: make_issue([make_lists()["newsletter"]]))
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    german = page.get_by_test_id("tab-de")
    expect(german.locator("[data-marker]")).to_have_count(0)
    markdown_field(page, "en").fill("# New news")
    expect(german.locator("[data-marker=stale]")).to_have_text("stale")
    expect(page.get_by_test_id("tab-en").locator("[data-marker]")).to_have_count(0)
