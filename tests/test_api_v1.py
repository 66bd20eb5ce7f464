"""The token API under /api/v1/: auth, every endpoint, validation, pagination, JSON errors."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import make_audience, make_issue
from celery.signals import before_task_publish
from factories import make_lists, make_subscriber, row_counts, subscriber_state
from helpers import csrf_token, tasks_done

from newsletter import delivery
from newsletter.accounts import create_token, revoke_token
from newsletter.extensions import db
from newsletter.models import (
    ApiToken,
    ConsentAction,
    Delivery,
    Issue,
    IssueStatus,
    SubscriberStatus,
    Suppression,
    TokenScope,
    email_hash,
)

V1 = "/api/v1"


def make_token(scope: str = "write", revoked: bool = False) -> str:
    token, secret = create_token(f"{scope} token", TokenScope(scope))
    if revoked:
        revoke_token(token)
    db.session.commit()
    return secret


class ApiClient:
    """The Flask test client, sending a bearer token with every request."""

    def __init__(self, client, secret: str | None):
        self.client = client
        self.secret = secret

    def call(self, method: str, path: str, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if self.secret is not None:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        return self.client.open(V1 + path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.call("PATCH", path, **kwargs)

    def put(self, path, **kwargs):
        return self.call("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api(client, in_app):
    return ApiClient(client, in_app(make_token, "write"))


@pytest.fixture
def reader(client, in_app):
    return ApiClient(client, in_app(make_token, "read"))


def new_subscriber(email: str, **kwargs) -> int:
    return make_subscriber(email, **kwargs).id


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "fields"}
    assert body["message"]
    return body


# Authentication, scopes, rate limits


def documented_operations(client) -> list[tuple[str, str]]:
    document = client.get(f"{V1}/openapi.json").get_json()
    methods = {"get", "post", "put", "patch", "delete"}
    return [
        (method.upper(), path.removeprefix(V1))
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+_id\}", "1", path).replace("{language}", "en")


def test_every_operation_needs_a_valid_token(client, in_app):
    operations = documented_operations(client)
    assert len(operations) >= 25
    forged = "nlt_" + "x" * 43
    revoked = in_app(make_token, "write", revoked=True)
    before = in_app(row_counts)
    for method, path in operations:
        where = (method, path)
        missing = ApiClient(client, None).call(method, concrete(path), json={})
        body = error_of(missing, 401, "token_required")
        assert missing.headers["WWW-Authenticate"] == "Bearer", where
        for secret in (forged, revoked, "not-even-a-prefix", "nlt_" + "y" * 500):
            refused = ApiClient(client, secret).call(method, concrete(path), json={})
            error_of(refused, 401, "token_invalid")
        basic = client.open(
            V1 + concrete(path), method=method, headers={"Authorization": f"Basic {forged}"}
        )
        error_of(basic, 401, "token_required")
    assert body["fields"] == {}
    assert in_app(row_counts) == before


def test_a_read_token_reads_but_may_not_write(client, in_app, reader):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    for method, path in documented_operations(client):
        if method == "GET":
            continue
        refused = reader.call(method, concrete(path), json={})
        error_of(refused, 403, "insufficient_scope")
    assert in_app(row_counts) == before
    answer = reader.get("/lists")
    assert answer.status_code == 200
    assert {item["id"] for item in answer.get_json()["items"]} == set(lists.values())


def test_use_of_a_token_is_recorded(client, in_app, api):
    def last_used():
        return db.session.execute(db.select(ApiToken.last_used_at)).scalar_one()

    assert in_app(last_used) is None
    assert api.get("/lists").status_code == 200
    first = in_app(last_used)
    assert first is not None
    assert abs(datetime.now(UTC).replace(tzinfo=None) - first) < timedelta(minutes=1)


def test_revoking_stops_a_token_at_once(client, in_app, api):
    assert api.get("/lists").status_code == 200

    def revoke_all():
        for token in db.session.execute(db.select(ApiToken)).scalars():
            revoke_token(token)
        db.session.commit()

    in_app(revoke_all)
    error_of(api.get("/lists"), 401, "token_invalid")


def test_requests_are_limited_per_token_with_a_json_429(app, client, in_app, api, translated):
    other = ApiClient(client, in_app(make_token, "read"))
    app.config["API_RATE_LIMIT"] = "2/minute"
    try:
        allowed = [api.get("/lists"), api.get("/lists?lang=de")]
        refused = api.get("/lists?lang=de")
        still_fine = other.get("/lists")
    finally:
        app.config["API_RATE_LIMIT"] = "600/minute"
    assert [r.status_code for r in allowed] == [200, 200]
    body = error_of(refused, 429, "rate_limited")
    assert body["message"] == translated(
        "de", "Too many requests. Please wait a while and try again."
    )
    assert "Retry-After" in refused.headers
    assert still_fine.status_code == 200, "each token has its own budget"


# Errors


def test_unknown_addresses_and_methods_answer_json(client, api):
    error_of(api.get("/no-such-thing"), 404, "not_found")
    error_of(api.get("/subscribers/999999"), 404, "not_found")
    error_of(api.get("/subscribers/99999999999999999999"), 404, "not_found")
    error_of(api.get("/issues/-1"), 404, "not_found")
    wrong = api.put("/lists")
    error_of(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["Allow"]


def test_site_pages_keep_their_html_error_pages(client, api):
    page = client.get("/es/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    legacy = client.get(f"{V1}/subscribe")
    assert legacy.status_code == 405
    assert legacy.get_json()["status"] == "error", "the public endpoint keeps its answers"


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b'{"email": "\xff"}', b"[1, 2]", b'"text"', b"null", b"12"],
    ids=["truncated", "garbage", "bad-utf8", "array", "string", "null", "number"],
)
def test_malformed_bodies_are_refused_with_a_code(client, in_app, api, body):
    in_app(make_lists)
    before = in_app(row_counts)
    response = api.post("/subscribers", data=body, content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["code"] in ("invalid_json", "validation_failed")
    assert in_app(row_counts) == before


def test_a_body_over_the_limit_is_refused(client, in_app, api):
    response = api.post("/subscribers", json={"email": "a@example.org", "name": "n" * 2_000_000})
    error_of(response, 413, "payload_too_large")


def test_a_large_bulk_upsert_fits(client, in_app, api):
    people = [{"email": f"person{n}@example.org", "name": "N" * 60} for n in range(1000)]
    response = api.post("/subscribers/bulk", json={"subscribers": people})
    assert response.status_code == 200
    assert response.get_json()["created"] == 1000
    too_many = api.post("/subscribers/bulk", json={"subscribers": people + people[:1]})
    assert "subscribers" in error_of(too_many, 422, "validation_failed")["fields"]


def test_validation_errors_name_the_fields_in_the_callers_language(client, in_app, api, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = api.post(
        "/subscribers?lang=fr",
        json={
            "email": "josé@example.org",
            "name": "Eve\r\nBcc: victim@example.org",
            "language": "xx",
            "lists": [lists["events"], 2**40, "3"],
            "status": "bounced",
            "extra": 1,
        },
    )
    body = error_of(response, 422, "validation_failed")
    fields = body["fields"]
    assert set(fields) == {"email", "name", "language", "lists.1", "lists.2", "status", "extra"}
    assert fields["email"] == [translated("fr", "Please enter a valid email address.")]
    assert fields["language"] == [translated("fr", "Please choose one of the languages offered.")]
    assert body["message"] == translated("fr", "Some fields are not valid.")
    assert in_app(row_counts) == before


def test_nul_characters_are_refused_before_the_database(client, in_app, api):
    """Refused at the edge (newsletter.hygiene), in the query string as in JSON strings."""
    lists = in_app(make_lists)
    before = in_app(row_counts)
    error_of(api.get("/subscribers?email=a%00b"), 400, "control_characters")
    error_of(api.get("/subscribers?language=%00"), 400, "control_characters")
    created = api.post(
        "/lists", json={"slug": "x", "names": {"en": "X"}, "descriptions": {"en": "\x00"}}
    )
    error_of(created, 400, "control_characters")
    issue = api.post(
        "/issues",
        json={
            "name": "N",
            "lists": [lists["events"]],
            "variants": {"en": {"subject": "S", "body": "\x00"}},
        },
    )
    error_of(issue, 400, "control_characters")
    assert in_app(row_counts) == before


def test_missing_and_mistyped_fields(client, in_app, api, translated):
    response = api.post("/subscribers", json={"name": 12}, headers={"Accept-Language": "de"})
    fields = error_of(response, 422, "validation_failed")["fields"]
    assert fields == {
        "email": [translated("de", "This field is required.")],
        "name": [translated("de", "Please send a string.")],
    }


# Subscribers


def test_create_read_update_and_delete_a_subscriber(client, in_app, api, smtp):
    lists = in_app(make_lists)
    created = api.post(
        "/subscribers",
        json={
            "email": " Ana@Example.ORG ",
            "name": "Ana",
            "language": "es",
            "lists": [lists["events"], lists["members"]],
        },
    )
    assert created.status_code == 201
    ana = created.get_json()
    assert ana["email"] == "ana@example.org"
    assert ana["status"] == "confirmed"
    assert ana["lists"] == sorted([lists["events"], lists["members"]])
    assert ana["confirmed_at"].endswith("+00:00")
    state = in_app(subscriber_state, "ana@example.org")
    assert state.status == SubscriberStatus.CONFIRMED
    assert [c.source for c in state.consents] == ["api", "api"]
    assert smtp.settle(quiet=0.2) == [], "no mail from the API"

    assert api.get(f"/subscribers/{ana['id']}").get_json() == ana
    error_of(api.post("/subscribers", json={"email": "ANA@example.org"}), 409, "email_taken")

    changed = api.patch(
        f"/subscribers/{ana['id']}",
        json={"name": "Ana María", "language": "fr", "lists": [lists["newsletter"]]},
    )
    assert changed.status_code == 200
    assert changed.get_json()["lists"] == [lists["newsletter"]]
    assert changed.get_json()["language"] == "fr"

    left = api.patch(f"/subscribers/{ana['id']}", json={"status": "unsubscribed"})
    assert left.get_json()["status"] == "unsubscribed"
    assert left.get_json()["lists"] == []
    unknown = lists["members"] + 1000
    refused = api.patch(
        f"/subscribers/{ana['id']}", json={"status": "confirmed", "lists": [unknown]}
    )
    assert error_of(refused, 422, "validation_failed")["fields"] == {
        "lists": [f"There is no list with id {unknown}."]
    }
    assert api.get(f"/subscribers/{ana['id']}").get_json()["status"] == "unsubscribed"
    back = api.patch(
        f"/subscribers/{ana['id']}", json={"status": "confirmed", "lists": [lists["events"]]}
    )
    assert back.status_code == 200
    assert back.get_json()["status"] == "confirmed"
    assert back.get_json()["lists"] == [lists["events"]]

    assert api.delete(f"/subscribers/{ana['id']}").status_code == 204
    assert in_app(subscriber_state, "ana@example.org") is None
    error_of(api.get(f"/subscribers/{ana['id']}"), 404, "not_found")
    again = api.post("/subscribers", json={"email": "ana@example.org"})
    error_of(again, 409, "address_suppressed")


def test_delete_without_suppression_allows_a_new_import(client, in_app, api):
    subscriber_id = in_app(new_subscriber, "ben@example.org")
    response = api.delete(f"/subscribers/{subscriber_id}?suppress=false")
    assert response.status_code == 204
    assert in_app(lambda: db.session.get(Suppression, email_hash("ben@example.org"))) is None
    assert api.post("/subscribers", json={"email": "ben@example.org"}).status_code == 201


def test_unknown_lists_and_blocked_subscribers_are_refused(client, in_app, api):
    in_app(make_lists)
    bounced = in_app(new_subscriber, "gone@example.org", status=SubscriberStatus.BOUNCED)
    unknown = api.post("/subscribers", json={"email": "c@example.org", "lists": [999999]})
    assert "lists" in error_of(unknown, 422, "validation_failed")["fields"]
    revived = api.patch(f"/subscribers/{bounced}", json={"status": "confirmed"})
    error_of(revived, 409, "subscriber_blocked")
    assert in_app(subscriber_state, "gone@example.org").status == SubscriberStatus.BOUNCED
    renamed = api.patch(f"/subscribers/{bounced}", json={"name": "Gone"})
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "Gone"
    consent = in_app(subscriber_state, "gone@example.org").consents[-1]
    assert (consent.action, consent.source) == (ConsentAction.PREFERENCES, "api")


def test_only_confirmed_subscribers_are_put_on_lists(client, in_app, api):
    """The rule the editors' screen follows: others choose their own lists by confirming."""
    lists = in_app(make_lists)
    bounced = in_app(new_subscriber, "gone@example.org", status=SubscriberStatus.BOUNCED)
    pending = in_app(new_subscriber, "pat@example.org", status=SubscriberStatus.PENDING)
    left = in_app(new_subscriber, "left@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    events = [lists["events"]]
    for subscriber_id, code in (
        (bounced, "subscriber_blocked"),
        (pending, "confirmation_required"),
        (left, "subscriber_unsubscribed"),
    ):
        refused = api.patch(f"/subscribers/{subscriber_id}", json={"name": "X", "lists": events})
        error_of(refused, 409, code)
    for email in ("gone@example.org", "pat@example.org", "left@example.org"):
        state = in_app(subscriber_state, email)
        assert (state.list_ids, state.name, state.consents) == (set(), None, [])

    back = api.patch(f"/subscribers/{left}", json={"status": "confirmed", "lists": events})
    assert (back.get_json()["status"], back.get_json()["lists"]) == ("confirmed", events)
    bulk = api.post(
        "/subscribers/bulk", json={"subscribers": [{"email": "gone@example.org", "lists": events}]}
    )
    assert bulk.get_json()["items"][0]["code"] == "subscriber_blocked"
    assert in_app(subscriber_state, "gone@example.org").list_ids == set()


def test_search_filter_and_cursor_pagination(client, in_app, api):
    lists = in_app(make_lists)
    for n in range(7):
        in_app(
            make_subscriber,
            f"reader{n}@example.org",
            language="es" if n % 2 else "de",
            list_ids=(lists["events"],) if n < 3 else (),
            name=f"Reader Number{n}",
        )
    in_app(make_subscriber, "pending_%@example.org", status=SubscriberStatus.PENDING)

    seen, cursor, pages = [], 0, 0
    while cursor is not None:
        page = api.get(f"/subscribers?limit=3&cursor={cursor}").get_json()
        seen += [item["email"] for item in page["items"]]
        cursor, pages = page["next_cursor"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 8

    def emails(query: str) -> list[str]:
        response = api.get(f"/subscribers?{query}")
        assert response.status_code == 200, response.get_json()
        return [item["email"] for item in response.get_json()["items"]]

    assert emails("email=READER1") == ["reader1@example.org"]
    assert emails("name=number2") == ["reader2@example.org"]
    assert emails("email=_%25") == ["pending_%@example.org"], "wildcards are literal"
    assert emails("status=pending") == ["pending_%@example.org"]
    assert len(emails("language=es")) == 3
    assert emails(f"list={lists['events']}&language=de") == [
        "reader0@example.org",
        "reader2@example.org",
    ]
    for bad in ("limit=0", "limit=100000", "cursor=-1", "status=gone", "list=abc"):
        error_of(api.get(f"/subscribers?{bad}"), 422, "validation_failed")


def test_bulk_upsert(client, in_app, api):
    lists = in_app(make_lists)
    in_app(make_subscriber, "known@example.org", language="de", name="Known")
    in_app(make_subscriber, "left@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    in_app(
        lambda: (
            db.session.add(Suppression(email_hash=email_hash("erased@example.org"), reason="x")),
            db.session.commit(),
        )
    )
    response = api.post(
        "/subscribers/bulk",
        json={
            "subscribers": [
                {"email": "new@example.org", "language": "fr", "lists": [lists["events"]]},
                {"email": "KNOWN@example.org", "name": "Known Again"},
                {"email": "left@example.org", "language": "es"},
                {"email": "erased@example.org"},
                {"email": "new@example.org"},
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert (result["created"], result["updated"], result["skipped"]) == (1, 2, 2)
    assert [(i["email"], i["result"], i["code"]) for i in result["items"]] == [
        ("new@example.org", "created", None),
        ("known@example.org", "updated", None),
        ("left@example.org", "updated", None),
        ("erased@example.org", "skipped", "address_suppressed"),
        ("new@example.org", "skipped", "duplicate_in_batch"),
    ]
    assert in_app(subscriber_state, "known@example.org").name == "Known Again"
    left = in_app(subscriber_state, "left@example.org")
    assert (left.status, left.language) == (SubscriberStatus.UNSUBSCRIBED, "es")
    assert in_app(subscriber_state, "new@example.org").list_ids == {lists["events"]}

    before = in_app(row_counts)
    bad = api.post(
        "/subscribers/bulk",
        json={"subscribers": [{"email": "fine@example.org"}, {"email": "not an address"}]},
    )
    assert "subscribers.1.email" in error_of(bad, 422, "validation_failed")["fields"]
    empty = api.post("/subscribers/bulk", json={"subscribers": []})
    error_of(empty, 422, "validation_failed")
    assert in_app(row_counts) == before, "an invalid item refuses the whole batch"


# Lists


def test_lists(client, in_app, api):
    created = api.post(
        "/lists",
        json={"slug": "podcasts", "names": {"en": "Podcasts", "de": "Podcasts"}, "public": False},
    )
    assert created.status_code == 201
    item = created.get_json()
    assert (item["slug"], item["public"], item["descriptions"]) == ("podcasts", False, {})
    error_of(api.post("/lists", json={"slug": "podcasts", "names": {"en": "P"}}), 409, "slug_taken")
    no_default = api.post("/lists", json={"slug": "other", "names": {"de": "Andere"}})
    assert "names" in error_of(no_default, 422, "validation_failed")["fields"]
    bad = api.post("/lists", json={"slug": "Bad Slug", "names": {"en": "Line\nbreak", "xx": "X"}})
    assert set(error_of(bad, 422, "validation_failed")["fields"]) >= {"slug"}

    changed = api.patch(
        f"/lists/{item['id']}", json={"descriptions": {"en": "Audio"}, "public": True}
    )
    assert changed.get_json()["descriptions"] == {"en": "Audio"}
    assert api.get(f"/lists/{item['id']}").get_json()["public"] is True
    in_app(make_list_named, "zzz")
    page = api.get("/lists?limit=1").get_json()
    assert [i["slug"] for i in page["items"]] == ["podcasts"]
    assert api.get(f"/lists?cursor={page['next_cursor']}").get_json()["items"][0]["slug"] == "zzz"


def make_list_named(slug: str) -> None:
    from factories import make_list

    make_list(slug)


# Issues


def issue_body(list_ids: dict, **overrides) -> dict:
    body = {
        "name": "Spring",
        "default_language": "en",
        "lists": [list_ids["newsletter"]],
        "variants": {
            "en": {"subject": "Spring news", "preheader": "All of it", "body": "# Hello\n\nNews."},
            "es": {"subject": "Noticias", "body": "# Hola\n\nNoticias."},
        },
    }
    body.update(overrides)
    return body


def test_create_read_list_and_update_issues(client, in_app, api):
    lists = in_app(make_lists)
    created = api.post("/issues", json=issue_body(lists))
    assert created.status_code == 201, created.get_json()
    issue = created.get_json()
    assert issue["status"] == "draft"
    assert [v["language"] for v in issue["variants"]] == ["en", "es"]
    assert issue["variants"][1]["preheader"] == ""
    assert api.get(f"/issues/{issue['id']}").get_json() == issue

    put = api.put(
        f"/issues/{issue['id']}/variants/fr",
        json={"subject": "Nouvelles", "body": "Bonjour", "preheader": "Tout"},
    )
    assert put.status_code == 200
    assert api.get(f"/issues/{issue['id']}/variants/fr").get_json()["subject"] == "Nouvelles"
    error_of(api.get(f"/issues/{issue['id']}/variants/de"), 404, "variant_not_found")
    bad_language = api.put(f"/issues/{issue['id']}/variants/xx", json={"subject": "s", "body": "b"})
    assert "language" in error_of(bad_language, 422, "validation_failed")["fields"]
    injected = api.put(
        f"/issues/{issue['id']}/variants/de",
        json={"subject": "Hallo\r\nBcc: victim@example.org", "body": "x"},
    )
    assert "subject" in error_of(injected, 422, "validation_failed")["fields"]

    changed = api.patch(
        f"/issues/{issue['id']}",
        json={"name": "Spring 2", "fallback": "skip", "lists": [lists["events"]]},
    )
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["fallback"]) == ("Spring 2", "skip")
    assert changed.get_json()["lists"] == [lists["events"]]
    unknown = api.patch(f"/issues/{issue['id']}", json={"lists": [999999]})
    error_of(unknown, 422, "validation_failed")

    api.post("/issues", json=issue_body(lists, name="Other"))
    drafts = api.get("/issues?status=draft&limit=1").get_json()
    assert len(drafts["items"]) == 1 and drafts["next_cursor"] == issue["id"]
    assert api.get("/issues?status=sent").get_json() == {"items": [], "next_cursor": None}


def test_preview_is_exactly_what_a_test_send_delivers(client, in_app, api, smtp):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]], ("en", "es"))
    preview = api.get(f"/issues/{issue_id}/preview/es")
    assert preview.status_code == 200
    shown = preview.get_json()
    assert shown["subject"] == "Noticias de la semana"
    assert "viernes" in shown["html"] and "viernes" in shown["text"]
    assert "<link" not in shown["html"]
    error_of(api.get(f"/issues/{issue_id}/preview/fr"), 404, "variant_not_found")

    sent = api.post(f"/issues/{issue_id}/test", json={"to": "Editor@Example.org", "language": "es"})
    assert sent.status_code == 202
    [received] = smtp.wait_for(1)
    assert received.recipients == ["editor@example.org"]
    message = received.message
    assert message["Subject"] == f"[Prueba] {shown['subject']}", "a test says so, in Spanish"
    assert message["Content-Language"] == "es"
    parts = {p.get_content_subtype(): p.get_content() for p in message.iter_parts()}
    assert parts["html"] == shown["html"].replace("/preview", "/test")
    assert parts["plain"] == shown["text"].replace("/preview", "/test")

    no_variant = api.post(
        f"/issues/{issue_id}/test", json={"to": "e@example.org", "language": "de"}
    )
    assert "language" in error_of(no_variant, 422, "validation_failed")["fields"]
    bad_to = api.post(f"/issues/{issue_id}/test", json={"to": "é@exämple.org", "language": "es"})
    assert "to" in error_of(bad_to, 422, "validation_failed")["fields"]
    assert len(smtp.settle(quiet=0.2)) == 1


def test_send_follow_and_control_an_issue(client, in_app, api, smtp):
    audience = in_app(make_audience)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    started = api.post(f"/issues/{issue_id}/send")
    assert started.status_code == 202
    assert started.get_json()["recipients"] == 10
    assert started.get_json()["issue"]["status"] == "sending"
    error_of(api.post(f"/issues/{issue_id}/send"), 409, "invalid_state")
    error_of(api.patch(f"/issues/{issue_id}", json={"name": "x"}), 409, "issue_not_editable")
    put = api.put(f"/issues/{issue_id}/variants/en", json={"subject": "s", "body": "b"})
    error_of(put, 409, "issue_not_editable")

    assert api.post(f"/issues/{issue_id}/pause").get_json()["status"] == "paused"
    error_of(api.post(f"/issues/{issue_id}/pause"), 409, "invalid_state")
    assert api.post(f"/issues/{issue_id}/resume").get_json()["status"] == "sending"

    # The delivery queue has its own workers in production; here this process sends.
    in_app(delivery.deliver_until, issue_id, time.monotonic() + 30)
    expected = audience["expected"]
    assert sorted(r.recipients[0] for r in smtp.settle()) == sorted(expected)

    progress = api.get(f"/issues/{issue_id}/progress").get_json()
    assert progress["status"] == "sent"
    assert progress["overall"]["sent"] == len(expected) == 9
    assert progress["overall"]["total"] == 10, "the suppressed reader is counted, not mailed"
    assert progress["overall"]["remaining"] == 0
    assert progress["languages"]["es"]["sent"] == 2
    error_of(api.post(f"/issues/{issue_id}/cancel"), 409, "invalid_state")

    first = api.get(f"/issues/{issue_id}/deliveries?limit=4").get_json()
    assert len(first["items"]) == 4
    rest = api.get(f"/issues/{issue_id}/deliveries?cursor={first['next_cursor']}").get_json()
    assert len(first["items"]) + len(rest["items"]) == 10 and rest["next_cursor"] is None
    states = sorted(d["state"] for d in first["items"] + rest["items"])
    assert states == ["sent"] * 9 + ["skipped"]
    skipped = api.get(f"/issues/{issue_id}/deliveries?state=skipped").get_json()["items"]
    assert len(skipped) == 1
    assert api.get(f"/issues/{issue_id}/deliveries?state=failed").get_json()["items"] == []
    error_of(api.get("/issues/999999/deliveries"), 404, "not_found")


def test_schedule_and_cancel(client, in_app, api):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]], ("en",))
    past = api.post(f"/issues/{issue_id}/schedule", json={"at": "2000-01-01T00:00:00Z"})
    assert "at" in error_of(past, 422, "validation_failed")["fields"]
    nonsense = api.post(f"/issues/{issue_id}/schedule", json={"at": "tomorrow"})
    assert "at" in error_of(nonsense, 422, "validation_failed")["fields"]
    when = datetime.now(UTC) + timedelta(days=2)
    scheduled = api.post(
        f"/issues/{issue_id}/schedule",
        json={"at": when.astimezone(UTC).replace(tzinfo=None).isoformat()},
    )
    assert scheduled.status_code == 200
    assert scheduled.get_json()["status"] == "scheduled"
    assert scheduled.get_json()["scheduled_at"].startswith(when.strftime("%Y-%m-%dT%H:%M"))
    assert api.post(f"/issues/{issue_id}/cancel").get_json()["status"] == "cancelled"
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.CANCELLED
    error_of(api.post(f"/issues/{issue_id}/resume"), 409, "invalid_state")


