"""Message-IDs and return paths that name one delivery, signed so that nobody can forge them.

A bounce or complaint is acted on only when it names one of these: the bounce mailbox is
public, and a report that merely names an address could silence anyone. Both are derived
from ``SECRET_KEY``, so a message re-sent after a crash carries the same ones.
"""

import base64
import binascii
import hashlib
import hmac
import re

from flask import current_app

MESSAGE_ID = re.compile(r"<?(\d{1,18})\.(\d{1,18})\.([0-9a-f]{20})@[^<>\s]+>?", re.IGNORECASE)
MAC_BYTES = 10  # 80 bits: guessing is hopeless, and the addresses stay short


def _mac(purpose: str, *values: int) -> bytes:
    key = current_app.config["SECRET_KEY"].encode()
    text = ":".join([purpose, *map(str, values)]).encode()
    return hmac.new(key, text, hashlib.sha256).digest()[:MAC_BYTES]


def message_id(issue_id: int, subscriber_id: int, domain: str) -> str:
    """``<issue.subscriber.signature@domain>``: the signature covers the issue and the
    subscriber, so one recipient can't work out another's."""
    signature = _mac("message-id", issue_id, subscriber_id).hex()
    return f"<{issue_id}.{subscriber_id}.{signature}@{domain}>"


def parse_message_id(value: str | None) -> tuple[int, int] | None:
    """The (issue id, subscriber id) a Message-ID of ours names; None if it is not ours."""
    match = MESSAGE_ID.fullmatch((value or "").strip())
    if match is None:
        return None
    issue_id, subscriber_id = int(match.group(1)), int(match.group(2))
    expected = _mac("message-id", issue_id, subscriber_id).hex()
    if not hmac.compare_digest(expected, match.group(3).lower()):
        return None
    return issue_id, subscriber_id


def return_path(delivery_id: int, bounce_address: str) -> str:
    """The envelope sender (VERP) of one delivery: ``local+token@domain``.

    The token is base32 of a signature and the delivery id: letters and digits only, and
    still valid when a mail server lowercases the local part.
    """
    local, _, domain = bounce_address.rpartition("@")
    raw = _mac("return-path", delivery_id) + delivery_id.to_bytes(8, "big").lstrip(b"\0")
    token = base64.b32encode(raw).decode().rstrip("=").lower()
    return f"{local}+{token}@{domain}"


def parse_return_path(address: str | None) -> int | None:
    """The delivery id in an address made by ``return_path``; None for any other address."""
    local = (address or "").strip().strip("<>").rpartition("@")[0]
    token = local.rpartition("+")[2]
    if "+" not in local or not 18 <= len(token) <= 29 or not token.isalnum():
        return None
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        return None
    if base64.b32encode(raw).decode().rstrip("=") != token.upper():
        return None  # the last letter's unused bits were changed: not a token we made
    signature, id_bytes = raw[:MAC_BYTES], raw[MAC_BYTES:]
    if not id_bytes:
        return None
    delivery_id = int.from_bytes(id_bytes, "big")
    if not hmac.compare_digest(signature, _mac("return-path", delivery_id)):
        return None
    return delivery_id
