"""Bounces and complaints: reading the reports mail systems send back, and acting on them.

Reports are delivery status notifications (RFC 3464), abuse feedback (ARF, RFC 5965) and
the plain-text bounces some servers still send. The same mailbox also receives the
unsubscribe requests of ``List-Unsubscribe``'s mailto (subject ``unsubscribe <token>``).
Functions here change the session but do not commit; the caller commits.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Literal

from sqlalchemy import func

from . import webhooks
from .extensions import db
from .mail.identifiers import parse_message_id, parse_return_path
from .models import (
    ConsentAction,
    Delivery,
    DeliveryState,
    ReportKind,
    Subscriber,
    SubscriberStatus,
    Suppression,
    UnattributedReason,
    UnattributedReport,
    email_hash,
    utcnow,
)
from .subscriptions import (
    InvalidEmail,
    RequestInfo,
    ascii_address,
    normalize_email,
    record_consent,
    subscriber_by_token,
    unsubscribe,
)

Kind = Literal["hard", "soft", "complaint"]

STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
FEEDBACK_TYPES = {"message/feedback-report"}
RETURNED_TYPES = {
    "message/rfc822",
    "message/global",
    "message/rfc822-headers",
    "message/global-headers",
    "text/rfc822-headers",
}
# Feedback that is not someone asking to stop: DMARC/DKIM failure reports (RFC 6591) and
# mail a person took out of their spam folder.
NOT_COMPLAINTS = {"auth-failure", "not-spam"}
MAILABLE = (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)
COMPLAINT = RequestInfo(ip=None, user_agent=None, source="complaint")
MAILTO = RequestInfo(ip=None, user_agent=None, source="mailto")
UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe\s+([\w-]{16,64})\s*$", re.IGNORECASE)
SOFT_BOUNCE = "soft bounce"
UNATTRIBUTED = "unattributed"
# Where the address a report was delivered to shows, most specific first.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")

ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.\d{1,3}\.\d{1,3}(?!\.?\d)")
SMTP_REPLY = re.compile(r"(?<![\w.])([245])\d\d(?=[\s-]|$)", re.MULTILINE)
ADDRESS_TYPE = re.compile(r"^\s*[\w-]+\s*;\s*")
STATUS_FIELD = re.compile(r"^(final|original)-recipient\s*:", re.IGNORECASE | re.MULTILINE)
FEEDBACK_FIELD = re.compile(r"^feedback-type\s*:", re.IGNORECASE | re.MULTILINE)
MESSAGE_ID_LINE = re.compile(r"^message-id\s*:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Where a plain-text bounce stops explaining and starts quoting the returned message.
RETURNED_COPY = re.compile(
    r"^[ \t]*-{2,}.*(copy of|original message|headers? of|below this line)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Report:
    """One recipient's bounce, or one complaint, read from a report message."""

    kind: Kind
    recipient: str | None
    original_message_id: str | None
    status: str | None = None
    diagnostic: str | None = None


def parse_report(raw: bytes) -> list[Report]:
    """The bounces and complaints in a raw message; an empty list when it holds none."""
    try:
        return _reports(message_from_bytes(raw))
    except Exception:  # reports come from strangers: one we cannot read is simply not one
        return []


def apply_report(report: Report, soft_bounce_limit: int, return_path: int | None = None) -> str:
    """Act on one report; return what happened to the subscriber.

    ``bounced``, ``soft-bounce`` (counted, still mailed), ``complained``, ``ignored``
    (already handled, or no longer mailed) or ``unattributed``: the report could not be
    tied to one of our deliveries, so it is recorded and counted but changes nothing.

    ``return_path`` is the delivery named by the VERP address the report came back to.
    Without one, the report must name a signed Message-ID of ours, and a bounce must name
    that delivery's recipient: the bounce mailbox is public, and a report naming just an
    address must not bounce, unsubscribe or suppress anyone.
    """
    delivery, reason = _attributed_delivery(report, return_path)
    if delivery is None:
        db.session.add(UnattributedReport(kind=ReportKind(report.kind), reason=reason))
        return UNATTRIBUTED
    subscriber = db.session.get(Subscriber, delivery.subscriber_id)
    if report.kind == "complaint":
        return _complain(subscriber)
    if report.kind == "hard":
        return _hard_bounce(subscriber, delivery, report)
    return _soft_bounce(subscriber, delivery, report, soft_bounce_limit)


