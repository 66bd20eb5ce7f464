"""Outgoing webhooks against a real HTTP receiver on loopback: events recorded with the
change, signed deliveries verified as a consumer would, retries after a 500 and while the
receiver is down, sending again from the UI, and endpoints that would reach into the local
network refused."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from campaign_helpers import configured, make_issue, send_all, start
from factories import make_lists, make_subscriber, make_user
from helpers import csrf_token, log_in
from test_subscribe import _confirm, confirm_link, subscribe
from workers import WorkerProcess, wait_until

from newsletter import webhooks
from newsletter.extensions import db
from newsletter.models import (
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)

ALL_EVENTS = sorted(webhooks.EVENTS)


class Receiver:
    """An HTTP server on loopback that records what is posted and answers ``answers``
    in turn (then 200); it can be stopped and started again on the same port."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        self.server = None
        self.port = None
        self.start()

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?source=newsletter"

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for _headers, body in self.requests]


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def loopback_allowed(app):
    with configured(app, WEBHOOKS_ALLOW_PRIVATE=True):
        yield


def verified(secret: str, headers: dict, body: bytes, max_age: int = 300) -> dict:
    """What a consumer does: check the signature over the raw body and the time."""
    fields = dict(part.split("=", 1) for part in headers["Newsletter-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), fields["v1"]), "signature"
    assert abs(time.time() - int(fields["t"])) < max_age, "fresh"
    return json.loads(body)


def add_endpoint(url: str, events=ALL_EVENTS) -> tuple[int, str]:
    endpoint = webhooks.save_endpoint(None, url, events)
    db.session.commit()
    return endpoint.id, endpoint.secret


def deliveries() -> list[tuple[str, str, int]]:
    return [
        (d.event, d.status.value, d.attempts)
        for d in db.session.execute(
            db.select(WebhookDelivery).order_by(WebhookDelivery.id)
        ).scalars()
    ]


def subscribe_and_confirm(client, smtp, list_id: int, email="new@example.org") -> None:
    subscribe(client, "en", email, [list_id])
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    _confirm(client, lang, token)


def test_subscribing_and_confirming_reach_the_receiver_signed(
    client, in_app, smtp, receiver, loopback_allowed
):
    lists = in_app(make_lists)
    endpoint_id, secret = in_app(add_endpoint, receiver.url)
    subscribe_and_confirm(client, smtp, lists["newsletter"])
    assert [event for event, _s, _a in in_app(deliveries)] == [
        "subscriber.subscribed",
        "subscriber.confirmed",
    ]
    assert receiver.requests == [], "nothing is sent by the request itself"
    assert in_app(webhooks.send_due) == 2
    assert receiver.events() == ["subscriber.subscribed", "subscriber.confirmed"]
    headers, body = receiver.requests[1]
    payload = verified(secret, headers, body)
    assert payload["data"]["email"] == "new@example.org"
    assert payload["data"]["status"] == "confirmed" and payload["data"]["lists"]
    assert headers["Content-Type"].startswith("application/json")
    # A forged body fails the consumer's check.
    with pytest.raises(AssertionError, match="signature"):
        verified(secret, headers, body.replace(b"new@", b"evil@"))
    assert [status for _e, status, _a in in_app(deliveries)] == ["delivered", "delivered"]


@pytest.mark.integration
def test_a_worker_sends_them_on_its_schedule(app, in_app, receiver):
    _id, secret = in_app(add_endpoint_allowed, app, receiver.url)

    def unsubscribe():
        from newsletter import subscriptions

        subscriber = make_subscriber("leaving@example.org", "fr")
        subscriptions.unsubscribe(subscriber, subscriptions.RequestInfo(None, None, "test"))
        db.session.commit()

    in_app(unsubscribe)
    worker = WorkerProcess(
        app, "webhooks", beat=True, WEBHOOK_INTERVAL=1, WEBHOOKS_ALLOW_PRIVATE="true"
    ).wait_ready()
    try:
        wait_until(lambda: len(receiver.requests) == 1, 30, "the webhook")
    finally:
        worker.stop()
    headers, body = receiver.requests[0]
    assert verified(secret, headers, body)["data"]["email"] == "leaving@example.org"
    assert in_app(deliveries) == [("subscriber.unsubscribed", "delivered", 1)]


def add_endpoint_allowed(app, url: str) -> tuple[int, str]:
    with configured(app, WEBHOOKS_ALLOW_PRIVATE=True):
        return add_endpoint(url)


def test_a_500_is_tried_again_later_and_then_delivered(in_app, receiver, loopback_allowed):
    in_app(add_endpoint, receiver.url, ["subscriber.unsubscribed"])
    receiver.answers = [500, 503]

    def unsubscribe():
        from newsletter import subscriptions

        subscriber = make_subscriber("leaving@example.org", "fr")
        subscriptions.unsubscribe(subscriber, subscriptions.RequestInfo(None, None, "test"))
        db.session.commit()

    in_app(unsubscribe)
    assert in_app(webhooks.send_due) == 0
    assert in_app(deliveries) == [("subscriber.unsubscribed", "pending", 1)]
    # Not due again at once: the pause grows.
    assert in_app(webhooks.send_due) == 0 and len(receiver.requests) == 1
    later = utcnow() + timedelta(seconds=31)
    assert in_app(webhooks.send_due, 50, later) == 0
    assert in_app(deliveries) == [("subscriber.unsubscribed", "pending", 2)]
    assert in_app(webhooks.send_due, 50, later + timedelta(seconds=61)) == 1
    assert in_app(deliveries) == [("subscriber.unsubscribed", "delivered", 3)]
    bodies = {body for _headers, body in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1, "the same event each time"


def test_nothing_is_lost_while_the_receiver_is_down(in_app, receiver, loopback_allowed):
    in_app(add_endpoint, receiver.url, ["campaign.started", "campaign.finished"])
    receiver.stop()

    def campaign():
        lists = make_lists()
        make_subscriber("reader@example.org", "en", list_ids=(lists["newsletter"],))
        return make_issue([lists["newsletter"]], languages=("en",))

    issue_id = in_app(campaign)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    moment = utcnow()
    for attempt in range(4):
        in_app(webhooks.send_due, 50, moment)
        moment += webhooks.backoff(attempt + 1) + timedelta(seconds=1)
    rows = in_app(deliveries)
    assert [event for event, _s, _a in rows] == ["campaign.started", "campaign.finished"]
    assert all(status == "pending" and attempts == 4 for _e, status, attempts in rows)
    assert "ConnectionRefusedError" in in_app(
        lambda: db.session.execute(db.select(WebhookDelivery.last_error)).scalars().first()
    )
    receiver.start()  # back on the same port
    assert in_app(webhooks.send_due, 50, moment) == 2
    assert receiver.events() == ["campaign.started", "campaign.finished"]


def test_after_the_last_attempt_it_fails_and_an_admin_sends_it_again(
    app, client, in_app, receiver, loopback_allowed
):
    endpoint_id, _secret = in_app(add_endpoint, receiver.url, ["subscriber.bounced"])
    in_app(make_user, "admin@example.org", "admin")
    receiver.answers = [500, 500]

    def bounce():
        subscriber = make_subscriber("gone@example.org")
        webhooks.subscriber_event("subscriber.bounced", subscriber)
        db.session.commit()

    in_app(bounce)
    with configured(app, WEBHOOK_MAX_ATTEMPTS=2):
        in_app(webhooks.send_due)
        in_app(webhooks.send_due, 50, utcnow() + timedelta(minutes=5))
    assert in_app(deliveries) == [("subscriber.bounced", "failed", 2)]
    log_in(client, "admin@example.org")
    page = client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "Failed" in page and "HTTP 500" in page
    delivery_id = in_app(lambda: db.session.execute(db.select(WebhookDelivery.id)).scalar_one())
    token = csrf_token(client, f"/admin/webhooks/{endpoint_id}")
    again = client.post(
        f"/admin/webhooks/deliveries/{delivery_id}/again", data={"csrf_token": token}
    )
    assert again.status_code == 302
    assert in_app(webhooks.send_due) == 1
    assert in_app(deliveries) == [("subscriber.bounced", "delivered", 1)]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "javascript:alert(1)",
        "http://user:pass@example.org/hook",
        "http://example.org:99999/hook",
        "https://" + "a" * 600 + ".org/",
    ],
)
def test_endpoints_that_reach_the_local_network_are_refused(in_app, url):
    with pytest.raises(webhooks.RefusedEndpoint):
        in_app(add_endpoint, url)
    assert in_app(lambda: db.session.execute(db.select(WebhookEndpoint)).first()) is None


def test_an_endpoint_that_turned_private_is_not_connected_to(app, in_app, receiver):
    with configured(app, WEBHOOKS_ALLOW_PRIVATE=True):
        in_app(add_endpoint, receiver.url, ["subscriber.bounced"])

    def bounce():
        webhooks.subscriber_event("subscriber.bounced", make_subscriber("gone@example.org"))
        db.session.commit()

    in_app(bounce)
    assert in_app(webhooks.send_due) == 0
    assert receiver.requests == []
    error = in_app(lambda: db.session.execute(db.select(WebhookDelivery.last_error)).scalar_one())
    assert "private or local network" in error


def test_only_admins_reach_the_webhooks(client, in_app):
    in_app(make_user, "editor@example.org", "editor")
    log_in(client, "editor@example.org")
    assert client.get("/admin/webhooks").status_code == 403


def test_admins_register_endpoints_in_the_ui_with_clear_refusals(app, client, in_app, receiver):
    in_app(make_user, "admin@example.org", "admin")
    log_in(client, "admin@example.org")
    token = csrf_token(client, "/admin/webhooks")
    refused = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "url": receiver.url, "events": "campaign.started"},
    )
    assert refused.status_code == 422
    assert "private or local network" in refused.get_data(as_text=True)
    for data in (
        {"url": "https://example.org/"},  # no events
        {"url": "https://example.org/", "events": "everything"},  # a forged event
        {"url": "http://10.1.2.3/", "events": "campaign.started"},
    ):
        assert client.post("/admin/webhooks", data={"csrf_token": token, **data}).status_code == 422
    assert in_app(lambda: db.session.execute(db.select(WebhookEndpoint)).first()) is None
    # Allowed on loopback by the operator's setting, it is saved and shows its secret.
    with configured(app, WEBHOOKS_ALLOW_PRIVATE=True):
        saved = client.post(
            "/admin/webhooks",
            data={"csrf_token": token, "url": receiver.url, "events": ["campaign.started"]},
        )
    assert saved.status_code == 302
    page = client.get(saved.location).get_data(as_text=True)
    secret = in_app(lambda: db.session.execute(db.select(WebhookEndpoint.secret)).scalar_one())
    assert secret in page and "Newsletter-Signature" in page


def test_erasing_someone_deletes_the_deliveries_that_name_them(in_app, receiver):
    from newsletter import subscriptions

    in_app(add_endpoint_allowed_for_all, receiver.url)

    def events():
        for email in ("erase_me@example.org", "erase%me@example.org", "stays@example.org"):
            webhooks.subscriber_event("subscriber.bounced", make_subscriber(email))
        db.session.commit()

    in_app(events)

    def erase():
        subscriptions.erase(subscriptions.find_subscriber("erase_me@example.org"))
        db.session.commit()

    in_app(erase)
    left = in_app(
        lambda: [
            json.loads(d.payload)["data"]["email"]
            for d in db.session.execute(db.select(WebhookDelivery)).scalars()
        ]
    )
    assert sorted(left) == ["erase%me@example.org", "stays@example.org"]


def add_endpoint_allowed_for_all(url: str) -> None:
    endpoint = WebhookEndpoint(url=url, secret=webhooks.new_secret(), events=ALL_EVENTS)
    db.session.add(endpoint)
    db.session.commit()
