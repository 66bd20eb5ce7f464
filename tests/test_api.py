"""The subscribe endpoint other websites post to: JSON, the embeddable form, CORS, limits."""

import html
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from factories import make_lists, make_subscriber, row_counts, subscriber_state
from helpers import tasks_done

from newsletter.models import ConsentAction, SubscriberStatus

URL = "/api/v1/subscribe"
THANKS = "Thank you. Please check your inbox to confirm your subscription."
SUBJECT = "Please confirm your subscription"
PARTNER = "https://partner.example"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def localized(translated, lang: str, text: str, **variables) -> str:
    """The text in ``lang``, checked to really be a translation."""
    message = translated(lang, text, **variables)
    english = text % variables if variables else text
    assert message != english, f"{lang} catalog has no translation for {text!r}"
    return message


def payload(list_ids: dict[str, int], /, **overrides) -> dict:
    body = {
        "email": "partner.reader@example.org",
        "name": "Partner Reader",
        "language": "es",
        "lists": [list_ids["events"], list_ids["newsletter"]],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    "query,headers,caller,chosen",
    [
        ("?lang=fr", {}, "fr", "es"),
        ("", {"Accept-Language": "de-CH, de;q=0.9"}, "de", "fr"),
        ("?lang=es", {"Accept-Language": "de"}, "es", "de"),
    ],
    ids=["query", "accept-language", "query-beats-header"],
)
def test_json_subscription_is_accepted_and_confirmed_by_mail(
    client, smtp, in_app, translated, query, headers, caller, chosen
):
    lists = in_app(make_lists)
    response = client.post(URL + query, json=payload(lists, language=chosen), headers=headers)
    assert response.status_code == 202
    assert response.is_json
    assert response.get_json() == {"status": "ok", "message": localized(translated, caller, THANKS)}

    [received] = smtp.wait_for(1)
    assert received.recipients == ["partner.reader@example.org"]
    assert received.message["Subject"] == localized(translated, chosen, SUBJECT)
    assert received.message["Content-Language"] == chosen
    assert len(smtp.settle()) == 1, "exactly one confirmation"

    person = in_app(subscriber_state, "partner.reader@example.org")
    assert person.status == SubscriberStatus.PENDING
    assert person.language == chosen
    assert person.name == "Partner Reader"
    assert person.list_ids == {lists["events"], lists["newsletter"]}
    [consent] = person.consents
    assert consent.action == ConsentAction.SUBSCRIBE
    assert consent.source == "api"
    assert consent.language == chosen
    assert sorted(consent.list_ids) == sorted([lists["events"], lists["newsletter"]])


def test_json_without_a_language_takes_the_callers(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    body = payload(lists)
    del body["language"]
    response = client.post(URL, json=body, headers={"Accept-Language": "de"})
    assert response.status_code == 202
    tasks_done()
    assert in_app(subscriber_state, "partner.reader@example.org").language == "de"
    [received] = smtp.wait_for(1)
    assert received.message["Subject"] == localized(translated, "de", SUBJECT)


def embed_snippet(client, lang: str) -> str:
    """The HTML a partner copies from the embed page (the text of its textarea)."""
    page = client.get(f"/{lang}/embed")
    assert page.status_code == 200
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.get_data(as_text=True), re.S)
    assert match, "no snippet to copy"
    assert "<" not in match.group(1), "the snippet is shown as text, escaped"
    return html.unescape(match.group(1))


def test_embed_page_shows_a_snippet_posting_to_the_api(app, client, in_app, translated):
    lists = in_app(make_lists)
    snippet = embed_snippet(client, "fr")
    action = re.search(r'<form method="post" action="([^"]+)"', snippet).group(1)
    assert action.startswith(app.config["BASE_URL"] + "/api/v1/subscribe")
    parts = urlsplit(action)
    assert f"{parts.scheme}://{parts.netloc}" == "http://newsletter.test"
    assert parts.path == URL
    assert parse_qs(parts.query) == {"lang": ["fr"]}
    assert '<input type="hidden" name="language" value="fr">' in snippet
    values = re.findall(r'name="lists" value="(\d+)"', snippet)
    assert values == [str(lists["newsletter"]), str(lists["events"])], "public lists only"
    labels = html.unescape(snippet)
    assert "Lettre d'information" in labels and "Événements" in labels
    assert "Membres" not in labels
    assert 'name="website"' in snippet, "the honeypot comes along"
    assert localized(translated, "fr", "Subscribe") in snippet


