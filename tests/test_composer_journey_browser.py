"""An editor's whole way through the composer in a real browser, with the toolbar only: a
pasted photo with alt text in two languages, a button, a PDF for the Spanish readers only,
the Invitation layout, a warning seen and fixed, and test mails that carry all of it."""

import base64
import io
import re

import pytest
import sample_images
from factories import make_lists, make_user
from helpers import recording_page, violations
from PIL import Image
from playwright.sync_api import Page, expect
from test_admin_browser import log_in
from test_attachments import SPANISH_NAME, pdf
from test_send_checks import save_organisation

from newsletter.extensions import db
from newsletter.models import Layout

PASTE_FILE = """([selector, name, type, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  document.querySelector(selector).dispatchEvent(
    new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true })
  );
}"""


@pytest.fixture
def page(browser, live_server, in_app):
    def prepare():
        make_user("editor@example.org", "editor")
        make_lists()
        save_organisation()
        db.session.add(
            Layout(
                name="Invitation",
                brand_color="#7a1f5c",
                header={"en": "**Invitation** to the seminar", "es": "**Invitación** al seminario"},
                footer={"en": "See you in Madrid.", "es": "Nos vemos en Madrid."},
            )
        )
        db.session.commit()

    in_app(prepare)
    with recording_page(browser) as window:
        log_in(window, live_server)
        yield window


def paste(page: Page, language: str, name: str, kind: str, data: bytes) -> None:
    selector = f'[data-testid="editor-{language}-content"]'
    page.locator(selector).click()
    page.evaluate(PASTE_FILE, [selector, name, kind, base64.b64encode(data).decode()])


def toolbar_button(page: Page, name: str, language: str):
    return page.get_by_test_id(f"editor-{language}").get_by_role("button", name=name, exact=True)


