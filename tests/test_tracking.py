"""Click and open tracking, off by default: links rewritten only in a tracked issue's real
deliveries, the redirect that goes only to the issue's own addresses, hits buffered in
Redis and stored by the worker's task, scanners and prefetches left out of the counts,
the results per language, the data export, erasure and the folding of old records."""

import contextlib
import re
from datetime import timedelta

import pytest
from campaign_helpers import send_all, start
from factories import make_lists, make_subscriber, make_user
from helpers import csrf_token, log_in
from playwright.sync_api import Error as PlaywrightError

from newsletter import campaigns, subscriptions, tracking
from newsletter.extensions import db
from newsletter.models import (
    Delivery,
    Issue,
    Organisation,
    TrackingEvent,
    TrackingTotal,
    utcnow,
)

BODY = (
    "# News\n\nRead [the report](https://example.org/report?year=2026&lang=en) and "
    "[the agenda](https://example.org/agenda).\n\n::button[Join us](https://example.org/join)"
)
CLICK = re.compile(r'href="(http://[^/"]+/(\w\w)/r/([\w.-]+)/(\d+))"')
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


@pytest.fixture(autouse=True)
def empty_buffer(app, redis_client):
    redis_client.delete(app.config["TRACKING_BUFFER"])
    yield
    redis_client.delete(app.config["TRACKING_BUFFER"])


def tracked_issue(clicks=True, opens=True) -> dict:
    lists = make_lists()
    people = {
        "ana@example.org": make_subscriber(
            "ana@example.org", "en", list_ids=(lists["newsletter"],)
        ).id,
        "eve@example.org": make_subscriber(
            "eve@example.org", "fr", list_ids=(lists["newsletter"],)
        ).id,
    }
    issue = campaigns.create_issue("Tracked", "en", {lists["newsletter"]})
    issue.track_clicks, issue.track_opens = clicks, opens
    campaigns.set_variant(issue, "en", "News", BODY)
    campaigns.set_variant(issue, "fr", "Nouvelles", BODY.replace("lang=en", "lang=fr"))
    db.session.commit()
    return {"issue": issue.id, **people}


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def send(in_app, smtp, **options) -> tuple[dict, dict]:
    ids = in_app(tracked_issue, **options)
    in_app(start, ids["issue"])
    in_app(send_all, ids["issue"])
    mails = {item.recipients[0]: item.message for item in smtp.wait_for(2)}
    # As if the mails had arrived a minute ago: later hits are a person's, not a scanner's.
    in_app(age_deliveries, ids["issue"], timedelta(minutes=1))
    return ids, mails


def age_deliveries(issue_id: int, by: timedelta) -> None:
    for delivery in db.session.execute(db.select(Delivery).filter_by(issue_id=issue_id)).scalars():
        delivery.sent_at -= by
    db.session.commit()


def events() -> list[tuple[str, int | None, bool]]:
    return [
        (event.kind.value, event.position, event.counted)
        for event in db.session.execute(
            db.select(TrackingEvent).order_by(TrackingEvent.id)
        ).scalars()
    ]


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_a_tracked_issue_leads_its_links_through_the_redirect(client, in_app, smtp):
    ids, mails = send(in_app, smtp)
    english = html_of(mails["ana@example.org"])
    links = CLICK.findall(english)
    assert [lang for _url, lang, _token, _position in links] == ["en"] * 3
    assert "https://example.org/report" not in english, "every outside link is tracked"
    assert "/unsubscribe/" in english and "/preferences/" in english, "our own links are not"
    assert re.search(r'<img src="http://newsletter\.test/en/o/[\w.-]+\.gif"', english)
    text = mails["ana@example.org"].get_body(preferencelist=("plain",)).get_content()
    assert "https://example.org/report?year=2026&lang=en" in text, "the text part is not"
    tokens = {token for _url, _lang, token, _position in links}
    french_tokens = {
        token for _url, _lang, token, _p in CLICK.findall(html_of(mails["eve@example.org"]))
    }
    assert len(tokens) == 1 and tokens != french_tokens, "one token per delivery"

    # The redirect goes to the address the issue had, with its query intact.
    first = client.get(path(links[0][0]), headers={"User-Agent": BROWSER})
    assert first.status_code == 302
    assert first.location == "https://example.org/report?year=2026&lang=en"
    assert first.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in first.headers
    french = CLICK.findall(html_of(mails["eve@example.org"]))[0][0]
    assert client.get(path(french)).location.endswith("lang=fr")
    assert in_app(events) == [], "a hit waits in Redis: no database write in the request"
    assert in_app(tracking.store_buffered) == 2
    assert in_app(events) == [("click", 0, True), ("click", 0, True)]


def test_previews_and_test_sends_are_not_tracked(app, client, in_app, smtp):
    ids = in_app(tracked_issue)
    in_app(make_user, "editor@example.org")
    log_in(client, "editor@example.org")
    token = csrf_token(client, f"/admin/issues/{ids['issue']}/edit")
    client.post(
        f"/admin/issues/{ids['issue']}/test",
        data={"csrf_token": token, "test_address": "me@example.org", "test_language": "en"},
    )
    [test] = [item.message for item in smtp.wait_for(1)]
    assert "/r/" not in html_of(test) and "/o/" not in html_of(test)
    assert "https://example.org/report?year=2026&amp;lang=en" in html_of(test)


