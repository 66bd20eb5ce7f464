"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

Tests can make it refuse senders, recipients or a message's content with a chosen code, to
exercise retries and failures. It offers PIPELINING (RFC 2920) as Postfix does, unless a
test turns it off.
"""

import socket
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes
    peer: tuple = ()  # the client's address: one per SMTP connection
    at: float = 0.0  # time.time() on arrival

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


class RecordingHandler:
    def __init__(self):
        self.received: list[Received] = []
        self.refusals: dict[str, list[str]] = {}
        self.sender_refusals: list[str] = []
        self.content_refusals: dict[str, str] = {}
        self.pipelining = True
        self.background = True  # mail may come from other threads and processes
        self._lock = threading.Condition()

    def refuse(self, address: str, *replies: str) -> None:
        """Answer the next RCPT TO for ``address`` with each reply in turn."""
        self.refusals[address.lower()] = list(replies)

    def refuse_sender(self, *replies: str) -> None:
        """Answer the next MAIL FROM commands with each reply in turn."""
        self.sender_refusals = list(replies)

    def refuse_content(self, address: str, reply: str) -> None:
        """Answer the end of the next message to ``address`` with ``reply``."""
        self.content_refusals[address.lower()] = reply

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.refusals.clear()
            self.sender_refusals = []
            self.content_refusals.clear()
            self.pipelining = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sender_refusals:
            return self.sender_refusals.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        replies = self.refusals.get(address.lower())
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address.lower() in self.content_refusals:
                return self.content_refusals.pop(address.lower())
        with self._lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    tuple(session.peer or ()),
                    time.time(),
                )
            )
            self._lock.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return list(self.received)

    def settle(self, quiet: float = 0.5, timeout: float = 10.0) -> list[Received]:
        """Wait until nothing new has arrived for ``quiet`` seconds; return all messages.

        With nothing sending in the background (tasks run eagerly), all has arrived already.
        """
        if not self.background:
            return list(self.received)
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline and seen != len(self.received):
            seen = len(self.received)
            time.sleep(quiet)
        return list(self.received)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server() -> tuple[Controller, RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    controller.start()
    return controller, handler
