"""The composer's rich editor in a real browser: the toolbar writes the Markdown the form
stores and the preview shows, its dialogs refuse what a mail can't use, source mode and
saved blocks keep the field and the editor in step, and a text the editor can't write back
exactly opens as source."""

import re

import pytest
import sample_images
from campaign_helpers import make_issue
from factories import make_lists, make_user
from helpers import recording_page, violations
from playwright.sync_api import Page, expect
from test_admin_browser import log_in

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.media import library
from newsletter.models import Issue, SavedBlock


@pytest.fixture
def page(browser, live_server, in_app):
    """A logged-in editor's window that records every Content-Security-Policy violation."""
    in_app(make_user, "editor@example.org", "editor")
    with recording_page(browser) as window:
        log_in(window, live_server)
        yield window


def english_issue(subject: str, body: str) -> int:
    """A draft in English only, with this saved text."""
    issue_id = make_issue([make_lists()["newsletter"]], languages=("en",))
    campaigns.set_variant(db.session.get(Issue, issue_id), "en", subject, body)
    db.session.commit()
    return issue_id


def toolbar_button(page: Page, name: str, language: str = "en"):
    return page.get_by_test_id(f"editor-{language}").get_by_role("button", name=name, exact=True)


def editor_text(page: Page, language: str = "en"):
    return page.get_by_test_id(f"editor-{language}-content")


def focus_stays_in_the_editor(page: Page) -> bool:
    return page.evaluate("document.activeElement.closest('.rich-editor-content') !== null")


def test_heading_and_bold_from_the_toolbar_are_stored_and_previewed_as_markdown(
    page, live_server, in_app
):
    in_app(make_lists)
    page.goto(live_server + "/admin/issues/new")
    page.fill("#name", "Spring")
    page.get_by_label("Newsletter").check()
    page.fill("#variant_en-subject", "Spring")
    body = page.locator("#variant_en-body")
    expect(body).to_be_hidden()

    editor_text(page).click()
    toolbar_button(page, "Heading 1").click()
    assert focus_stays_in_the_editor(page)
    page.keyboard.type("We meet in ")
    # Autosave answers while the editor writes: the cursor stays where it was.
    status = page.get_by_test_id("autosave-status")
    expect(status).to_have_text(re.compile(r"^Saved at "))
    assert focus_stays_in_the_editor(page)
    toolbar_button(page, "Bold").click()
    expect(toolbar_button(page, "Bold")).to_have_attribute("aria-pressed", "true")
    page.keyboard.type("April")

    expect(body).to_have_value("# We meet in **April**")
    expect(editor_text(page).locator("h1 strong")).to_have_text("April")
    expect(page.frame_locator("#preview-phone").locator("h1")).to_contain_text("We meet in April")
    expect(toolbar_button(page, "Heading 1")).to_have_attribute("aria-pressed", "true")
    assert violations(page) == []

    page.get_by_test_id("save-issue").click()
    expect(page.locator(".notice.ok")).to_contain_text("The issue is saved.")
    issue_id = int(re.search(r"/issues/(\d+)/edit", page.url)[1])
    stored = in_app(lambda: db.session.get(Issue, issue_id).variant("en").body)
    assert stored == "# We meet in **April**"
    expect(editor_text(page).locator("h1")).to_have_text("We meet in April")  # not as source
    expect(body).to_be_hidden()