def test_forged_tokens_and_unknown_links_redirect_nowhere(client, in_app, smtp):
    ids, mails = send(in_app, smtp)
    url, _lang, token, _position = CLICK.findall(html_of(mails["ana@example.org"]))[0]
    forged = tracking._serializer_for("another key").dumps([1, ids["issue"]])
    for bad in (
        f"/en/r/{token[:-3]}xyz/0",  # the signature broken
        f"/en/r/{forged}/0",
        f"/en/r/{token}/99",  # no such link
        f"/en/r/{'x' * 300}/0",
        f"/xx/r/{token}/0",
        f"/en/o/{token[:-3]}xyz.gif",
    ):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert "Location" not in response.headers
    # Whatever is added to the address, it goes to the issue's link and nowhere else.
    sneaky = client.get(path(url) + "?next=https://evil.example/&url=https://evil.example/")
    assert sneaky.location == "https://example.org/report?year=2026&lang=en"
    assert in_app(tracking.store_buffered) == 1
    assert len(in_app(events)) == 1


def test_scanners_prefetches_and_bursts_are_not_counted(client, in_app, smtp):
    ids, mails = send(in_app, smtp)
    ana = CLICK.findall(html_of(mails["ana@example.org"]))
    eve = CLICK.findall(html_of(mails["eve@example.org"]))
    # A security scanner's user agent.
    client.get(path(ana[0][0]), headers={"User-Agent": "Mimecast Link Scanner/1.0"})
    # A burst: three different links of one message within two seconds.
    for url, *_rest in eve:
        client.get(path(url), headers={"User-Agent": BROWSER})
    in_app(tracking.store_buffered)
    assert in_app(events) == [
        ("click", 0, False),
        ("click", 0, False),
        ("click", 1, False),
        ("click", 2, False),
    ]
    # Right after sending: a prefetch.
    in_app(age_deliveries, ids["issue"], -timedelta(minutes=1))
    client.get(path(ana[1][0]), headers={"User-Agent": BROWSER})
    in_app(tracking.store_buffered)
    assert in_app(events)[-1] == ("click", 1, False)
    results = in_app(lambda: tracking.results(db.session.get(Issue, ids["issue"])))
    assert results["en"].clicks == 0 and results["fr"].clicked == 0


