"""The media library in a real browser: an editor uploads a photo with the form, drops a
PNG on the page, meets a refusal in German, and deletes an image after confirming."""

import base64
import re

import pytest
import sample_images
from factories import make_user
from playwright.sync_api import Page, expect

DROP_FILE = """([name, type, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  document.querySelector("main").dispatchEvent(
    new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true })
  );
}"""


@pytest.fixture
def editor_page(browser, live_server, in_app):
    in_app(make_user, "editor@example.org", "editor", language="en")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    yield page
    context.close()


def natural_width(page: Page, card) -> int:
    return card.locator("img").evaluate("img => img.complete ? img.naturalWidth : 0")


def test_an_editor_uploads_drops_is_refused_and_deletes_in_the_media_library(
    editor_page, app, monkeypatch
):
    page = editor_page
    page.get_by_role("link", name="Design").click()
    page.get_by_test_id("design-nav").get_by_role("link", name="Media library").click()
    expect(page.locator("h1")).to_have_text("Media library")

    # The form, as without JavaScript: a photo from a phone, with alt text in two languages.
    page.set_input_files(
        "#file",
        files=[
            {
                "name": "assembly.jpg",
                "mimeType": "image/jpeg",
                "buffer": sample_images.photo_with_gps(2400, 1600),
            }
        ],
    )
    page.fill("#alt_en", "Members voting at the assembly")
    page.fill("#alt_es", "Miembros votando en la asamblea")
    page.get_by_test_id("upload").click()
    expect(page.get_by_role("status")).to_contain_text("“assembly.jpg” is in the library")
    cards = page.get_by_test_id("media-item")
    expect(cards).to_have_count(1)
    photo = cards.first
    expect(photo).to_contain_text("1200 × 1800 pixels")
    expect(photo.locator("img")).to_have_attribute("alt", "Members voting at the assembly")
    expect(photo.get_by_label("Español")).to_have_value("Miembros votando en la asamblea")
    page.wait_for_function("() => document.querySelector('.media-item img').naturalWidth > 0")
    assert natural_width(page, photo) == 1200

    # Dropped anywhere on the page, a PNG is uploaded by the same form.
    png = base64.b64encode(sample_images.png(800, 400)).decode()
    page.evaluate(DROP_FILE, ["dropped.png", "image/png", png])
    expect(page.get_by_role("status")).to_contain_text("“dropped.png” is in the library")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("dropped.png")

    # A file too large is refused before it is sent; the page says so in its language.
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 1024 * 1024)
    page.select_option("#ui-language", "de")
    expect(page.locator("h1")).to_have_text("Mediathek")
    big = base64.b64encode(b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024)).decode()
    page.evaluate(DROP_FILE, ["big.jpg", "image/jpeg", big])
    expect(page.get_by_test_id("media-drop-error")).to_have_text(
        "Die Datei ist größer als 1 MB. Bitte laden Sie ein kleineres Bild hoch."
    )
    expect(cards).to_have_count(2)

    # A program renamed as a photo is refused by the server, in German, and not stored.
    page.set_input_files(
        "#file",
        files=[
            {
                "name": "photo.jpg",
                "mimeType": "image/jpeg",
                "buffer": sample_images.renamed_executable(),
            }
        ],
    )
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("media-error")).to_have_text(
        "Diese Datei ist kein Bild, das wir annehmen. "
        "Bitte laden Sie ein JPEG-, PNG-, GIF- oder WebP-Bild hoch."
    )
    expect(cards).to_have_count(2)

    # Deleting asks first; declining keeps the image, accepting removes it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    cards.first.get_by_test_id("delete-media").click()
    expect(cards).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    cards.first.get_by_test_id("delete-media").click()
    expect(page.get_by_role("status")).to_contain_text("„dropped.png“ ist gelöscht")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("assembly.jpg")
    assert re.search(r"/admin/media$", page.url)
