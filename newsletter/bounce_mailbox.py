"""Reading bounce and complaint reports from a mailbox: an IMAP folder on a schedule
(``BOUNCE_IMAP_URL``), or an mbox file or Maildir with ``flask bounces import``.

Each message is processed and committed before it leaves the folder (moved, or deleted),
so a crash in between only means it is read again; reading a report twice changes
nothing (bounces.py counts each delivery once).
"""

import ssl
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import DELETED, IMAPClient

from .bounces import UNATTRIBUTED, process_message
from .extensions import db

FETCH_AT_ONCE = 50
IMAP_TIMEOUT = 30


@dataclass
class Tally:
    """What reading a mailbox did: messages read, the actions taken, messages with no
    report in them."""

    read: int = 0
    without_report: int = 0
    actions: Counter = field(default_factory=Counter)

    def add(self, raw: bytes, soft_bounce_limit: int) -> None:
        found = process_message(raw, soft_bounce_limit)
        db.session.commit()
        self.read += 1
        self.without_report += not found
        self.actions.update(found)

    @property
    def unattributed(self) -> int:
        return self.actions[UNATTRIBUTED]


@dataclass(frozen=True)
class ImapMailbox:
    """``imaps://user:password@host[:port]/Folder`` (or ``imap://…?starttls=1``); what to
    do with a processed message: ``?after=move`` (the default, into ``move_to``, default
    ``Processed``) or ``?after=delete``."""

    host: str
    port: int
    use_ssl: bool
    starttls: bool
    username: str
    password: str
    folder: str
    after: str
    move_to: str

    @classmethod
    def from_url(cls, url: str) -> "ImapMailbox":
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise ValueError("the scheme must be imap or imaps")
        if not parts.hostname or not parts.username:
            raise ValueError("it needs a user and a host: imaps://user:password@host/INBOX")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        after = query.get("after", "move")
        if after not in ("move", "delete"):
            raise ValueError("after= must be move or delete")
        use_ssl = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if use_ssl else 143),
            use_ssl=use_ssl,
            starttls=query.get("starttls", "0") in ("1", "true", "yes"),
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            after=after,
            move_to=query.get("move_to", "Processed"),
        )

    def connect(self) -> IMAPClient:
        context = ssl.create_default_context()
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.use_ssl,
            ssl_context=context if self.use_ssl else None,
            timeout=IMAP_TIMEOUT,
        )
        if self.starttls and not self.use_ssl:
            client.starttls(context)
        client.login(self.username, self.password)
        return client


def read_imap(mailbox: ImapMailbox, soft_bounce_limit: int) -> Tally:
    """Process every message in the folder, then move or delete it."""
    tally = Tally()
    client = mailbox.connect()
    try:
        if mailbox.after == "move" and not client.folder_exists(mailbox.move_to):
            client.create_folder(mailbox.move_to)
        client.select_folder(mailbox.folder)
        uids = client.search(["NOT", "DELETED"])
        for start in range(0, len(uids), FETCH_AT_ONCE):
            batch = uids[start : start + FETCH_AT_ONCE]
            for data in client.fetch(batch, ["RFC822"]).values():
                tally.add(data[b"RFC822"], soft_bounce_limit)
            _done_with(client, mailbox, batch)
    finally:
        client.logout()
    return tally


def _done_with(client: IMAPClient, mailbox: ImapMailbox, uids: Iterable[int]) -> None:
    uids = list(uids)
    if mailbox.after == "move" and client.has_capability("MOVE"):
        client.move(uids, mailbox.move_to)
        return
    if mailbox.after == "move":
        client.copy(uids, mailbox.move_to)
    client.add_flags(uids, [DELETED])
    if client.has_capability("UIDPLUS"):
        client.expunge(uids)  # only these: not what someone else marked deleted
    else:
        client.expunge()
