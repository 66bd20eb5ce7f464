"""Outgoing webhooks: other systems are told, as JSON, what happens here.

Each event becomes a delivery row per endpoint in the same transaction as the change it
reports, so none is lost and none is sent for a change that was rolled back. The worker
sends them (``send_due``, every ``WEBHOOK_INTERVAL`` seconds) with a short timeout, and
tries again with growing pauses until the endpoint answers 2xx or ``WEBHOOK_MAX_ATTEMPTS``
were made. A slow or dead endpoint never slows the request that caused the event.

A delivery is signed: the header ``Newsletter-Signature: t=<unix time>,v1=<hex>`` carries
HMAC-SHA256 over ``"<t>.<body>"`` with the endpoint's secret. A receiver computes the same
over the raw body, compares in constant time and refuses an old ``t`` (replays).

Endpoints are refused on loopback, private, link-local and other non-public addresses
(a webhook must not reach into the local network, such as a cloud's metadata service),
checked when saved and again, after resolving the name, before each connection, which
goes to the address that was checked. ``WEBHOOKS_ALLOW_PRIVATE=true`` lifts this.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from .extensions import db
from .models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    utcnow,
)

EVENTS = {
    "subscriber.subscribed": _l("Someone subscribed (not confirmed yet)"),
    "subscriber.confirmed": _l("A subscription was confirmed"),
    "subscriber.unsubscribed": _l("Someone unsubscribed"),
    "subscriber.bounced": _l("An address bounced"),
    "subscriber.complained": _l("Someone reported a mail as spam"),
    "campaign.started": _l("A campaign started sending"),
    "campaign.finished": _l("A campaign finished sending"),
    "registration.changed": _l("A registration for an event changed"),
}
SIGNATURE_HEADER = "Newsletter-Signature"
LEASE = timedelta(minutes=2)
"""A claimed delivery is not claimed again for this long (its worker may have died)."""
MAX_BACKOFF = timedelta(hours=6)
MAX_RESPONSE_BYTES = 64 * 1024


class RefusedEndpoint(ValueError):
    """An address webhooks may not be sent to; the message is for the admin."""


def new_secret() -> str:
    return secrets.token_hex(32)


def check_url(url: str) -> str:
    """The URL if webhooks may be sent to it, else ``RefusedEndpoint``."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedEndpoint(_("Enter an address that starts with https:// or http://.")) from None
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 500:
        raise RefusedEndpoint(_("Enter an address that starts with https:// or http://."))
    if parts.username or parts.password:
        raise RefusedEndpoint(_("The address can't carry a user name or password."))
    checked_address(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def checked_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: every address it resolves to must be
    public (unless ``WEBHOOKS_ALLOW_PRIVATE``)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedEndpoint(_("The host %(host)s can't be found.", host=host)) from None
    addresses = [info[4][0] for info in found]
    if not current_app.config["WEBHOOKS_ALLOW_PRIVATE"]:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise RefusedEndpoint(
                    _(
                        "%(host)s is on a private or local network (%(address)s): webhooks "
                        "go only to public addresses.",
                        host=host,
                        address=address,
                    )
                )
    return addresses[0]


def save_endpoint(
    endpoint: WebhookEndpoint | None, url: str, events: list[str], active: bool = True
) -> WebhookEndpoint:
    """Create or change an endpoint; raises ``RefusedEndpoint`` and changes nothing."""
    url = check_url(url)
    unknown = set(events) - set(EVENTS)
    if unknown or not events:
        raise RefusedEndpoint(_("Choose one or more events."))
    if endpoint is None:
        endpoint = WebhookEndpoint(secret=new_secret())
        db.session.add(endpoint)
    endpoint.url, endpoint.events, endpoint.active = url, sorted(events), active
    return endpoint


def all_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def emit(event: str, data: Callable[[], dict]) -> None:
    """Record ``event`` for every active endpoint that wants it; sent once committed.
    ``data`` is called only then: with no endpoint, an event costs one small SELECT."""
    active = select(WebhookEndpoint).where(WebhookEndpoint.active)
    wanted = [e for e in db.session.execute(active).scalars() if event in (e.events or [])]
    if not wanted:
        return
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "event": event,
            "created_at": utcnow().isoformat(timespec="seconds") + "Z",
            "data": data(),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    for endpoint in wanted:
        db.session.add(WebhookDelivery(endpoint=endpoint, event=event, payload=body))


def forget(email: str) -> None:
    """Delete the deliveries that name ``email``, sent or not: part of erasing someone."""
    quoted = json.dumps(email, ensure_ascii=False)
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", f'"email": {quoted}') + "%"
    db.session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.payload.like(pattern, escape="\\"))
    )


