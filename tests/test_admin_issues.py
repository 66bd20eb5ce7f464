"""The issue composer and the campaign page of the editors' UI, through real forms."""

import re
from datetime import timedelta
from html import unescape

import pytest
from campaign_helpers import BODIES, make_audience, send_all, start
from factories import PASSWORD, make_lists, make_user
from helpers import csrf_token, markdown_field
from playwright.sync_api import expect
from sqlalchemy import event
from workers import WorkerProcess, wait_until

from newsletter import campaign_progress, campaigns
from newsletter.extensions import db
from newsletter.models import Delivery, Issue, IssueStatus, IssueVariant, utcnow

LANGUAGES = ("en", "es", "fr", "de")


def form_data(token: str, list_ids, name="Weekly", variants=None, **extra) -> dict:
    """What the composer posts: the issue's fields and one subject/body per language."""
    data = {
        "csrf_token": token,
        "name": name,
        "default_language": "en",
        "fallback": "default",
        "lists": [str(list_id) for list_id in list_ids],
    }
    for code in LANGUAGES:
        subject, body = (variants or {}).get(code, ("", ""))
        data[f"variant_{code}-subject"] = subject
        data[f"variant_{code}-preheader"] = f"{code} preheader" if subject else ""
        data[f"variant_{code}-body"] = body
    data.update(extra)
    return data


def create_issue(client, list_ids, variants=None, **extra) -> int:
    """Create an issue through the composer; returns its id."""
    token = csrf_token(client, "/admin/issues/new")
    variants = BODIES if variants is None else variants
    response = client.post(
        "/admin/issues/new", data=form_data(token, list_ids, variants=variants, **extra)
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])


def issue_row(issue_id: int):
    issue = db.session.get(Issue, issue_id)
    return {
        "name": issue.name,
        "status": issue.status,
        "fallback": issue.fallback.value,
        "lists": issue.list_ids,
        "audience_languages": issue.audience_languages,
        "variants": {v.language: (v.subject, v.preheader, v.body) for v in issue.variants},
        "scheduled_at": issue.scheduled_at,
    }


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def tab(html: str, code: str) -> str:
    """The markup of one language tab of the composer."""
    return re.search(rf'<button[^>]*id="tab-{code}".*?</button>', html, re.S)[0]


def count(html: str, testid: str) -> int:
    return int(re.search(rf'data-testid="{testid}">\s*(\d+)\s*<', html)[1])


@pytest.fixture
def lists(in_app):
    return in_app(make_lists)