def process_message(raw: bytes, soft_bounce_limit: int, recipient: str | None = None) -> list[str]:
    """Act on a raw message: an unsubscribe request, or every report in it.

    ``recipient`` is the address the message was delivered to, when the caller knows it
    (an MTA pipe); otherwise it is read from the message's delivery headers.
    """
    token = unsubscribe_request_token(raw)
    if token is not None:
        return [apply_unsubscribe_request(token)]
    return_path = delivery_in_return_path(raw, recipient)
    return [apply_report(report, soft_bounce_limit, return_path) for report in parse_report(raw)]


def delivery_in_return_path(raw: bytes, recipient: str | None = None) -> int | None:
    """The delivery whose VERP address (``bounces+token@…``) this report was sent to."""
    addresses = [recipient] if recipient else []
    try:
        headers = HeaderParser().parsestr(raw.decode("utf-8", "replace"), headersonly=True)
        for name in RECIPIENT_HEADERS:
            values = [str(value) for value in headers.get_all(name, [])]
            addresses += [address for _name, address in getaddresses(values)]
    except Exception:  # like reports, their headers come from strangers
        pass
    found = (parse_return_path(address) for address in addresses)
    return next((delivery_id for delivery_id in found if delivery_id is not None), None)


def unattributed_since(since: datetime) -> int:
    """How many reports since then could not be tied to a delivery (what the dashboard shows)."""
    return db.session.execute(
        db.select(func.count())
        .select_from(UnattributedReport)
        .where(UnattributedReport.received_at >= since)
    ).scalar()


def unsubscribe_request_token(raw: bytes) -> str | None:
    """The token of a mail sent through List-Unsubscribe's mailto, if this is one."""
    try:
        subject = str(message_from_bytes(raw, policy=policy.default)["Subject"] or "")
    except Exception:  # like reports, requests come from strangers
        return None
    match = UNSUBSCRIBE_SUBJECT.match(subject)
    return match.group(1) if match else None


def apply_unsubscribe_request(token: str) -> str:
    subscriber = subscriber_by_token(token)
    if subscriber is None:
        return "unknown"
    return "unsubscribed" if unsubscribe(subscriber, MAILTO) else "ignored"


# Reading reports


def _reports(message: Message) -> list[Report]:
    parts = list(_parts(message))
    returned = _returned_headers(parts)
    message_id = _returned_message_id(returned, parts)
    to = _first_address(returned.get_all("To", [])) if returned is not None else None

    feedback = [p for p in parts if p.get_content_type() in FEEDBACK_TYPES]
    if feedback:
        return _complaints(_field_blocks(feedback[0]), message_id, to)
    status = [p for p in parts if p.get_content_type() in STATUS_TYPES]
    if status:
        return [r for p in status for r in _bounces(_field_blocks(p), message_id)]
    if message.get_content_type() == "multipart/report":
        # A report whose machine-readable part is mislabelled, typically as text/plain.
        for part in parts:
            if part.get_content_maintype() != "text" or part.get_content_type() == "text/html":
                continue
            text = _text(part)
            if FEEDBACK_FIELD.search(text):
                return _complaints(_text_blocks(text), message_id, to)
            if STATUS_FIELD.search(text):
                return _bounces(_text_blocks(text), message_id)
    return _plain_text_bounces(message, parts, message_id)


def _parts(message: Message):
    """The message and its parts, without descending into returned messages."""
    yield message
    if message.get_content_maintype() != "message" and message.is_multipart():
        for part in message.get_payload():
            if isinstance(part, Message):
                yield from _parts(part)


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _text_blocks(text: str) -> list[Message]:
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip())
    return [HeaderParser().parsestr(block.strip()) for block in blocks if block.strip()]