def test_embedded_form_post_answers_with_a_thanks_page(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    snippet = embed_snippet(client, "fr")
    action = urlsplit(re.search(r'action="([^"]+)"', snippet).group(1))
    response = client.post(
        f"{action.path}?{action.query}",
        data={
            "email": "Embedded@Example.org",
            "name": "Émile",
            "language": "fr",
            "lists": [str(lists["events"])],
            "website": "",
        },
        headers={"Accept": BROWSER_ACCEPT, "Origin": PARTNER},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    assert '<html lang="fr" dir="ltr">' in page
    assert localized(translated, "fr", THANKS) in page

    tasks_done()
    person = in_app(subscriber_state, "embedded@example.org")
    assert person.language == "fr"
    assert person.name == "Émile"
    assert person.list_ids == {lists["events"]}
    assert [c.source for c in person.consents] == ["embed"]
    [received] = smtp.wait_for(1)
    assert received.message["Subject"] == localized(translated, "fr", SUBJECT)


def test_embedded_form_with_errors_answers_with_the_form_again(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = client.post(
        URL + "?lang=de",
        data={"email": "nope", "language": "de", "lists": [str(lists["events"])]},
        headers={"Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    assert localized(translated, "de", "Please enter a valid email address.") in page
    assert in_app(row_counts) == before
    assert smtp.settle() == []


def test_validation_errors_are_keyed_by_field_in_the_callers_language(
    client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    body = payload(
        lists, email="not an address", name="n" * 101, language="xx", lists=[lists["members"]]
    )
    response = client.post(URL + "?lang=fr", json=body)
    assert response.status_code == 400
    assert response.is_json
    answer = response.get_json()
    assert answer["status"] == "error"
    assert answer["message"] == localized(translated, "fr", "Please correct the errors below.")
    assert answer["errors"] == {
        "email": [localized(translated, "fr", "Please enter a valid email address.")],
        "name": [localized(translated, "fr", "A name can be at most %(max)d characters.", max=100)],
        "language": [localized(translated, "fr", "Please choose one of the languages offered.")],
        "lists": [localized(translated, "fr", "Please choose among the topics shown.")],
    }
    assert in_app(row_counts) == before
    assert smtp.settle() == []


def test_missing_fields_are_named(client, smtp, in_app, translated):
    in_app(make_lists)
    before = in_app(row_counts)
    response = client.post(URL, json={"name": "Nobody"}, headers={"Accept-Language": "es"})
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "email": [localized(translated, "es", "Please enter your email address.")],
        "lists": [localized(translated, "es", "Please choose at least one topic.")],
    }
    assert in_app(row_counts) == before


def test_header_injection_in_name_is_refused(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    body = payload(lists, name="Eve\r\nBcc: victim@example.org")
    response = client.post(URL + "?lang=de", json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "name": [
            localized(translated, "de", "A name must fit on one line, without control characters.")
        ]
    }
    assert in_app(row_counts) == before
    assert smtp.settle() == []


@pytest.mark.parametrize(
    "body",
    [
        b'[{"email": "a@example.org"}]',
        b'"a@example.org"',
        b"null",
        b'{"email": "a@example.org", ',
        b"not json at all",
        b'{"email": "\xff\xfe"}',
    ],
    ids=["array", "string", "null", "truncated", "garbage", "bad-utf8"],
)
def test_body_that_is_not_a_json_object_is_refused(client, smtp, in_app, translated, body):
    in_app(make_lists)
    before = in_app(row_counts)
    response = client.post(URL + "?lang=fr", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json
    answer = response.get_json()
    assert answer["status"] == "error"
    assert answer["message"] == localized(translated, "fr", "Please send a JSON object.")
    assert in_app(row_counts) == before
    assert smtp.settle() == []


def test_body_over_64_kib_is_refused_as_json(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = client.post(URL + "?lang=fr", json=payload(lists, name="n" * (64 * 1024)))
    assert response.status_code == 413
    answer = response.get_json()
    assert answer["status"] == "error"
    assert answer["message"] == localized(translated, "fr", "What you sent is too large.")
    assert in_app(row_counts) == before
    assert smtp.settle() == []


def test_honeypot_gets_the_same_answer_and_nothing_happens(client, smtp, in_app):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    bot = client.post(
        URL + "?lang=es",
        json=payload(lists, email="bot@example.org", website="http://spam.example"),
    )
    tasks_done()
    assert in_app(row_counts) == before
    assert smtp.settle() == []

    human = client.post(URL + "?lang=es", json=payload(lists, email="human@example.org"))
    assert bot.status_code == human.status_code == 202
    assert bot.get_json() == human.get_json()
    assert in_app(subscriber_state, "bot@example.org") is None
    assert [r.recipients[0] for r in smtp.wait_for(1)] == ["human@example.org"]


def test_answer_does_not_reveal_a_confirmed_address(client, smtp, in_app):
    lists = in_app(make_lists)
    in_app(
        make_subscriber,
        "known@example.org",
        language="de",
        status=SubscriberStatus.CONFIRMED,
        list_ids=(lists["events"],),
    )
    before = in_app(subscriber_state, "known@example.org")

    known = client.post(URL + "?lang=fr", json=payload(lists, email="known@example.org"))
    fresh = client.post(URL + "?lang=fr", json=payload(lists, email="fresh@example.org"))
    assert known.status_code == fresh.status_code == 202
    assert known.get_data() == fresh.get_data()
    assert known.mimetype == fresh.mimetype

    after = in_app(subscriber_state, "known@example.org")
    assert (after.status, after.language, after.list_ids) == (
        before.status,
        before.language,
        before.list_ids,
    ), "a confirmed subscriber's lists change only through a link mailed to them"
    mailed = {r.recipients[0]: r.message["Subject"] for r in smtp.settle()}
    assert sorted(mailed) == ["fresh@example.org", "known@example.org"]
    assert mailed["known@example.org"] == "Bitte bestätigen Sie Ihre neuen Themen"


def preflight(client, origin: str):
    return client.options(
        URL,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_preflight_allows_the_configured_origin(app, client, in_app):
    assert app.config["CORS_ORIGINS"] == [PARTNER]
    before = in_app(row_counts)
    response = preflight(client, PARTNER)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert any("Origin" in value for value in response.headers.getlist("Vary"))
    assert in_app(row_counts) == before


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://partner.example",
        "https://partner.example.evil.example",
        "https://partner.example:8443",
        "null",
    ],
)
def test_cors_refuses_other_origins(client, in_app, origin):
    lists = in_app(make_lists)
    response = preflight(client, origin)
    assert response.status_code < 500
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers

    post = client.post(
        URL, json=payload(lists, email="cors@example.org"), headers={"Origin": origin}
    )
    assert "Access-Control-Allow-Origin" not in post.headers


def test_cors_answer_to_the_partner_post_carries_its_origin(client, in_app):
    lists = in_app(make_lists)
    response = client.post(URL, json=payload(lists), headers={"Origin": PARTNER})
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER


# The rate-limit tests post back to back: another test run sharing the Redis database
# clears every counter between its tests (conftest's ``limiter.reset()``).


def test_too_many_requests_from_one_ip_get_a_localized_json_429(
    app, client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    app.config["SUBSCRIBE_LIMIT_PER_IP"] = "2/minute"
    try:
        allowed = [
            client.post(URL + "?lang=de", json=payload(lists, email=f"ip{n}@example.org"))
            for n in (1, 2)
        ]
        tasks_done()
        before = in_app(row_counts)
        refused = client.post(URL + "?lang=de", json=payload(lists, email="ip3@example.org"))
        tasks_done()
        after = in_app(row_counts)
    finally:
        app.config["SUBSCRIBE_LIMIT_PER_IP"] = "1000/minute"
    assert [r.status_code for r in allowed] == [202, 202]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60, "when to come back, within the minute"
    assert "X-RateLimit-Remaining" not in allowed[0].headers, "no window worked out per request"
    assert refused.is_json
    assert refused.get_json() == {
        "status": "error",
        "code": 429,
        "message": localized(
            translated, "de", "Too many attempts. Please wait a while and try again."
        ),
    }
    assert after == before
    assert sorted(r.recipients[0] for r in smtp.settle()) == ["ip1@example.org", "ip2@example.org"]


def test_too_many_requests_for_one_address_from_many_ips(app, client, smtp, in_app, translated):
    lists = in_app(make_lists)

    def from_ip(n: int, email: str):
        return client.post(
            URL,
            json=payload(lists, email=email),
            headers={"Accept-Language": "fr"},
            environ_overrides={"REMOTE_ADDR": f"198.51.100.{n}"},
        )

    app.config["SUBSCRIBE_LIMIT_PER_ADDRESS"] = "1/minute"
    try:
        allowed = from_ip(1, "target@example.org")
        tasks_done()
        before = in_app(row_counts)
        refused = from_ip(2, "TARGET@example.org")
        tasks_done()
        after = in_app(row_counts)
        other = from_ip(2, "other@example.org")
    finally:
        app.config["SUBSCRIBE_LIMIT_PER_ADDRESS"] = "1000/minute"
    assert allowed.status_code == 202
    assert refused.status_code == 429
    assert refused.get_json()["message"] == localized(
        translated, "fr", "Too many attempts. Please wait a while and try again."
    )
    assert after == before
    assert other.status_code == 202, "the limit is per address"
    assert sorted(r.recipients[0] for r in smtp.settle()) == [
        "other@example.org",
        "target@example.org",
    ]


def _complained(email: str) -> None:
    from newsletter.extensions import db
    from newsletter.models import Suppression, email_hash

    make_subscriber(email, status=SubscriberStatus.COMPLAINED)
    db.session.add(Suppression(email_hash=email_hash(email), reason="complaint"))
    db.session.commit()


def test_a_complained_address_gets_the_same_answer_and_no_mail(client, smtp, in_app):
    lists = in_app(make_lists)
    in_app(_complained, "reported@example.org")
    before = in_app(row_counts)
    state_before = in_app(subscriber_state, "reported@example.org")

    reported = client.post(URL + "?lang=es", json=payload(lists, email="reported@example.org"))
    form = client.post(
        URL, data=payload(lists, email="reported@example.org"), headers={"Accept": BROWSER_ACCEPT}
    )
    fresh = client.post(URL + "?lang=es", json=payload(lists, email="fresh@example.org"))
    tasks_done()

    assert reported.status_code == fresh.status_code == 202
    assert reported.get_data() == fresh.get_data()
    assert form.status_code == 200
    assert [r.recipients[0] for r in smtp.settle()] == ["fresh@example.org"]
    assert in_app(subscriber_state, "reported@example.org") == state_before, "nothing changed"
    after = in_app(row_counts)
    assert (after["subscriber"], after["consent"]) == (
        before["subscriber"] + 1,
        before["consent"] + 1,
    ), "only the fresh address was written"


def test_an_erased_complained_address_is_still_never_mailed(client, smtp, in_app):
    from newsletter.extensions import db
    from newsletter.subscriptions import erase, find_subscriber

    def complain_then_erase():
        _complained("reported@example.org")
        erase(find_subscriber("reported@example.org"))
        db.session.commit()

    lists = in_app(make_lists)
    in_app(complain_then_erase)
    before = in_app(row_counts)
    response = client.post(URL + "?lang=fr", json=payload(lists, email="reported@example.org"))
    assert response.status_code == 202
    tasks_done()
    assert smtp.settle() == []
    assert in_app(row_counts) == before


def test_a_bounced_address_stays_bounced_until_the_link_is_used(client, smtp, in_app):
    lists = in_app(make_lists)
    in_app(
        make_subscriber,
        "full@example.org",
        status=SubscriberStatus.BOUNCED,
        list_ids=(lists["events"],),
    )
    response = client.post(URL + "?lang=de", json=payload(lists, email="full@example.org"))
    assert response.status_code == 202
    [received] = smtp.wait_for(1)
    assert received.recipients == ["full@example.org"]
    assert in_app(subscriber_state, "full@example.org").status == SubscriberStatus.BOUNCED

    link = re.search(
        r"http://newsletter\.test(/\w\w/confirm/[\w.\-]+)",
        received.message.get_body(preferencelist=("plain",)).get_content(),
    ).group(1)
    page = client.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(link, data={"csrf_token": token}).status_code == 200
    assert in_app(subscriber_state, "full@example.org").status == SubscriberStatus.CONFIRMED


@pytest.mark.integration  # the task must run in the worker's thread, not the request's
def test_the_answer_does_the_same_work_for_every_address(app, client, smtp, in_app):
    """The request only validates and queues: its database work can't tell addresses apart."""
    from sqlalchemy import event

    from newsletter.extensions import db

    lists = in_app(make_lists)
    in_app(make_subscriber, "confirmed@example.org", list_ids=(lists["events"],))
    in_app(make_subscriber, "pending@example.org", status=SubscriberStatus.PENDING)
    in_app(_complained, "complained@example.org")
    with app.app_context():
        engine = db.engine
    this_thread = threading.get_ident()

    def answer(email: str):
        statements = []

        def record(_conn, _cursor, statement, *_args):
            if threading.get_ident() == this_thread:  # not the worker's
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.post(
                URL, json=payload(lists, email=email), headers={"User-Agent": "Partner/2.0"}
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return response.status_code, response.get_data(), statements

    client.get("/en/")  # the first request after a change reads the lists, for everyone
    answers = {
        kind: answer(f"{kind}@example.org")
        for kind in ("confirmed", "pending", "complained", "unknown")
    }
    assert len({(status, body) for status, body, _ in answers.values()}) == 1
    assert len({tuple(statements) for _, _, statements in answers.values()}) == 1
    writes = [
        s for s in answers["unknown"][2] if s.lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert writes == [], "the request writes nothing"

    tasks_done()
    unknown = in_app(subscriber_state, "unknown@example.org")
    [consent] = unknown.consents
    assert (consent.ip, consent.user_agent, consent.source) == ("127.0.0.1", "Partner/2.0", "api")
    assert sorted(r.recipients[0] for r in smtp.settle()) == [
        "confirmed@example.org",  # to confirm the topic it did not have yet
        "pending@example.org",
        "unknown@example.org",
    ]


@pytest.mark.integration  # the task must really be published to the broker
def test_the_queued_task_shows_monitoring_no_personal_data(app, client, smtp, in_app):
    from celery.signals import before_task_publish

    lists = in_app(make_lists)
    published = []

    def record(sender=None, headers=None, **_kwargs):
        if sender == "newsletter.tasks.handle_subscription":
            published.append(headers)

    before_task_publish.connect(record)
    try:
        response = client.post(
            URL,
            json=payload(lists, email="private.reader@example.org", name="Private Reader"),
            headers={"User-Agent": "Partner/2.0"},
        )
    finally:
        before_task_publish.disconnect(record)
    assert response.status_code == 202
    [headers] = published
    shown = headers["argsrepr"] + headers["kwargsrepr"]
    for personal in ("private.reader", "Private Reader", "127.0.0.1", "Partner/2.0"):
        assert personal not in shown
    assert "'source': 'api'" in shown
    [received] = smtp.wait_for(1)
    assert received.recipients == ["private.reader@example.org"], "the task still has it"


def test_a_concurrent_subscription_of_the_same_new_address_is_not_lost(app, smtp, in_app):
    """The worker that loses the race for the unique address handles it as a known one."""
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    from newsletter.extensions import db
    from newsletter.tasks import handle_subscription

    lists = in_app(make_lists)
    with app.app_context():
        engine = db.engine
    raced = []

    def other_worker_commits_first(session, _context, _instances):
        if raced:
            return
        raced.append(True)
        with engine.connect() as other:
            other.execute(
                text(
                    "INSERT INTO subscriber (email, language, status, token, soft_bounces,"
                    " created_at, updated_at) VALUES ('race@example.org', 'en', 'pending',"
                    " 'other-token', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            other.commit()

    event.listen(Session, "before_flush", other_worker_commits_first)
    try:
        handle_subscription.apply(
            kwargs={
                "email": "race@example.org",
                "name": "Racer",
                "language": "fr",
                "list_ids": [lists["events"]],
                "ip": "192.0.2.1",
                "user_agent": "UA",
                "source": "api",
                "nonce": "f" * 32,
            }
        ).get()
    finally:
        event.remove(Session, "before_flush", other_worker_commits_first)
    assert raced, "the competing insert happened"
    person = in_app(subscriber_state, "race@example.org")
    assert [(c.ip, c.language) for c in person.consents] == [("192.0.2.1", "fr")]
    assert [r.language for r in person.requests] == ["fr"]
    [received] = smtp.wait_for(1)
    assert received.message["Content-Language"] == "fr"


def test_json_subscription_may_give_a_second_language(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    response = client.post(URL, json=payload(lists, language="de", second_language="en"))
    assert response.status_code == 202
    tasks_done()
    person = in_app(subscriber_state, "partner.reader@example.org")
    assert (person.language, person.second_language) == ("de", "en")

    refused = client.post(
        URL,
        json=payload(lists, email="other@example.org", language="fr", second_language="fr"),
        headers={"Accept-Language": "fr"},
    )
    assert refused.status_code == 400
    assert refused.get_json()["errors"]["second_language"] == [
        translated("fr", "Your second language must differ from your first.")
    ]
    assert in_app(subscriber_state, "other@example.org") is None
