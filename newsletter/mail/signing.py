"""Optional DKIM signing of every outgoing message (dkimpy).

On when ``DKIM_SELECTOR`` and ``DKIM_KEY_FILE`` are set. The signature covers the
List-Unsubscribe headers too, which large mailbox providers require for one-click
unsubscribe to be trusted.
"""

from functools import cache
from pathlib import Path

import dkim
from flask import current_app

from .message import sender_domain

SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-language",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
]


@cache
def _private_key(path: str) -> bytes:
    return Path(path).read_bytes()


def sign(data: bytes) -> bytes:
    """``data`` with a DKIM-Signature header in front, or unchanged when DKIM is off."""
    config = current_app.config
    if not (config.get("DKIM_SELECTOR") and config.get("DKIM_KEY_FILE")):
        return data
    domain = config.get("DKIM_DOMAIN") or sender_domain(config["MAIL_FROM"])
    present = {
        line.split(b":", 1)[0].strip().lower()
        for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if b":" in line
    }
    signature = dkim.sign(
        data,
        config["DKIM_SELECTOR"].encode(),
        domain.encode(),
        _private_key(config["DKIM_KEY_FILE"]),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[name for name in SIGNED_HEADERS if name in present],
    )
    return signature + data