def test_an_invitation_from_first_word_to_test_mails(page, app, live_server, smtp):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    page.goto(live_server + "/admin/issues/new")
    page.fill("#name", "Seminar invitation")
    page.get_by_label("Newsletter").check()
    page.get_by_test_id("layout").select_option(label="Invitation")

    # English: text, a pasted phone photo (it goes to the media library first), a button.
    page.fill("#variant_en-subject", "Please register for the seminar")
    page.get_by_test_id("editor-en-content").click()
    page.keyboard.type("Please register by 8 May. Read the programme")
    for _ in range(len("the programme")):
        page.keyboard.press("Shift+ArrowLeft")
    toolbar_button(page, "Link", "en").click()
    page.get_by_test_id("link-url").fill("http://example.org/programme")
    page.get_by_test_id("link-insert").click()
    page.keyboard.press("End")
    paste(page, "en", "phone.jpg", "image/jpeg", sample_images.photo_with_gps(3000, 2000))
    dialog = page.get_by_test_id("image-dialog")
    expect(dialog).to_be_visible()
    address = page.get_by_test_id("image-url").input_value()
    assert re.match(r"^http://.+/media/\d+/phone\.jpg$", address), address
    page.get_by_test_id("image-insert").click()
    expect(dialog.get_by_text("An image needs an alt text.")).to_be_visible()
    page.get_by_test_id("image-alt").fill("Delegates in the seminar hall")
    page.get_by_test_id("image-insert").click()
    expect(dialog).to_be_hidden()
    toolbar_button(page, "Button", "en").click()
    page.get_by_test_id("button-label").fill("Register")
    page.get_by_test_id("button-url").fill("https://example.org/register")
    page.get_by_test_id("button-insert").click()
    body_en = page.locator("#variant_en-body")
    expect(body_en).to_have_value(
        "Please register by 8 May. Read [the programme](http://example.org/programme)\n\n"
        f"![Delegates in the seminar hall]({address})\n\n"
        "::button[Register](https://example.org/register)"
    )

    # Spanish: the same photo from the library, with its Spanish alt text.
    page.click("#tab-es")
    page.fill("#variant_es-subject", "Inscríbase en el seminario")
    page.get_by_test_id("editor-es-content").click()
    page.keyboard.type("Inscríbase antes del 8 de mayo.")
    toolbar_button(page, "Image", "es").click()
    page.get_by_test_id("image-library").select_option(label="phone.jpg")
    page.get_by_test_id("image-alt").fill("Delegados en la sala del seminario")
    page.get_by_test_id("image-insert").click()
    toolbar_button(page, "Button", "es").click()
    page.get_by_test_id("button-label").fill("Inscribirse")
    page.get_by_test_id("button-url").fill("https://example.org/es/inscripcion")
    page.get_by_test_id("button-insert").click()
    expect(page.locator("#variant_es-body")).to_have_value(
        f"Inscríbase antes del 8 de mayo.\n\n![Delegados en la sala del seminario]({address})"
        "\n\n::button[Inscribirse](https://example.org/es/inscripcion)"
    )
    page.get_by_test_id("save-issue").click()
    expect(page.locator(".notice").first).to_be_visible()
    issue_url = page.url

    # The Spanish registration form, attached to the Spanish variant only.
    page.click("#tab-es")
    form = pdf(40_000, seed=7)
    page.set_input_files(
        "#attachment-file-es",
        files=[{"name": SPANISH_NAME, "mimeType": "application/pdf", "buffer": form}],
    )
    page.get_by_test_id("attachment-upload-es").click()
    expect(page.get_by_test_id("attachment-es")).to_have_count(1)
    expect(page.get_by_test_id("attachment-en")).to_have_count(0)

    # The check warns about the programme's http:// address; the toolbar's link fixes it.
    page.click("#tab-en")
    checks = page.get_by_test_id("send-checks")
    warning = checks.locator("li[data-code=insecure_link]")
    expect(warning).to_contain_text("“http://example.org/programme” uses http://")
    page.get_by_test_id("editor-en-content").locator("a", has_text="the programme").click()
    toolbar_button(page, "Link", "en").click()
    expect(page.get_by_test_id("link-url")).to_have_value("http://example.org/programme")
    page.get_by_test_id("link-url").fill("https://example.org/programme")
    page.get_by_test_id("link-insert").click()
    expect(body_en).to_have_value(re.compile(r"Read \[the programme\]\(https://example"))
    expect(warning).to_have_count(0)
    page.get_by_test_id("save-issue").click()
    assert page.url.split("#")[0] == issue_url.split("#")[0]
    assert violations(page) == []

    # Test mails in both languages.
    for language in ("en", "es"):
        page.fill("#test_address", "proof@example.org")
        page.select_option("#test_language", language)
        page.get_by_test_id("test-send-button").click()
    english, spanish = sorted(smtp.wait_for(2), key=lambda item: item.message["Subject"])[::-1]
    assert english.message["Subject"] == "[Test] Please register for the seminar"
    mails = {"en": english.message, "es": spanish.message}
    assert spanish.message["Content-Language"] == "es"

    texts = {
        "en": ("Delegates in the seminar hall", "Register", "https://example.org/register"),
        "es": (
            "Delegados en la sala del seminario",
            "Inscribirse",
            "https://example.org/es/inscripcion",
        ),
    }
    headers = {
        "en": "<strong>Invitation</strong> to the seminar",
        "es": "<strong>Invitación</strong> al seminario",
    }
    for language, message in mails.items():
        html = message.get_body(preferencelist=("html",)).get_content()
        alt, label, link = texts[language]
        assert f'alt="{alt}"' in html and f'src="{address}"' in html
        assert re.search(rf'<a href="{re.escape(link)}"[^>]*>\s*{label}\s*</a>', html)
        assert headers[language] in html and "#7a1f5c" in html.lower()
    assert [part.get_filename() for part in mails["es"].iter_attachments()] == [SPANISH_NAME]
    assert next(mails["es"].iter_attachments()).get_content() == form
    assert list(mails["en"].iter_attachments()) == []

    # What mail apps fetch: the photo resized to 1200 px, upright, without its metadata.
    stored = page.request.get(address)
    assert stored.ok and stored.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(stored.body()))
    assert image.size == (1200, 1800)
    assert not image.getexif() and "comment" not in image.info and "icc_profile" not in image.info


def test_a_pasted_file_that_is_not_an_image_is_refused_in_the_editors_language(
    page, live_server, in_app
):
    page.goto(live_server + "/admin/issues/new")
    page.fill("#variant_en-subject", "Photos")
    paste(page, "en", "holiday.png", "image/png", b"MZ\x90\x00 a program, not a picture")
    error = page.get_by_test_id("editor-en-upload-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not an image")
    expect(page.get_by_test_id("image-dialog")).to_be_hidden()
    expect(page.locator("#variant_en-body")).to_have_value("")
    assert page.request.get(live_server + "/admin/media.json").json()["items"] == []