def test_the_button_dialog_refuses_a_missing_label_and_a_script_address(page, live_server):
    page.goto(live_server + "/admin/issues/new")
    page.fill("#variant_en-subject", "Assembly")
    body = page.locator("#variant_en-body")
    editor_text(page).click()
    page.keyboard.type("Join us.")

    toolbar_button(page, "Button").click()
    dialog = page.get_by_test_id("button-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("button-url").fill("https://example.org/register")
    page.get_by_test_id("button-insert").click()
    expect(dialog.get_by_text("A button needs a label.")).to_be_visible()

    page.get_by_test_id("button-label").fill("Register [now]")
    page.get_by_test_id("button-insert").click()
    expect(dialog.get_by_text("A label can't contain square brackets [ ].")).to_be_visible()

    page.get_by_test_id("button-label").fill("Register")
    page.get_by_test_id("button-url").fill("javascript:alert(1)")
    page.get_by_test_id("button-insert").click()
    expect(dialog.get_by_text("Enter an address that starts with https://")).to_be_visible()
    expect(body).to_have_value("Join us.")

    page.get_by_test_id("button-url").fill("https://example.org/register")
    page.get_by_test_id("button-insert").click()
    expect(dialog).to_be_hidden()
    expect(body).to_have_value("Join us.\n\n::button[Register](https://example.org/register)")
    expect(editor_text(page).get_by_test_id("call-to-action")).to_have_text("Register")
    assert focus_stays_in_the_editor(page)
    page.keyboard.type("See you there.")  # below the button, which stays
    expect(body).to_have_value(
        "Join us.\n\n::button[Register](https://example.org/register)\n\nSee you there."
    )
    preview = page.frame_locator("#preview-phone")
    expect(preview.get_by_role("link", name="Register")).to_have_attribute(
        "href", "https://example.org/register"
    )
    assert violations(page) == []


def test_the_image_dialog_inserts_an_image_only_with_an_alt_text(page, live_server):
    page.goto(live_server + "/admin/issues/new")
    page.fill("#variant_en-subject", "Assembly")
    body = page.locator("#variant_en-body")
    editor_text(page).click()
    page.keyboard.type("Last year:")

    toolbar_button(page, "Image").click()
    dialog = page.get_by_test_id("image-dialog")
    page.get_by_test_id("image-url").fill("https://example.org/hall.jpg")
    page.get_by_test_id("image-caption").fill("The assembly hall")
    page.get_by_test_id("image-insert").click()
    expect(dialog.get_by_text("An image needs an alt text.")).to_be_visible()
    expect(dialog).to_be_visible()
    expect(body).to_have_value("Last year:")

    page.get_by_test_id("image-alt").fill("A full hall, seen from the stage")
    page.get_by_test_id("image-caption").fill('The "assembly" hall')
    page.get_by_test_id("image-insert").click()
    expect(dialog.get_by_text("A caption can't contain straight double quotes")).to_be_visible()
    page.get_by_test_id("image-caption").fill("The assembly hall")
    page.get_by_test_id("image-insert").click()
    expect(dialog).to_be_hidden()
    image_line = (
        '![A full hall, seen from the stage](https://example.org/hall.jpg "The assembly hall")'
    )
    expect(body).to_have_value("Last year:\n\n" + image_line)
    image = editor_text(page).locator("img")
    expect(image).to_have_attribute("alt", "A full hall, seen from the stage")
    toolbar_button(page, "Bold").click()
    page.keyboard.type("Thanks")
    expect(body).to_have_value("Last year:\n\n" + image_line + "\n\n**Thanks**")
    preview = page.frame_locator("#preview-phone")
    expect(preview.get_by_alt_text("A full hall, seen from the stage")).to_have_count(1)
    expect(preview.locator("body")).to_contain_text("The assembly hall")  # the caption


def test_the_image_dialog_offers_the_media_library_with_its_alt_text(page, live_server, in_app):
    in_app(
        lambda: (
            library.add_image(
                sample_images.png(), "hall.png", alt_text={"en": "The hall", "es": "La sala"}
            ).id
        )
    )
    page.goto(live_server + "/admin/issues/new")
    editor_text(page).click()
    toolbar_button(page, "Image").click()
    page.get_by_test_id("image-library").select_option(label="hall.png")
    expect(page.get_by_test_id("image-url")).to_have_value(re.compile(r"^http://.+/hall\.png$"))
    expect(page.get_by_test_id("image-alt")).to_have_value("The hall")
    page.get_by_test_id("image-insert").click()

    address = page.get_by_test_id("image-url").input_value()
    expect(page.locator("#variant_en-body")).to_have_value(f"![The hall]({address})")
    image = editor_text(page).locator("img")
    expect(image).to_have_js_property("naturalWidth", 640)  # the library's own file
    assert violations(page) == []


def test_the_link_dialog_links_the_selected_words_to_web_addresses_only(page, live_server):
    page.goto(live_server + "/admin/issues/new")
    editor_text(page).click()
    page.keyboard.type("Read the agenda")
    for _ in range(len("the agenda")):
        page.keyboard.press("Shift+ArrowLeft")

    toolbar_button(page, "Link").click()
    page.get_by_test_id("link-url").fill("javascript:alert(1)")
    page.get_by_test_id("link-insert").click()
    expect(page.get_by_test_id("link-dialog").get_by_text("Enter an address")).to_be_visible()
    page.get_by_test_id("link-url").fill("https://example.org/agenda")
    page.get_by_test_id("link-insert").click()

    expect(page.locator("#variant_en-body")).to_have_value(
        "Read [the agenda](https://example.org/agenda)"
    )
    expect(toolbar_button(page, "Link")).to_have_attribute("aria-pressed", "true")


def test_a_german_editor_reads_the_toolbar_in_german(browser, live_server, in_app):
    in_app(make_user, "redakteurin@example.org", "editor", language="de")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="de-DE")
    window = context.new_page()
    try:
        window.goto(live_server + "/admin/login")
        window.fill("#email", "redakteurin@example.org")
        window.fill("#password", "correct horse battery")
        window.click("button[type=submit]")
        window.goto(live_server + "/admin/issues/new")
        toolbar = window.get_by_test_id("editor-en").get_by_role("toolbar")
        expect(toolbar).to_have_attribute("aria-label", "Formatierung")
        for label in ("Überschrift 1", "Fett", "Kursiv", "Schaltfläche", "Bild", "Quelltext"):
            expect(toolbar.get_by_role("button", name=label, exact=True)).to_be_visible()
        toolbar.get_by_role("button", name="Bild", exact=True).click()
        window.get_by_test_id("image-url").fill("https://example.org/saal.jpg")
        window.get_by_test_id("image-insert").click()
        expect(window.get_by_text("Ein Bild braucht einen Alternativtext.")).to_be_visible()
    finally:
        context.close()