def subscriber_data(subscriber) -> dict:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "language": subscriber.language,
        "status": subscriber.status.value if subscriber.status else None,
        "lists": sorted(subscriber.list_ids),
    }


def subscriber_event(event: str, subscriber) -> None:
    emit(event, lambda: subscriber_data(_flushed(subscriber)))


def campaign_event(event: str, issue) -> None:
    emit(
        event,
        lambda: {
            "issue_id": issue.id,
            "name": issue.name,
            "status": issue.status.value,
            "started_at": issue.started_at.isoformat(timespec="seconds") + "Z"
            if issue.started_at
            else None,
        },
    )


def registration_event(registration) -> None:
    def data() -> dict:
        _flushed(registration)
        return {
            "id": registration.id,
            "event_id": registration.event_id,
            "email": registration.email,
            "name": registration.name,
            "language": registration.language,
            "status": registration.status.value,
            "answers": registration.answers or {},
        }

    emit("registration.changed", data)


def _flushed(row):
    """``row`` with its id, when it was just added."""
    if row.id is None:
        db.session.flush()
    return row


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def claim_due(limit: int = 50, now=None) -> list[int]:
    """Deliveries due now, leased to this worker."""
    now = now or utcnow()
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint)
        .where(
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = list(db.session.execute(query).scalars())
    for row in rows:
        row.next_attempt_at = now + LEASE
    db.session.commit()
    return [row.id for row in rows]


def send_due(limit: int = 50, now=None) -> int:
    """Send what is due; returns how many were delivered."""
    delivered = 0
    for delivery_id in claim_due(limit, now):
        delivered += send(delivery_id, now)
    return delivered


def send(delivery_id: int, now=None) -> bool:
    """One attempt; the outcome is committed before the next one starts."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    body = delivery.payload.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "newsletter-webhooks",
        SIGNATURE_HEADER: signature(delivery.endpoint.secret, int(time.time()), body),
    }
    code, error = None, None
    try:
        code = post(delivery.endpoint.url, body, headers)
    except RefusedEndpoint as refused:
        error = str(refused)
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"
    delivery.attempts += 1
    delivery.last_code = code
    now = now or utcnow()
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            WebhookDeliveryStatus.DELIVERED,
            now,
            None,
        )
    else:
        delivery.last_error = (error or f"HTTP {code}")[:500]
        if delivery.attempts >= current_app.config["WEBHOOK_MAX_ATTEMPTS"]:
            delivery.status = WebhookDeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
    db.session.commit()
    return delivery.status == WebhookDeliveryStatus.DELIVERED


def backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most ``MAX_BACKOFF``."""
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)


def send_again(delivery: WebhookDelivery) -> None:
    """An admin sends a delivery again: a new series of attempts, starting now."""
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()


def recent_deliveries(endpoint_id: int, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        db.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        ).scalars()
    )


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` and return the status code; redirects are not followed."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = checked_address(parts.hostname, port)
    connection_class = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = connection_class(
        parts.hostname, port, address, timeout=current_app.config["WEBHOOK_TIMEOUT"]
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