def _field_blocks(part: Message) -> list[Message]:
    """The groups of fields in a delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    return _text_blocks(_text(part))


def _field(block: Message, name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _address(value: str | None) -> str | None:
    """The address in a field such as ``rfc822; ana@example.org`` or ``<ana@example.org>``."""
    if not value:
        return None
    value = ADDRESS_TYPE.sub("", value).strip()
    return parseaddr(value)[1] or value.strip("<>").strip() or None


def _first_address(values: list) -> str | None:
    addresses = [address for _name, address in getaddresses([str(v) for v in values])]
    return next((address for address in addresses if "@" in address), None)


def _returned_headers(parts: list[Message]) -> Message | None:
    """The headers of the returned message, when the report includes it."""
    for part in parts:
        if part.get_content_type() not in RETURNED_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            if payload and isinstance(payload[0], Message):
                return payload[0]
        else:
            return HeaderParser().parsestr(_text(part).lstrip())
    return None


def _returned_message_id(returned: Message | None, parts: list[Message]) -> str | None:
    if returned is not None and _message_id(returned.get("Message-ID")):
        return _message_id(returned.get("Message-ID"))
    # Plain-text bounces quote the returned message in their body.
    for part in parts:
        if part.get_content_maintype() == "text" and not part.is_multipart():
            match = MESSAGE_ID_LINE.search(_text(part))
            if match:
                return match.group(1)
    return None


def _message_id(value) -> str | None:
    match = MESSAGE_ID.search(str(value or ""))
    return match.group(0) if match else None


def _complaints(blocks: list[Message], message_id: str | None, to: str | None) -> list[Report]:
    fields = blocks[0] if blocks else Message()
    feedback_type = (_field(fields, "Feedback-Type") or "abuse").lower()
    if feedback_type in NOT_COMPLAINTS:
        return []
    recipient = (
        _address(_field(fields, "Original-Rcpt-To"))
        or _address(_field(fields, "Removal-Recipient"))
        or to
    )
    return [Report("complaint", recipient, message_id, diagnostic=feedback_type)]


def _bounces(blocks: list[Message], message_id: str | None) -> list[Report]:
    """One report per failed or delayed recipient in a delivery status notification."""
    if message_id is None and blocks:
        # Gmail names the returned message in the per-message fields.
        message_id = _message_id(blocks[0].get("X-Original-Message-ID"))
    reports = []
    for block in blocks:
        recipient = _address(_field(block, "Original-Recipient")) or _address(
            _field(block, "Final-Recipient")
        )
        action = (_field(block, "Action") or "").split(" ")[0].lower() or None
        if recipient is None and action is None:
            continue  # the per-message fields (Reporting-MTA, Arrival-Date, ...)
        diagnostic = _field(block, "Diagnostic-Code")
        diagnostic = ADDRESS_TYPE.sub("", diagnostic) if diagnostic else None
        status = _status(_field(block, "Status")) or _status(diagnostic)
        kind = _kind(action, status, diagnostic)
        if kind is not None:
            reports.append(Report(kind, recipient, message_id, status, diagnostic))
    return reports


def _status(text: str | None) -> str | None:
    match = ENHANCED_STATUS.search(text or "")
    return match.group(0) if match else None


def _kind(action: str | None, status: str | None, diagnostic: str | None) -> Kind | None:
    if action in ("delivered", "relayed", "expanded"):
        return None
    if status:
        klass = status[0]
    else:
        reply = SMTP_REPLY.search(diagnostic or "")
        klass = reply.group(1) if reply else None
    if action == "delayed" or klass == "4":
        return "soft"
    if klass == "5" or action == "failed":
        return "hard"
    return None


def _plain_text_bounces(
    message: Message, parts: list[Message], message_id: str | None
) -> list[Report]:
    """Bounces such as Exim's: X-Failed-Recipients, and the reason in words."""
    failed = [str(value) for value in message.get_all("X-Failed-Recipients", [])]
    recipients = [address for _name, address in getaddresses(failed) if "@" in address]
    if not recipients:
        return []
    body = next((_text(p) for p in parts if p.get_content_type() == "text/plain"), "")
    explanation = RETURNED_COPY.split(body, maxsplit=1)[0]
    replies = list(SMTP_REPLY.finditer(explanation)) + list(ENHANCED_STATUS.finditer(explanation))
    permanent = [match for match in replies if match.group(1) == "5"]
    kind: Kind = "hard" if permanent else "soft"
    reply = (permanent or replies or [None])[0]
    diagnostic = _line_at(explanation, reply.start()) if reply else None
    status = _status(diagnostic) or _status(explanation)
    return [Report(kind, recipient, message_id, status, diagnostic) for recipient in recipients]


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return " ".join(text[start : end if end >= 0 else len(text)].split())


# Acting on reports


