"""Delivery of built messages: SMTP with one reused connection per thread, or the dev mailbox."""

import smtplib
import ssl
import threading
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from .signing import sign

CLOSED = (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError)
"""What a kept connection that the server closed meanwhile raises."""
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)
"""What a server's refusal of one message raises; the connection stays usable."""


class SMTPTransport:
    """Sends through ``smtp://`` or ``smtps://`` URLs (``?starttls=1`` upgrades plain SMTP).

    Each thread keeps its connection open between messages and reconnects once if the
    server closed it in the meantime.
    """

    def __init__(self, url: str, timeout: float = 30):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"Unsupported SMTP_URL scheme: {parts.scheme!r}")
        self.use_ssl = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.use_ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            conn = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                conn.starttls(context=ssl.create_default_context())
        conn.ehlo_or_helo_if_needed()
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def _connection(self) -> smtplib.SMTP:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def check(self) -> None:
        """Connect, greet (and log in, when configured) and leave; raises when that fails."""
        self._connect().quit()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def send(self, msg: EmailMessage) -> None:
        sender = parseaddr(str(msg["From"]))[1]
        recipients = [addr for _, addr in getaddresses([str(msg["To"])])]
        self.send_raw(sender, recipients, msg.as_bytes(policy=policy.SMTP))

    def drop(self) -> None:
        """Close the connection without QUIT: what the server waits for is never finished."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def stream(self) -> "Stream":
        return Stream(self)

    def pipelining(self) -> bool:
        """Whether the server offers PIPELINING (RFC 2920), as its EHLO answer said."""
        return self._connection().has_extn("pipelining")

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> None:
        """Send finished CRLF bytes; raises smtplib's exceptions on refusal."""
        data = sign(data)
        try:
            _transaction(self._connection(), sender, recipients, data)
        except CLOSED:
            self._local.conn = None
            _transaction(self._connection(), sender, recipients, data)
        except smtplib.SMTPException:
            # After a refusal the session may be mid-transaction; start clean next time.
            self.close()
            raise