def test_editor_creates_an_issue_in_four_languages(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"], lists["events"]])

    saved = in_app(issue_row, issue_id)
    assert saved["name"] == "Weekly" and saved["status"] == IssueStatus.DRAFT
    assert saved["lists"] == {lists["newsletter"], lists["events"]}
    assert saved["variants"] == {
        code: (subject, f"{code} preheader", body) for code, (subject, body) in BODIES.items()
    }
    html = page(editor_client, f"/admin/issues/{issue_id}/edit")
    assert "Neuigkeiten der Woche" in html
    assert 'data-marker="' not in html, "saved together: nothing missing, nothing stale"
    listing = page(editor_client, "/admin/issues")
    assert "Weekly" in listing and "de, en, es, fr" in listing and "Draft" in listing


def test_admins_compose_too_and_empty_languages_make_no_variant(admin_client, in_app, lists):
    variants = {"en": BODIES["en"], "fr": BODIES["fr"]}
    issue_id = create_issue(admin_client, [lists["newsletter"]], variants=variants)
    assert set(in_app(issue_row, issue_id)["variants"]) == {"en", "fr"}

    html = page(admin_client, f"/admin/issues/{issue_id}/edit")
    assert 'data-marker="missing"' in tab(html, "es") and 'data-marker="missing"' in tab(html, "de")
    assert "data-marker" not in tab(html, "en")

    # Clearing a language removes its variant; a subject without a body is refused.
    token = csrf_token(admin_client, f"/admin/issues/{issue_id}/edit")
    data = form_data(token, [lists["newsletter"]], variants={"en": BODIES["en"]})
    assert admin_client.post(f"/admin/issues/{issue_id}/edit", data=data).status_code == 302
    assert set(in_app(issue_row, issue_id)["variants"]) == {"en"}
    data = form_data(
        token, [lists["newsletter"]], variants={"en": BODIES["en"], "es": ("Hola", "")}
    )
    response = admin_client.post(f"/admin/issues/{issue_id}/edit", data=data)
    assert response.status_code == 400
    assert "A variant needs a subject and a body." in response.get_data(as_text=True)
    assert set(in_app(issue_row, issue_id)["variants"]) == {"en"}


def test_a_language_edited_later_marks_the_others_stale(editor_client, in_app, lists):
    variants = {code: BODIES[code] for code in ("en", "es", "fr")}
    issue_id = create_issue(editor_client, [lists["newsletter"]], variants=variants)

    def age_variants():
        hour_ago = utcnow() - timedelta(hours=1)
        db.session.execute(db.update(IssueVariant).values(updated_at=hour_ago))
        db.session.commit()

    in_app(age_variants)
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    variants["en"] = ("News of the week, corrected", BODIES["en"][1])
    data = form_data(token, [lists["newsletter"]], variants=variants)
    assert editor_client.post(f"/admin/issues/{issue_id}/edit", data=data).status_code == 302

    html = page(editor_client, f"/admin/issues/{issue_id}/edit")
    assert "data-marker" not in tab(html, "en"), "the language just changed is current"
    assert 'data-marker="stale"' in tab(html, "es") and 'data-marker="stale"' in tab(html, "fr")
    assert 'data-marker="missing"' in tab(html, "de")


def test_preview_is_the_html_that_is_sent_with_markup_sanitized(editor_client, in_app, lists, smtp):
    body = (
        "# Assembly\n\nWe meet on **Friday**.\n\n<script>alert('body')</script>\n\n"
        '<img src="x" onerror="alert(1)"> <a href="javascript:alert(2)">link</a>'
    )
    variants = {"en": BODIES["en"], "es": ("Asamblea <b>general</b>", body)}
    issue_id = create_issue(editor_client, [lists["newsletter"]], variants=variants)
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")

    response = editor_client.post(
        "/admin/issues/preview",
        data={
            "language": "es",
            "subject": "Asamblea <b>general</b>",
            "preheader": "es preheader",
            "body": body,
            "issue_id": str(issue_id),
        },
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    preview = response.get_json()
    html = preview["html"]
    assert "<strong>Friday</strong>" in html and "<h1>Assembly</h1>" in html
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "Asamblea &lt;b&gt;general&lt;/b&gt;" in html, "the subject is escaped in <title>"
    assert "Darse de baja" in html and "Unsubscribe" not in html, "the footer is in Spanish"
    assert f"/es/issues/{issue_id}" in html
    assert "**Friday**" in preview["text"]

    # The saved variant's test mail carries exactly the same HTML.
    form = {"csrf_token": token, "test_address": "me@example.org", "test_language": "es"}
    assert editor_client.post(f"/admin/issues/{issue_id}/test", data=form).status_code == 302
    [received] = smtp.wait_for(1)
    sent_html = received.message.get_body(preferencelist=("html",)).get_content()
    assert sent_html == html
    assert received.message["Subject"].startswith("[Prueba] Asamblea")

    # The composer shows the saved preview on load, escaped into a script-free sandboxed srcdoc.
    page_html = page(editor_client, f"/admin/issues/{issue_id}/edit?lang=es")
    frame = re.search(r'<iframe id="preview-phone"[^>]*>', page_html)[0]
    # No scripts run in it; the same origin only lets the composer measure its height.
    assert 'sandbox="allow-same-origin"' in frame
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', frame)[1])
    assert srcdoc == html
    assert "<script" not in page_html.split("<body", 1)[1].split('<script src="/static')[0]


def test_preview_of_an_empty_language_says_so(editor_client, lists):
    token = csrf_token(editor_client, "/admin/issues/new")
    response = editor_client.post(
        "/admin/issues/preview",
        data={"language": "fr", "subject": "", "body": ""},
        headers={"X-CSRFToken": token},
    )
    assert response.get_json() == {"html": "", "text": "", "empty": True, "checks": []}


def audience(client, token, list_ids, variants, **extra) -> str:
    data = form_data(token, list_ids, variants=variants, **extra)
    response = client.post("/admin/issues/audience", data=data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_audience_counts_per_language_follow_the_fallback(editor_client, in_app):
    # Confirmed readers: en 2 (+1 suppressed, counted: skipped when sending), es/fr/de 2, it 1.
    readers = in_app(make_audience)
    newsletter = [readers["lists"]["newsletter"]]
    token = csrf_token(editor_client, "/admin/issues/new")
    two = {"en": BODIES["en"], "es": BODIES["es"]}

    html = audience(editor_client, token, newsletter, two, fallback="default")
    assert [count(html, f"audience-count-{c}") for c in LANGUAGES] == [3 + 2 + 2 + 1, 2, 0, 0]
    assert count(html, "audience-skipped") == 0 and count(html, "audience-total") == 10

    html = audience(editor_client, token, newsletter, two, fallback="skip")
    assert [count(html, f"audience-count-{c}") for c in LANGUAGES] == [3, 2, 0, 0]
    assert count(html, "audience-skipped") == 5 and count(html, "audience-total") == 5

    html = audience(editor_client, token, newsletter, two, audience_languages=["es", "de"])
    assert [count(html, f"audience-count-{c}") for c in LANGUAGES] == [2, 2, 0, 0]

    html = audience(editor_client, token, [readers["lists"]["events"]], two)
    assert count(html, "audience-total") == 1

    # The confirm step repeats the counts of the saved issue, and the ledger agrees.
    issue_id = create_issue(editor_client, newsletter, variants=two, fallback="skip")
    confirm = page(editor_client, f"/admin/issues/{issue_id}/send")
    assert count(confirm, "audience-count-en") == 3 and count(confirm, "audience-count-es") == 2
    assert count(confirm, "audience-skipped") == 5
    assert "Send now to 5 subscribers" in confirm

    def ledger_by_state():
        issue = db.session.get(Issue, issue_id)
        campaigns.start_sending(issue)
        report = campaign_progress.progress(issue_id)
        db.session.rollback()
        return report.overall

    overall = in_app(ledger_by_state)
    assert overall.queued == 5 and overall.skipped == 5


def test_dashboard_shows_recent_campaigns_with_a_fixed_number_of_queries(
    app, editor_client, in_app, smtp
):
    readers = in_app(make_audience, per_language=1)
    newsletter = [readers["lists"]["newsletter"]]
    first = create_issue(editor_client, newsletter, name="First")
    in_app(start, first)
    in_app(send_all, first)

    def dashboard() -> tuple[dict[str, list[str]], int, str]:
        """The recent campaigns table by issue name, and the SQL statements it took."""
        with app.app_context():
            engine = db.engine
        statements = []

        def count(*_args) -> None:
            statements.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            html = page(editor_client, "/admin/")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        section = re.search(r'id="recent-campaigns".*?</section>', html, re.S)[0]
        rows = {}
        for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            texts = [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]
            if texts:
                rows[texts[0]] = texts[1:]
        return rows, len(statements), html

    rows, one_issue, html = dashboard()
    assert rows == {"First": ["Sent", "5", "0", "1", "0"]}
    assert "Pending" in html, "subscriber states in the words of the subscriber list"

    for name in ("Second", "Third", "Fourth"):
        in_app(start, create_issue(editor_client, newsletter, name=name))
    rows, four_issues, _html = dashboard()
    assert rows["First"] == ["Sent", "5", "0", "1", "0"]
    assert rows["Fourth"] == ["Sending", "0", "0", "0", "6"]
    assert len(rows) == 4
    assert four_issues == one_issue, "one query for all recent campaigns, not one per issue"


def test_test_send_arrives_and_a_bad_address_is_explained(editor_client, in_app, lists, smtp):
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    url = f"/admin/issues/{issue_id}/test"

    form = {"csrf_token": token, "test_address": "not an address", "test_language": "de"}
    response = editor_client.post(url, data=form, follow_redirects=True)
    assert "is not an address we can send to" in response.get_data(as_text=True)

    form["test_address"] = "Tester@Example.org"
    response = editor_client.post(url, data=form, follow_redirects=True)
    assert "A test of the Deutsch variant went to" in response.get_data(as_text=True)
    [received] = smtp.wait_for(1)
    assert received.recipients == ["tester@example.org"]
    assert received.message["Subject"] == f"[Test] {BODIES['de'][0]}"
    assert received.message["Content-Language"] == "de"
    assert in_app(lambda: db.session.execute(db.select(db.func.count(Delivery.id))).scalar()) == 0


@pytest.fixture
def worker(app):
    process = WorkerProcess(app, "issues-ui", DELIVERY_BATCH_SIZE=5).wait_ready()
    yield process
    process.stop()


def status_of(issue_id: int) -> IssueStatus:
    return db.session.get(Issue, issue_id).status


def test_sending_through_the_ui_reaches_every_reader(editor_client, in_app, smtp, worker):
    readers = in_app(make_audience)
    issue_id = create_issue(editor_client, [readers["lists"]["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")

    response = editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith(f"/admin/issues/{issue_id}")
    wait_until(lambda: in_app(status_of, issue_id) == IssueStatus.SENT, 60, "the campaign")

    progress = editor_client.get(f"/admin/issues/{issue_id}/progress.json").get_json()
    assert progress["status"] == "sent" and progress["live"] is False
    overall = progress["overall"]
    assert overall["sent"] == len(readers["expected"]) and overall["remaining"] == 0
    assert overall["skipped"] == 1, "the suppressed address"
    by_language = {row["language"]: row for row in progress["languages"]}
    assert by_language["es"]["sent"] == 2 and by_language["en"]["sent"] == 2 + 1
    assert set(smtp.settle()[0].recipients) <= set(readers["expected"])

    html = page(editor_client, f"/admin/issues/{issue_id}")
    assert f'href="/en/issues/{issue_id}"' in html
    assert 'data-testid="view-in-browser"' in html
    assert re.search(r'data-testid="view-in-browser"[^>]*hidden', html) is None
    assert 'data-live="false"' in html


def test_failed_recipients_are_listed_and_resent(editor_client, in_app, smtp, worker):
    readers = in_app(make_audience, per_language=1)
    smtp.refuse("es0@example.org", "550 5.1.1 Mailbox unavailable")
    issue_id = create_issue(editor_client, [readers["lists"]["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})
    wait_until(lambda: in_app(status_of, issue_id) == IssueStatus.SENT, 60, "the campaign")

    html = page(editor_client, f"/admin/issues/{issue_id}")
    failed = re.search(r'data-testid="failed-recipients".*?</table>', html, re.S)[0]
    assert "es0@example.org" in failed and "550" in failed and "Mailbox unavailable" in failed
    assert re.search(r'data-states="sent sending paused" data-needs-failed\s*>', html)

    received_before = len(smtp.received)
    response = editor_client.post(f"/admin/issues/{issue_id}/resend", data={"csrf_token": token})
    assert response.status_code == 302
    wait_until(lambda: len(smtp.received) > received_before, 30, "the resent message")
    wait_until(lambda: in_app(status_of, issue_id) == IssueStatus.SENT, 60, "the resend")
    progress = editor_client.get(f"/admin/issues/{issue_id}/progress.json").get_json()
    assert progress["overall"]["failed"] == 0
    assert [item.recipients for item in smtp.received[received_before:]] == [["es0@example.org"]]


def test_pause_resume_and_cancel_with_confirmation(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])

    def start():
        campaigns.start_sending(db.session.get(Issue, issue_id))
        db.session.commit()

    in_app(start)  # no worker consumes the delivery queue here: it stays "sending"
    base = f"/admin/issues/{issue_id}"
    token = csrf_token(editor_client, base)

    editor_client.post(f"{base}/pause", data={"csrf_token": token})
    assert in_app(status_of, issue_id) == IssueStatus.PAUSED
    response = editor_client.post(
        f"{base}/pause", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Only an issue that is being sent can be paused." in response.get_data(as_text=True)
    editor_client.post(f"{base}/resume", data={"csrf_token": token})
    assert in_app(status_of, issue_id) == IssueStatus.SENDING

    confirm = page(editor_client, f"{base}/cancel")
    assert 'data-testid="confirm-cancel"' in confirm
    assert in_app(status_of, issue_id) == IssueStatus.SENDING, "asking changes nothing"
    editor_client.post(f"{base}/cancel", data={"csrf_token": token})
    assert in_app(status_of, issue_id) == IssueStatus.CANCELLED
    assert "Cancelled" in page(editor_client, base)


def test_a_cancelled_issue_is_not_offered_to_be_cancelled_again(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])

    def cancel():
        campaigns.cancel(db.session.get(Issue, issue_id))
        db.session.commit()

    in_app(cancel)
    response = editor_client.get(f"/admin/issues/{issue_id}/cancel", follow_redirects=True)
    text = unescape(response.get_data(as_text=True))
    assert 'data-testid="confirm-cancel"' not in text
    assert response.request.path == f"/admin/issues/{issue_id}"
    assert "A sent or cancelled issue can't be cancelled." in text


def test_editing_after_sending_started_is_refused_with_a_message(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})
    assert in_app(status_of, issue_id) == IssueStatus.SENDING
    editor_client.post(f"/admin/issues/{issue_id}/pause", data={"csrf_token": token})

    data = form_data(token, [lists["newsletter"]], name="Renamed", variants=BODIES)
    response = editor_client.post(
        f"/admin/issues/{issue_id}/edit", data=data, follow_redirects=True
    )
    assert "This issue can no longer be changed: sending has started." in response.get_data(
        as_text=True
    )
    assert in_app(issue_row, issue_id)["name"] == "Weekly"


def test_scheduling_in_utc(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    url = f"/admin/issues/{issue_id}/schedule"

    past = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = editor_client.post(url, data={"csrf_token": token, "scheduled_at": past})
    assert response.status_code == 400
    assert "Please choose a time in the future." in response.get_data(as_text=True)

    response = editor_client.post(
        url, data={"csrf_token": token, "scheduled_at": "2099-12-01T09:30"}, follow_redirects=True
    )
    assert "The issue is scheduled for Dec 1, 2099 09:30 UTC." in response.get_data(as_text=True)
    saved = in_app(issue_row, issue_id)
    assert saved["status"] == IssueStatus.SCHEDULED
    assert saved["scheduled_at"].isoformat() == "2099-12-01T09:30:00"


def test_posts_without_csrf_token_change_nothing(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    before = in_app(issue_row, issue_id)
    base = f"/admin/issues/{issue_id}"

    data = form_data("", [lists["newsletter"]], name="Forged", variants=BODIES)
    del data["csrf_token"]
    assert editor_client.post("/admin/issues/new", data=data).status_code == 400
    assert editor_client.post(f"{base}/edit", data=data).status_code == 400
    assert editor_client.post(f"{base}/send", data={}).status_code == 400
    assert editor_client.post(f"{base}/cancel", data={}).status_code == 400
    assert editor_client.post(f"{base}/test", data={"test_address": "a@b.org"}).status_code == 400
    preview = {"language": "en", "subject": "x", "body": "y"}
    assert editor_client.post("/admin/issues/preview", data=preview).status_code == 400

    assert in_app(issue_row, issue_id) == before
    count_issues = in_app(lambda: db.session.execute(db.select(db.func.count(Issue.id))).scalar())
    assert count_issues == 1


def test_logged_out_visitors_are_sent_to_the_login_page(app, client, in_app, lists):
    for url in ("/admin/issues", "/admin/issues/new", "/admin/issues/1", "/admin/issues/1/edit"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login" in response.location, url
    response = client.get("/admin/issues/1/progress.json")
    assert response.status_code == 302 and "/admin/login" in response.location


def test_markup_in_name_subject_and_body_is_escaped_everywhere(editor_client, in_app, lists):
    evil = '<script>alert("x")</script>'
    variants = {"en": (f"Subject {evil}", f'Body {evil}\n\n<b onclick="alert(1)">b</b>')}
    issue_id = create_issue(editor_client, [lists["newsletter"]], variants=variants, name=evil)
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")

    def assert_escaped(html: str, where: str) -> None:
        assert "<script>alert" not in html, where
        assert 'onclick="alert' not in html, where
        assert "&lt;script&gt;alert(" in html, where

    assert_escaped(page(editor_client, "/admin/issues"), "list")
    assert_escaped(page(editor_client, f"/admin/issues/{issue_id}/edit"), "composer")
    assert_escaped(page(editor_client, f"/admin/issues/{issue_id}/send"), "confirm step")
    editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})
    assert_escaped(page(editor_client, f"/admin/issues/{issue_id}"), "campaign page")
    assert_escaped(page(editor_client, f"/admin/issues/{issue_id}/cancel"), "cancel page")


def test_campaign_page_offers_the_actions_of_its_state(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    assert editor_client.get(f"/admin/issues/{issue_id}").location.endswith("/edit")
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})

    html = page(editor_client, f"/admin/issues/{issue_id}")
    assert 'data-live="true"' in html and 'data-progress-url="' in html
    assert re.search(r'data-states="sending"\s*>', html), "pause is offered"
    assert re.search(r'data-states="paused" hidden', html), "resume is not"
    progress = editor_client.get(f"/admin/issues/{issue_id}/progress.json").get_json()
    assert progress["status_label"] == "Sending" and progress["live"] is True
    assert progress["overall"]["remaining"] == progress["overall"]["total"] == 0


# In a real browser: the composer's JavaScript and the campaign page's polling.


@pytest.fixture
def live_url(app, live_server, smtp):
    """The app on a loopback port; its test sends still go to the test SMTP server."""
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    return live_server


@pytest.fixture
def browser_page(browser, live_url, in_app):
    """A logged-in editor's page in headless Chromium."""
    in_app(make_user, "editor@example.org", "editor")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    browser_tab = context.new_page()
    browser_tab.goto(f"{live_url}/admin/login")
    browser_tab.fill("#email", "editor@example.org")
    browser_tab.fill("#password", PASSWORD)
    browser_tab.click("button[type=submit]")
    browser_tab.wait_for_url(re.compile(r"/admin/$"))
    yield browser_tab
    context.close()


def test_composer_previews_and_counts_while_the_editor_types(browser_page, live_url, in_app):
    readers = in_app(make_audience, per_language=1)
    browser = browser_page
    browser.goto(f"{live_url}/admin/issues/new")
    expect(browser.locator("#panel-es")).to_be_hidden()
    browser.fill("#name", "Typed in a browser")

    browser.click("#tab-es")
    expect(browser.locator("#tab-es")).to_have_attribute("aria-selected", "true")
    expect(browser.locator("#panel-en")).to_be_hidden()
    browser.fill("#variant_es-subject", "Asamblea")
    hostile = "# Hola\n\nNos vemos el **viernes**.<script>alert(1)</script>"
    markdown_field(browser, "es").fill(hostile)
    phone = browser.frame_locator("#preview-phone")
    expect(phone.locator("strong")).to_have_text("viernes")
    expect(phone.locator("script")).to_have_count(0)
    expect(browser.locator("#preview-text")).to_contain_text("Nos vemos el **viernes**.")
    assert browser.locator("#preview-phone").evaluate("frame => frame.clientWidth") <= 375

    browser.check(f"input[name=lists][value='{readers['lists']['newsletter']}']")
    expect(browser.get_by_test_id("audience-count-es")).to_have_text("1")
    expect(browser.get_by_test_id("audience-total")).to_have_text("6")  # the rest: no variant
    browser.check("input[name=fallback][value=skip]")
    expect(browser.get_by_test_id("audience-total")).to_have_text("1")

    browser.click("#tab-en")
    expect(browser.locator("#preview-status")).to_contain_text("Nothing to preview")
    browser.fill("#variant_en-subject", "Assembly")
    markdown_field(browser, "en").fill("We meet on **Friday**.")
    expect(browser.frame_locator("#preview-desktop").locator("strong")).to_have_text("Friday")
    browser.click("#save-issue")
    expect(browser.locator(".notice.ok")).to_contain_text("The issue is saved.")
    issue_id = int(re.search(r"/issues/(\d+)/edit", browser.url)[1])
    assert set(in_app(issue_row, issue_id)["variants"]) == {"en", "es"}

    # The campaign page follows the progress without a reload.
    browser.click("#review-send")
    expect(browser.get_by_test_id("audience-count-en")).to_have_text("2")
    browser.click("#confirm-send")
    expect(browser.get_by_test_id("campaign-status")).to_have_text("Sending")
    in_app(send_all, issue_id)
    expect(browser.get_by_test_id("campaign-status")).to_have_text("Sent", timeout=10_000)
    overall = browser.locator("#campaign-progress tfoot tr")
    expect(overall.locator("[data-field=sent]")).to_have_text("2")
    expect(overall.locator("[data-field=remaining]")).to_have_text("0")
    expect(browser.get_by_test_id("view-in-browser")).to_be_visible()
    expect(browser.get_by_test_id("pause")).to_be_hidden()


def test_campaign_page_numbers_and_times_follow_the_editors_language(app, in_app, lists):
    in_app(make_user, "redactora@example.org", language="es")
    client = app.test_client()
    client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(client, "/admin/login"),
            "email": "redactora@example.org",
            "password": PASSWORD,
        },
    )
    issue_id = create_issue(client, [lists["newsletter"]])
    in_app(lambda: (campaigns.start_sending(db.session.get(Issue, issue_id)), db.session.commit()))
    text = unescape(client.get(f"/admin/issues/{issue_id}").get_data(as_text=True))
    assert re.search(r'data-testid="campaign-rate">0,0<', text), "a decimal comma in Spanish"
    assert re.search(rf"\d{{1,2}} [a-z]{{3}} {utcnow().year} \d\d:\d\d UTC", text)


def test_review_page_warns_when_a_language_has_no_postal_address(editor_client, in_app):
    from newsletter.models import Organisation

    readers = in_app(make_audience)
    issue_id = create_issue(editor_client, [readers["lists"]["newsletter"]])
    warning = 'data-testid="no-postal-address"'
    review = page(editor_client, f"/admin/issues/{issue_id}/send")
    assert warning in review
    assert "English, Español, Français, Deutsch" in unescape(review)
    assert "An admin can add it in the settings." in review, "editors can't open the settings"

    def save_address(addresses):
        db.session.merge(Organisation(id=1, name="Red", postal_address=addresses))
        db.session.commit()

    in_app(save_address, {"de": "Hauptstraße 1\nBerlin"})
    review = unescape(page(editor_client, f"/admin/issues/{issue_id}/send"))
    assert "without a postal address: English, Español, Français." in review
    in_app(save_address, {"en": "1 Main Street\nSpringfield"})  # the others fall back to it
    assert warning not in page(editor_client, f"/admin/issues/{issue_id}/send")


def test_a_body_posted_with_crlf_line_ends_is_stored_with_lf(editor_client, in_app):
    list_ids = [in_app(lambda: make_lists()["newsletter"])]
    variants = {"en": ("Réunion\u00a0: demain", "# Title\r\n\r\nOne.\r\n\r\nTwo.")}
    issue_id = create_issue(editor_client, list_ids, variants=variants)
    saved = in_app(lambda: db.session.get(Issue, issue_id).variant("en"))
    assert (saved.subject, saved.body) == ("Réunion\u00a0: demain", "# Title\n\nOne.\n\nTwo.")