def test_results_per_language_on_the_campaign_page_and_in_the_api(client, in_app, smtp, app):
    ids, mails = send(in_app, smtp)
    ana = CLICK.findall(html_of(mails["ana@example.org"]))
    client.get(path(ana[2][0]), headers={"User-Agent": BROWSER})
    client.get(path(ana[2][0]), headers={"User-Agent": BROWSER})
    pixel = re.search(
        r'src="(http://newsletter\.test/fr/o/[\w.-]+\.gif)"', html_of(mails["eve@example.org"])
    )[1]
    image = client.get(path(pixel), headers={"User-Agent": BROWSER})
    assert image.mimetype == "image/gif" and image.data.startswith(b"GIF89a")
    in_app(tracking.store_buffered)

    def leave():
        subscriber = subscriptions.find_subscriber("eve@example.org")
        subscriptions.unsubscribe(subscriber, subscriptions.RequestInfo(None, None, "test"))
        db.session.commit()

    in_app(leave)
    results = in_app(lambda: tracking.results(db.session.get(Issue, ids["issue"])))
    assert (results["en"].delivered, results["en"].opened, results["en"].clicked) == (1, 1, 1)
    assert results["en"].clicks == 2 and results["en"].click_rate == 1.0
    assert (results["fr"].opened, results["fr"].clicked, results["fr"].unsubscribed) == (1, 0, 1)

    in_app(make_user, "editor@example.org")
    log_in(client, "editor@example.org")
    page = client.get(f"/admin/issues/{ids['issue']}").get_data(as_text=True)
    assert 'data-testid="clicks-en">2<' in page and 'data-testid="unsubscribed-fr">1<' in page
    assert 'data-testid="results-chart"' in page and "https://example.org/join" in page
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="compared-campaigns"' in dashboard and "100%" in dashboard

    from test_api_v1 import make_token  # noqa: PLC0415

    token = in_app(make_token, "read")
    api = client.get(
        f"/api/v1/issues/{ids['issue']}/results", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert api["languages"]["en"]["clicks"] == 2 and api["languages"]["fr"]["unsubscribed"] == 1
    assert api["links"][0] == {
        "language": "en",
        "position": 2,
        "url": "https://example.org/join",
        "clicks": 2,
        "people": 1,
    }


def test_an_erased_persons_hits_are_dropped_and_their_export_lists_them_before(
    client, in_app, smtp
):
    ids, mails = send(in_app, smtp)
    ana = CLICK.findall(html_of(mails["ana@example.org"]))
    client.get(path(ana[0][0]), headers={"User-Agent": BROWSER})
    in_app(tracking.store_buffered)
    exported = in_app(
        lambda: subscriptions.export_data(subscriptions.find_subscriber("ana@example.org"))
    )
    assert [(r["kind"], r["link"], r["counted"]) for r in exported["clicks_and_opens"]] == [
        ("click", 0, True)
    ]

    def erase():
        subscriptions.erase(subscriptions.find_subscriber("ana@example.org"))
        db.session.commit()

    in_app(erase)
    assert in_app(events) == []
    # A click on the old mail still reaches the page, and nothing is written.
    assert client.get(path(ana[1][0])).status_code == 302
    in_app(tracking.store_buffered)
    assert in_app(events) == []


def test_old_records_are_folded_into_totals(in_app, smtp, client):
    ids, mails = send(in_app, smtp)
    for url, *_rest in CLICK.findall(html_of(mails["ana@example.org"]))[:1]:
        client.get(path(url), headers={"User-Agent": BROWSER})
    in_app(tracking.store_buffered)
    before = in_app(lambda: tracking.results(db.session.get(Issue, ids["issue"])))
    later = utcnow() + timedelta(days=400)
    assert in_app(tracking.fold_old, later) == 1
    assert in_app(events) == []
    assert in_app(lambda: db.session.execute(db.select(TrackingTotal.total)).scalars().all()) == [1]
    after = in_app(lambda: tracking.results(db.session.get(Issue, ids["issue"])))
    assert after["en"].clicks == before["en"].clicks == 1
    assert after["en"].clicked == 1
    # A later click of the same link, folded a year on, joins the same total.
    client.get(path(CLICK.findall(html_of(mails["ana@example.org"]))[0][0]))
    in_app(tracking.store_buffered)
    assert in_app(tracking.fold_old, later + timedelta(days=400)) == 1
    assert in_app(lambda: db.session.execute(db.select(TrackingTotal.total)).scalars().all()) == [2]
    assert in_app(lambda: tracking.link_results(db.session.get(Issue, ids["issue"])))[0].clicks == 2


def test_tracking_is_off_by_default_and_chosen_in_settings_and_composer(client, in_app):
    lists = in_app(make_lists)
    in_app(make_user, "admin@example.org", "admin")
    log_in(client, "admin@example.org")

    def ticked(name: str) -> bool:
        page = client.get("/admin/issues/new").get_data(as_text=True)
        return "checked" in re.search(rf'<input[^>]*name="{name}"[^>]*>', page)[0]

    assert not ticked("track_clicks") and not ticked("track_opens")

    def turn_on():
        organisation = db.session.get(Organisation, 1) or Organisation(id=1)
        organisation.track_clicks = True
        db.session.add(organisation)
        db.session.commit()

    in_app(turn_on)
    assert ticked("track_clicks") and not ticked("track_opens")

    def created() -> tuple[bool, bool]:
        issue = campaigns.create_issue("API", "en", {lists["newsletter"]})
        return issue.track_clicks, issue.track_opens

    assert in_app(created) == (True, False)


@pytest.mark.integration
def test_a_worker_stores_the_buffered_hits_on_its_schedule(app, client, in_app, smtp):
    from workers import WorkerProcess, wait_until  # noqa: PLC0415

    ids, mails = send(in_app, smtp)
    url = CLICK.findall(html_of(mails["ana@example.org"]))[0][0]
    client.get(path(url), headers={"User-Agent": BROWSER})
    worker = WorkerProcess(app, "tracking", beat=True, TRACKING_INTERVAL=1).wait_ready()
    try:
        wait_until(lambda: in_app(events) == [("click", 0, True)], 30, "the stored click")
    finally:
        worker.stop()


@pytest.mark.browser
def test_the_campaign_results_page_in_a_browser(app, live_server, browser, in_app, smtp):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    ids, mails = send(in_app, smtp)
    in_app(make_user, "editor@example.org", "editor", "fr")
    # Headless Chromium says so in its user agent, which counts as a scanner: look like a
    # person's browser.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", user_agent=BROWSER
    )
    page = context.new_page()
    # A reader opens the button's link in a real browser: the answer sends them on to the
    # page (which doesn't resolve here, offline).
    button = CLICK.findall(html_of(mails["eve@example.org"]))[2][0]
    reader = context.new_page()
    with (
        reader.expect_response(lambda response: "/r/" in response.url) as answer,
        contextlib.suppress(PlaywrightError),
    ):
        reader.goto(button)
    assert answer.value.status == 302
    assert answer.value.headers["location"] == "https://example.org/join"
    in_app(tracking.store_buffered)
    page.goto(live_server + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/admin/issues/{ids['issue']}")
    row = page.get_by_test_id("results-fr")
    assert row.get_by_test_id("clicked-fr").text_content() == "1"
    assert (
        row.get_by_test_id("click-rate-fr")
        .text_content()
        .replace("\u202f", "")
        .replace("\u00a0", "")
        == "100%"
    )
    assert page.get_by_test_id("results-chart").is_visible()
    assert "https://example.org/join" in page.get_by_test_id("link-results").text_content()
    assert page.get_by_role("heading", name="Résultats").is_visible()
    context.close()