def _transaction(conn: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> None:
    """MAIL, RCPT, DATA, as ``smtplib.SMTP.sendmail`` does, raising the same exceptions.

    When the server offers PIPELINING (RFC 2920), MAIL, every RCPT and DATA go out in one
    write and their replies are read back in order: two round trips a message instead of
    three plus one per recipient, which is most of a worker's time on a fast relay.
    """
    if conn.has_extn("pipelining"):
        _pipelined_envelope(conn, sender, recipients)
    else:
        _envelope(conn, sender, recipients)
    _content(conn, data)


def _envelope(conn: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    _check_sender(conn, sender, conn.mail(sender))
    _check_recipients(conn, recipients, [conn.rcpt(recipient) for recipient in recipients])
    _check_data(conn, conn.docmd("data"))


def _pipelined_envelope(conn: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    conn.send(_envelope_commands(sender, recipients))
    _envelope_replies(conn, sender, recipients)


def _envelope_commands(sender: str, recipients: list[str]) -> bytes:
    commands = [f"MAIL FROM:{smtplib.quoteaddr(sender)}"]
    commands += [f"RCPT TO:{smtplib.quoteaddr(recipient)}" for recipient in recipients]
    commands.append("DATA")
    return "".join(command + "\r\n" for command in commands).encode("ascii")


def _envelope_replies(conn: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """Read the replies to a pipelined envelope, raising what smtplib raises on refusal."""
    # Every command has its reply, even after a refusal: read them all before going on.
    mail = conn.getreply()
    rcpts = [conn.getreply() for _ in recipients]
    data = conn.getreply()
    if data[0] == 354 and (mail[0] != 250 or not any(_accepted(reply) for reply in rcpts)):
        # A server that took DATA without a sender or a recipient: end the empty message.
        conn.send(b".\r\n")
        conn.getreply()
    _check_sender(conn, sender, mail)
    _check_recipients(conn, recipients, rcpts)
    _check_data(conn, data)


def _accepted(reply: tuple[int, bytes]) -> bool:
    return reply[0] in (250, 251)


# Each refusal raises what smtplib.SMTP.sendmail raises, after RSET ends the transaction.
def _check_sender(conn: smtplib.SMTP, sender: str, reply: tuple[int, bytes]) -> None:
    if reply[0] != 250:
        conn.rset()
        raise smtplib.SMTPSenderRefused(reply[0], reply[1], sender)


def _check_recipients(conn: smtplib.SMTP, recipients: list[str], replies: list) -> None:
    refused = {
        recipient: reply
        for recipient, reply in zip(recipients, replies, strict=True)
        if not _accepted(reply)
    }
    if len(refused) == len(recipients):
        conn.rset()
        raise smtplib.SMTPRecipientsRefused(refused)


def _check_data(conn: smtplib.SMTP, reply: tuple[int, bytes]) -> None:
    if reply[0] != 354:
        conn.rset()
        raise smtplib.SMTPDataError(*reply)


def _content(conn: smtplib.SMTP, data: bytes) -> None:
    """The message after DATA's 354, and the server's verdict on it."""
    conn.send(_dot_stuffed(data))
    _final_reply(conn)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA sends it, ending with the lone dot. Dot-stuffing (RFC 5321,
    4.5.2) is one ``bytes.replace``: smtplib's regular expression for it costs more per
    campaign message than everything else on the sending side."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def _final_reply(conn: smtplib.SMTP) -> None:
    code, reply = conn.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


class Stream:
    """Messages sent one after another on one connection, each result read back as soon
    as the server gives it.

    When the server offers PIPELINING, a message's content goes out in the same write as
    the next message's envelope (RFC 2920 lets message content open a group of commands),
    so each message costs one round trip instead of two; its result arrives with the next
    message's replies, or at ``finish``. Without it, each message is a transaction of its
    own, as ``send_raw`` sends it. Use it as a context manager: leaving it before
    ``finish`` drops the connection, so a message whose content was never sent is never
    delivered, and nothing sent later can become part of it.
    """

    def __init__(self, transport: "SMTPTransport | MailboxTransport"):
        self.transport = transport
        # The message whose envelope the server accepted (354) and whose content waits to
        # travel with the next envelope or at finish().
        self._waiting: tuple[object, bytes] | None = None
        self._results: list[tuple[object, Exception | None]] = []

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *_exception) -> None:
        if self._waiting is not None:
            self._waiting = None
            self.transport.drop()

    def send(self, key: object, sender: str, recipients: list[str], data: bytes) -> None:
        """Send one message (``key`` names it in the results). Raises connection errors:
        every message given since the last results were taken is then unconfirmed."""
        if self._waiting is None and not self.transport.pipelining():
            try:
                self.transport.send_raw(sender, recipients, data)
            except REFUSALS as error:
                self._results.append((key, error))
            else:
                self._results.append((key, None))
            return
        envelope = _envelope_commands(sender, recipients)
        content = _dot_stuffed(sign(data))
        try:
            if self._waiting is None:
                self._first_envelope(envelope, sender, recipients)
            else:
                self._next_envelope(envelope, sender, recipients)
        except REFUSALS as error:
            self._results.append((key, error))
            return
        self._waiting = (key, content)

    def _first_envelope(self, envelope: bytes, sender: str, recipients: list[str]) -> None:
        """On a new connection if the kept one was closed meanwhile: nothing of a message
        has gone out on it yet, so the envelope can simply be sent again."""
        try:
            conn = self.transport._connection()
            conn.send(envelope)
            _envelope_replies(conn, sender, recipients)
        except CLOSED:
            self.transport.drop()
            conn = self.transport._connection()
            conn.send(envelope)
            _envelope_replies(conn, sender, recipients)

    def _next_envelope(self, envelope: bytes, sender: str, recipients: list[str]) -> None:
        """The waiting content and this envelope in one write; the replies come in order."""
        conn = self.transport._connection()
        previous, content = self._waiting
        self._waiting = None
        conn.send(content + envelope)
        self._results.append((previous, _verdict(conn)))
        _envelope_replies(conn, sender, recipients)

    def finish(self) -> None:
        """Send the content still waiting and read its result."""
        if self._waiting is None:
            return
        key, content = self._waiting
        self._waiting = None
        conn = self.transport._connection()
        conn.send(content)
        self._results.append((key, _verdict(conn)))

    def results(self) -> list[tuple[object, Exception | None]]:
        """Each message finished since the last call, in order, with None when the server
        took it or the refusal smtplib raises for it."""
        results, self._results = self._results, []
        return results


def _verdict(conn: smtplib.SMTP) -> smtplib.SMTPDataError | None:
    try:
        _final_reply(conn)
    except smtplib.SMTPDataError as error:
        return error
    return None


class MailboxTransport:
    """The dev mailbox: every message is stored as an ``.eml`` file instead of being sent."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def send(self, msg: EmailMessage) -> None:
        self.send_raw("", [], msg.as_bytes(policy=policy.SMTP))

    def send_raw(self, sender: str, recipients: list[str], data: bytes) -> None:
        data = sign(data)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{uuid.uuid4().hex}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        temporary.rename(path)

    def close(self) -> None:
        pass

    drop = close

    def stream(self) -> Stream:
        return Stream(self)

    def pipelining(self) -> bool:
        return False


_transports: dict[str, SMTPTransport] = {}


def current_transport() -> SMTPTransport | MailboxTransport:
    url = current_app.config["SMTP_URL"]
    if not url:
        return MailboxTransport(current_app.config["MAILBOX_PATH"])
    if url not in _transports:
        _transports[url] = SMTPTransport(url)
    return _transports[url]


def send_message(msg: EmailMessage) -> None:
    current_transport().send(msg)


def reply_code(error: smtplib.SMTPException) -> int | None:
    """The server's reply code, also when it refused the recipient."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return max(code for code, _message in error.recipients.values())
    return getattr(error, "smtp_code", None)


def reply_text(error: smtplib.SMTPException) -> str:
    """The server's reply in words, also when it refused the recipient."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            message.decode("utf-8", "replace") for _code, message in error.recipients.values()
        )
    message = getattr(error, "smtp_error", b"")
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(error)
