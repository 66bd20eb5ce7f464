"""Attachments in a real browser: the composer's upload controls live in the language panels
but post their own forms; a file too large to attach is offered as a link; the test mail
carries the Spanish file only."""

import re

from campaign_helpers import configured, make_issue
from factories import make_lists, make_user
from playwright.sync_api import expect
from test_attachments import SPANISH_NAME, pdf


def test_an_editor_attaches_a_file_and_links_another_in_the_spanish_tab(
    app, browser, live_server, in_app, smtp
):
    in_app(make_user, "editor@example.org", "editor")
    ids = in_app(make_lists)
    issue_id = in_app(make_issue, [ids["newsletter"]], ("en", "es"))
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    base = live_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    attached, linked = pdf(40_000, seed=3), pdf(150_000, seed=4)
    try:
        page.goto(base + "/admin/login")
        page.fill("#email", "editor@example.org")
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Dashboard")

        with configured(app, ATTACHMENT_MAX_BYTES=100_000):
            page.goto(f"{base}/admin/issues/{issue_id}/edit")
            page.click("#tab-es")
            page.set_input_files(
                "#attachment-file-es",
                files=[{"name": SPANISH_NAME, "mimeType": "application/pdf", "buffer": attached}],
            )
            expect(page.get_by_test_id("attachment-link-es")).not_to_be_checked()
            page.get_by_test_id("attachment-upload-es").click()
            expect(page).to_have_url(re.compile(r"#attachments-es$"))
            expect(page.locator("#tab-es")).to_have_attribute("aria-selected", "true")
            files = page.get_by_test_id("attachment-es")
            expect(files).to_have_count(1)
            expect(files).to_contain_text(SPANISH_NAME)
            expect(files).to_contain_text("40 KB")
            expect(files).to_contain_text("attached to the mail")

            page.set_input_files(
                "#attachment-file-es",
                files=[{"name": "dossier.pdf", "mimeType": "application/pdf", "buffer": linked}],
            )
            expect(page.get_by_test_id("attachment-link-es")).to_be_checked()
            expect(page.locator("#attachments-es .attachment-note")).to_be_visible()
            page.get_by_test_id("attachment-upload-es").click()
            expect(files).to_have_count(2)
            expect(files.nth(1)).to_contain_text("sent as a download link")
        expect(page.get_by_test_id("attachment-en")).to_have_count(0)

        page.fill("#test_address", "proof@example.org")
        page.select_option("#test_language", "es")
        page.get_by_test_id("test-send-button").click()
        [proof] = smtp.wait_for(1)
        message = proof.message
        [part] = message.iter_attachments()
        assert part.get_filename() == SPANISH_NAME and part.get_content() == attached
        html = message.get_body(preferencelist=("html",)).get_content()
        link = re.search(r'href="(http[^"]+/files/[^"]+/dossier\.pdf)"', html)[1]
        download = page.request.get(link)
        assert download.ok and download.body() == linked
    finally:
        context.close()