def test_source_mode_shows_the_field_and_its_edits_reach_the_editor(page, live_server):
    page.goto(live_server + "/admin/issues/new")
    body = page.locator("#variant_en-body")
    editor_text(page).click()
    page.keyboard.type("Draft")

    toolbar_button(page, "Source").click()
    expect(toolbar_button(page, "Source")).to_have_attribute("aria-pressed", "true")
    expect(body).to_be_visible()
    expect(editor_text(page)).to_be_hidden()
    expect(toolbar_button(page, "Bold")).to_be_disabled()
    body.fill("## Agenda\n\n- Coffee\n- The vote")

    toolbar_button(page, "Source").click()
    expect(body).to_be_hidden()
    expect(editor_text(page).locator("h2")).to_have_text("Agenda")
    expect(editor_text(page).locator("li")).to_have_text(["Coffee", "The vote"])
    assert focus_stays_in_the_editor(page)
    page.keyboard.type(" first")  # the cursor is back at the end of the text
    expect(body).to_have_value("## Agenda\n\n- Coffee\n- The vote first")


def test_a_text_the_editor_cannot_keep_exactly_opens_as_source_untouched(page, live_server, in_app):
    table = "| Day | Room |\n|-----|------|\n| Monday | Hall A |"

    issue_id = in_app(english_issue, "Rooms", table)
    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    body = page.locator("#variant_en-body")
    expect(body).to_be_visible()
    expect(body).to_have_value(table)
    expect(page.get_by_test_id("editor-en").get_by_test_id("source-note")).to_have_text(
        "This text uses Markdown the editor can't keep exactly; it opens as source."
    )
    expect(toolbar_button(page, "Source")).to_have_attribute("aria-pressed", "true")

    toolbar_button(page, "Source").click()  # asked again, the editor still declines
    expect(body).to_be_visible()
    expect(body).to_have_value(table)
    assert violations(page) == []


def test_a_saved_block_inserted_appears_in_the_editor(page, live_server, in_app):
    def prepare():
        db.session.add(
            SavedBlock(name="Donate", body={"en": "**Donate** to the network.", "es": "**Dona**."})
        )
        db.session.commit()

    in_app(prepare)
    page.goto(live_server + "/admin/issues/new")
    body = page.locator("#variant_en-body")
    editor_text(page).click()
    page.keyboard.type("First.")
    page.get_by_test_id("insert-block-en").select_option(label="Donate")
    page.get_by_test_id("insert-block-button-en").click()

    expect(body).to_have_value("First.\n\n**Donate** to the network.\n")
    expect(editor_text(page).locator("strong")).to_have_text("Donate")
    assert focus_stays_in_the_editor(page)
    page.keyboard.type(" Thanks.")
    expect(body).to_have_value("First.\n\n**Donate** to the network. Thanks.")


def test_undo_takes_back_typing_but_never_the_saved_text(page, live_server, in_app):
    saved = "# Spring\n\nWe meet in **April**."

    issue_id = in_app(english_issue, "Spring", saved)
    page.goto(f"{live_server}/admin/issues/{issue_id}/edit")
    body = page.locator("#variant_en-body")
    expect(editor_text(page).locator("h1")).to_have_text("Spring")
    expect(toolbar_button(page, "Undo")).to_be_disabled()

    editor_text(page).locator("p").click()
    page.keyboard.press("End")
    page.keyboard.type(" Bring a chair.")
    expect(body).to_have_value(saved + " Bring a chair.")
    toolbar_button(page, "Undo").click()
    expect(body).to_have_value(saved)
    expect(toolbar_button(page, "Undo")).to_be_disabled()
    expect(editor_text(page).locator("h1")).to_have_text("Spring")