def test_an_issue_without_its_default_text_is_not_sent(client, in_app, api):
    lists = in_app(make_lists)
    body = issue_body(lists, default_language="de")
    issue_id = api.post("/issues", json=body).get_json()["id"]
    error_of(api.post(f"/issues/{issue_id}/send"), 409, "issue_not_ready")
    at = {"at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    error_of(api.post(f"/issues/{issue_id}/schedule", json=at), 409, "issue_not_ready")
    count = in_app(lambda: db.session.execute(db.select(db.func.count(Delivery.id))).scalar())
    assert count == 0


def test_issue_validation(client, in_app, api):
    lists = in_app(make_lists)
    bad = api.post(
        "/issues",
        json={
            "name": "A\nB",
            "lists": [],
            "default_language": "xx",
            "fallback": "maybe",
            "variants": {"en": {"subject": ""}},
        },
    )
    fields = error_of(bad, 422, "validation_failed")["fields"]
    assert {"name", "lists", "default_language", "fallback"} <= set(fields)
    assert any(key.startswith("variants.en") for key in fields), fields
    unknown = api.post("/issues", json=issue_body(lists, lists=[999999]))
    assert "lists" in error_of(unknown, 422, "validation_failed")["fields"]


# The document and its docs page


def test_openapi_document_describes_the_api(client):
    document = client.get(f"{V1}/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (nlt_…)",
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert f"{V1}/subscribers/bulk" in document["paths"]
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "fields"}


def test_docs_page_works_offline(client):
    page = client.get(f"{V1}/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = re.findall(r'(?:src|href|url)\s*[=:]\s*"([^"]+)"', html)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert f"{V1}/docs/openapi-3.0.json" in html  # the config Swagger UI starts with
    assert "http://" not in html and "https://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        response = client.get(f"{V1}/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.data) > 1000
    for_ui = client.get(f"{V1}/docs/openapi-3.0.json").get_json()
    assert for_ui["openapi"] == "3.0.3"
    name = for_ui["components"]["schemas"]["Subscriber"]["properties"]["name"]
    assert name == {"type": "string", "nullable": True}


def test_the_api_cannot_confirm_a_public_signup_for_its_owner(client, in_app, api, translated):
    lists = in_app(make_lists)
    signup = client.post(
        "/api/v1/subscribe",
        json={"email": "typed@example.org", "language": "en", "lists": [lists["events"]]},
    )
    assert signup.status_code == 202
    tasks_done()
    pending = in_app(subscriber_state, "typed@example.org")
    assert pending.status == SubscriberStatus.PENDING

    refused = api.patch(
        f"/subscribers/{pending.id}",
        json={"status": "confirmed"},
        headers={"Accept-Language": "de"},
    )
    body = error_of(refused, 409, "confirmation_required")
    assert body["message"] == translated(
        "de",
        "This subscriber has not confirmed yet; only the link in their confirmation mail can"
        " confirm them.",
    )
    assert in_app(subscriber_state, "typed@example.org").status == SubscriberStatus.PENDING

    bulk = api.post(
        "/subscribers/bulk",
        json={"subscribers": [{"email": "typed@example.org", "status": "confirmed"}]},
    )
    assert [i["code"] for i in bulk.get_json()["items"]] == ["confirmation_required"]
    assert in_app(subscriber_state, "typed@example.org").status == SubscriberStatus.PENDING

    left = api.patch(f"/subscribers/{pending.id}", json={"status": "unsubscribed"})
    assert left.status_code == 200
    assert left.get_json()["status"] == "unsubscribed"


def test_a_send_from_the_ui_and_one_from_the_api_at_once_start_one_campaign(
    app, in_app, admin_client, api
):
    """Both requests read a draft; the row lock makes the second wait for the first and
    then refuse, so the audience is written to the ledger and queued only once."""
    if app.database_kind != "postgresql":
        pytest.skip("SQLite has no row locks to wait on")
    audience = in_app(make_audience)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    token = csrf_token(admin_client, f"/admin/issues/{issue_id}/send")
    with app.app_context():
        engine = db.engine
    dispatched = []

    def count_dispatch(sender=None, body=None, **_kwargs):
        if sender == "newsletter.tasks.deliver_issue":
            dispatched.append(tuple(body[0]))

    answers = {}
    callers = {
        "ui": lambda: admin_client.post(
            f"/admin/issues/{issue_id}/send", data={"csrf_token": token}
        ),
        "api": lambda: api.post(f"/issues/{issue_id}/send"),
    }
    threads = [
        threading.Thread(target=lambda name=name: answers.update({name: callers[name]()}))
        for name in callers
    ]
    before_task_publish.connect(count_dispatch, weak=False)
    try:
        with engine.connect() as blocker:
            # Hold the issue's row so that both requests queue up on it.
            blocker.execute(db.select(Issue.id).where(Issue.id == issue_id).with_for_update())
            for thread in threads:
                thread.start()
            waiting = db.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            clear = db.text("SELECT pg_stat_clear_snapshot()")
            deadline = time.monotonic() + 15
            # Within a transaction, PostgreSQL shows the same activity snapshot until cleared.
            while blocker.execute(clear).all() and blocker.execute(waiting).scalar() < 2:
                assert time.monotonic() < deadline, f"both requests should wait: {answers}"
                time.sleep(0.05)
            blocker.rollback()
        for thread in threads:
            thread.join(30)
    finally:
        before_task_publish.disconnect(count_dispatch)

    ui, from_api = answers["ui"], answers["api"]
    ui_started = ui.status_code == 302 and ui.location.endswith(f"/admin/issues/{issue_id}")
    assert ui.status_code == 302 and from_api.status_code in (202, 409)
    assert ui_started != (from_api.status_code == 202), "exactly one of them starts it"
    if ui_started:
        error_of(from_api, 409, "invalid_state")
    else:
        assert ui.location.endswith(f"/admin/issues/{issue_id}/send")
        refused = admin_client.get(ui.location, follow_redirects=True).get_data(as_text=True)
        assert "Only a draft or a scheduled issue can be sent." in refused
        assert from_api.get_json()["recipients"] == 10

    def ledger_rows():
        rows = db.session.execute(
            db.select(Delivery.subscriber_id).where(Delivery.issue_id == issue_id)
        )
        return [row.subscriber_id for row in rows]

    rows = in_app(ledger_rows)
    assert len(rows) == len(set(rows)) == 10
    assert dispatched == [(issue_id,)] * app.config["DELIVERY_TASKS"]
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.SENDING


def test_the_api_writes_the_second_language_and_refuses_the_first_again(api, in_app):
    created = api.post(
        "/subscribers", json={"email": "lea@example.org", "language": "fr", "second_language": "de"}
    )
    assert created.status_code == 201 and created.get_json()["second_language"] == "de"
    sub_id = created.get_json()["id"]
    same = api.patch(f"/subscribers/{sub_id}", json={"second_language": "fr"})
    assert (same.status_code, same.get_json()["code"]) == (409, "same_languages")
    unknown = api.patch(f"/subscribers/{sub_id}", json={"second_language": "xx"})
    assert unknown.status_code == 422
    cleared = api.patch(f"/subscribers/{sub_id}", json={"second_language": None})
    assert cleared.status_code == 200 and cleared.get_json()["second_language"] is None
    refused = api.post(
        "/subscribers", json={"email": "max@example.org", "language": "de", "second_language": "de"}
    )
    assert (refused.status_code, refused.get_json()["code"]) == (409, "same_languages")
    assert api.get("/subscribers?email=max@example.org").get_json()["items"] == []
