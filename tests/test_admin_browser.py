"""An editor's week in a real browser: headless Chromium against a real HTTP server.

Log in, create a list, import subscribers from a CSV with bad rows, write an issue in four
languages and read each preview at phone width, send a test, send the issue through a real
worker process, watch the campaign page reach the end, and find the issue in the archive.
"""

import re

import pytest
from factories import make_user
from helpers import markdown_field
from playwright.sync_api import Page, expect
from workers import WorkerProcess

ISSUE = {
    "en": ("Spring assembly", "# We meet in **April**\n\nBring a friend."),
    "es": ("Asamblea de primavera", "# Nos vemos en **abril**\n\nTraiga a una amiga."),
    "fr": ("Assemblée de printemps", "# Rendez-vous en **avril**\n\nVenez avec un ami."),
    "de": ("Frühjahrsversammlung", "# Wir treffen uns im **April**\n\nBringen Sie jemanden mit."),
}

CSV = (
    "email,name,language\n"
    "ana@example.org,Ana,es\n"
    "bruno@example.org,Bruno,fr\n"
    "carla@example.org,Carla,de\n"
    "dan@example.org,Dan,en\n"
    "not-an-address,Broken,en\n"
    "dan@example.org,Dan again,en\n"
)


@pytest.fixture
def editor_page(browser, live_server):
    """A desktop-sized browser window."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def delivery_worker(app):
    worker = WorkerProcess(app, "browser").wait_ready()
    yield worker
    worker.stop()


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")


def create_list(page: Page, base: str) -> None:
    page.goto(base + "/admin/lists/new")
    page.fill("#slug", "assembly")
    for code, name in {
        "en": "Assembly",
        "es": "Asamblea",
        "fr": "Assemblée",
        "de": "Treffen",
    }.items():
        page.fill(f"#name_{code}", name)
    page.click("#list-form button[type=submit]")
    expect(page.locator("table.data")).to_contain_text("Assembly")


def import_csv(page: Page, base: str) -> None:
    page.goto(base + "/admin/imports/new")
    page.set_input_files(
        "#file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    page.get_by_label("Assembly").check()
    page.check("#consent")
    page.get_by_role("button", name="Check the file").click()
    problems = page.locator("table.problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0).locator("td").first).to_have_text("6")  # the broken address
    expect(problems.nth(1).locator("td").first).to_have_text("7")  # Dan's second row
    page.get_by_role("button", name=re.compile(r"Import 4 subscribers")).click()
    expect(page.locator("main .badge").first).to_have_class(re.compile("good"), timeout=30_000)
    created = page.locator("table.summary").first.locator("tr").first.locator("td")
    expect(created).to_have_text("4")  # new subscribers


def compose(page: Page, base: str) -> None:
    page.goto(base + "/admin/issues/new")
    page.fill("#name", "Spring 2027")
    for code, (subject, body) in ISSUE.items():
        page.click(f"#tab-{code}")
        page.fill(f"#variant_{code}-subject", subject)
        markdown_field(page, code).fill(body)
        preview = page.frame_locator("#preview-phone")
        expect(preview.locator("h1")).to_contain_text(body.split("**")[1], timeout=15_000)
        assert preview.locator("title").text_content() == subject
        width = page.locator("#preview-phone").evaluate(
            "frame => frame.clientWidth"
        )  # the viewport
        assert width == 375
    page.get_by_label("Assembly").check()
    page.click("#save-issue")
    expect(page.locator("[data-testid=audience-total]")).to_contain_text("4")


def test_editor_imports_composes_tests_sends_and_finds_the_issue_in_the_archive(
    app, editor_page, live_server, in_app, smtp, delivery_worker
):
    page, base = editor_page, live_server
    # The web app's test sends go to the SMTP server, like the worker's campaign mail.
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    in_app(make_user, "editor@example.org", "editor")
    log_in(page, base)
    create_list(page, base)
    import_csv(page, base)
    compose(page, base)

    page.fill("#test_address", "proof@example.org")
    page.select_option("#test_language", "fr")
    page.get_by_test_id("test-send-button").click()
    [proof] = smtp.wait_for(1)
    assert proof.message["Subject"] == f"[Test] {ISSUE['fr'][0]}"
    smtp.reset()

    page.click("#review-send")
    expect(page.get_by_test_id("confirm-counts")).to_contain_text("4")
    page.click("#confirm-send")
    status = page.locator("#campaign-status")
    expect(status).to_have_attribute("data-status", "sent", timeout=60_000)
    expect(page.get_by_text("Sending has started")).to_have_count(0)
    overall = page.locator("#campaign-progress tfoot tr")
    expect(overall.locator("[data-field=sent]")).to_have_text("4")
    received = {m.message["To"].split("<")[-1].rstrip(">"): m.message for m in smtp.wait_for(4)}
    assert received["ana@example.org"]["Subject"] == ISSUE["es"][0]
    assert received["carla@example.org"]["Subject"] == ISSUE["de"][0]

    for code, (subject, _body) in ISSUE.items():
        page.goto(f"{base}/{code}/archive")
        expect(page.locator("main")).to_contain_text(subject)