def _attributed_delivery(
    report: Report, return_path: int | None
) -> tuple[Delivery | None, UnattributedReason | None]:
    """The delivery a report is about, or why it can't be tied to one."""
    if return_path is not None:
        delivery = db.session.get(Delivery, return_path)
        return delivery, None if delivery else UnattributedReason.DELIVERY_GONE
    named = parse_message_id(report.original_message_id)
    if named is None:
        return None, UnattributedReason.NOT_OURS
    issue_id, subscriber_id = named
    delivery = db.session.execute(
        db.select(Delivery).filter_by(issue_id=issue_id, subscriber_id=subscriber_id)
    ).scalar_one_or_none()
    if delivery is None:
        return None, UnattributedReason.DELIVERY_GONE
    # Complaint feeds often redact the recipient; a bounce always names it.
    if report.kind != "complaint" and not _is_address_of(report.recipient, delivery):
        return None, UnattributedReason.OTHER_RECIPIENT
    return delivery, None


def _is_address_of(recipient: str | None, delivery: Delivery) -> bool:
    subscriber = db.session.get(Subscriber, delivery.subscriber_id)
    try:
        address = normalize_email(recipient or "")
    except InvalidEmail:
        return False
    return address == subscriber.email or ascii_address(address) == ascii_address(subscriber.email)


def _describe(report: Report) -> str:
    detail = " ".join(filter(None, [report.status, report.diagnostic]))
    return f"{report.kind} bounce: {detail}"[:500] if detail else f"{report.kind} bounce"


def _smtp_code(report: Report) -> int | None:
    match = SMTP_REPLY.search(report.diagnostic or "")
    return int(match.group(0)) if match else None


def _hard_bounce(subscriber: Subscriber, delivery: Delivery | None, report: Report) -> str:
    if delivery is not None:
        delivery.state = DeliveryState.FAILED
        delivery.last_code = _smtp_code(report)
        delivery.last_response = _describe(report)
    if subscriber.status not in MAILABLE:
        return "ignored"
    subscriber.status = SubscriberStatus.BOUNCED
    webhooks.subscriber_event("subscriber.bounced", subscriber)
    return "bounced"


def _soft_bounce(
    subscriber: Subscriber, delivery: Delivery | None, report: Report, limit: int
) -> str:
    if delivery is not None:
        # One message can come back several times ("delayed" warnings, then the final
        # notice): count it once, or a single slow mailbox would reach the limit.
        counted = (delivery.last_response or "").startswith(SOFT_BOUNCE)
        if counted or delivery.state == DeliveryState.FAILED:
            return "ignored"
        delivery.last_code = _smtp_code(report)
        delivery.last_response = _describe(report)
    if subscriber.status not in MAILABLE:
        return "ignored"
    if delivery is not None and _previous_message_arrived(delivery):
        subscriber.soft_bounces = 0
    subscriber.soft_bounces += 1
    if subscriber.soft_bounces >= limit:
        subscriber.status = SubscriberStatus.BOUNCED
        webhooks.subscriber_event("subscriber.bounced", subscriber)
        return "bounced"
    return "soft-bounce"


def _previous_message_arrived(delivery: Delivery) -> bool:
    """Whether the message sent to the same person just before this one arrived: the relay
    took it and nothing came back. Only soft bounces in a row count towards the limit, so
    a mailbox that was full once in a while is not taken for a dead one."""
    if delivery.sent_at is None:
        return False
    previous = db.session.execute(
        db.select(Delivery.state, Delivery.last_response)
        .where(
            Delivery.subscriber_id == delivery.subscriber_id,
            Delivery.sent_at < delivery.sent_at,
        )
        .order_by(Delivery.sent_at.desc())
        .limit(1)
    ).first()
    return (
        previous is not None
        and previous.state == DeliveryState.SENT
        and not (previous.last_response or "").startswith(SOFT_BOUNCE)
    )


def _complain(subscriber: Subscriber) -> str:
    """Stop all mail to someone who reported it as spam, and never write to them again."""
    digest = email_hash(subscriber.email)
    if db.session.get(Suppression, digest) is None:
        db.session.add(Suppression(email_hash=digest, reason="complaint"))
    if subscriber.status == SubscriberStatus.COMPLAINED and not subscriber.subscriptions:
        return "ignored"
    subscriber.subscriptions.clear()
    subscriber.status = SubscriberStatus.COMPLAINED
    subscriber.unsubscribed_at = utcnow()
    subscriber.confirmation_requests.clear()
    record_consent(subscriber, ConsentAction.UNSUBSCRIBE, COMPLAINT)
    webhooks.subscriber_event("subscriber.complained", subscriber)
    return "complained"
