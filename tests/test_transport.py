"""SMTP transactions as a relay sees them: pipelined when it offers PIPELINING (RFC 2920),
one command at a time otherwise, with refusals reported per message either way."""

import smtplib
import socket
import threading

import pytest

from newsletter.mail.transport import SMTPTransport


@pytest.fixture(autouse=True)
def app_context(app):
    """Sending reads the DKIM settings from the app (off here)."""
    with app.app_context():
        yield


def message(recipient: str) -> bytes:
    return (
        f"From: news@example.org\r\nTo: {recipient}\r\nSubject: Hi\r\n\r\n"
        ".starts with a dot\r\nbody\r\n"
    ).encode()


class WireServer:
    """A small SMTP server that records every chunk its socket reads, so a test can see
    which commands a client sent in one write."""

    def __init__(self, pipelining: bool, refused: set[str] = frozenset()):
        self.pipelining = pipelining
        self.refused = refused
        self.chunks: list[bytes] = []
        self.messages: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            connection, _ = self.listener.accept()
            with connection:
                self._session(connection)

    def _session(self, connection: socket.socket) -> None:
        connection.sendall(b"220 wire ESMTP\r\n")
        buffer, in_data, recipients = b"", False, 0
        while chunk := connection.recv(65536):
            self.chunks.append(chunk)
            buffer += chunk
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    self.messages.append(buffer[:end])
                    buffer, in_data = buffer[end + 5 :], False
                    connection.sendall(b"250 queued\r\n")
                    continue
                line, found, rest = buffer.partition(b"\r\n")
                if not found:
                    break
                buffer = rest
                reply, in_data, recipients = self._answer(line, recipients)
                connection.sendall(reply)
                if line.upper() == b"QUIT":
                    return

    def _answer(self, line: bytes, recipients: int) -> tuple[bytes, bool, int]:
        command = line.upper()
        if command.startswith(b"EHLO"):
            extensions = b"250-wire\r\n250-PIPELINING\r\n" if self.pipelining else b"250-wire\r\n"
            return extensions + b"250 8BITMIME\r\n", False, 0
        if command.startswith(b"MAIL"):
            return b"250 ok\r\n", False, 0
        if command.startswith(b"RCPT"):
            if line.split(b":", 1)[1].strip(b"<> ").decode() in self.refused:
                return b"550 5.1.1 no such user\r\n", False, recipients
            return b"250 ok\r\n", False, recipients + 1
        if command == b"DATA":
            if not recipients:
                return b"554 5.5.1 no valid recipients\r\n", False, 0
            return b"354 go on\r\n", True, recipients
        if command == b"RSET":
            return b"250 ok\r\n", False, 0
        if command == b"QUIT":
            return b"221 bye\r\n", False, 0
        return b"502 unknown\r\n", False, recipients


def envelope_chunks(server: WireServer) -> list[bytes]:
    """What the client wrote in one go that holds a MAIL or RCPT command (smtplib writes its
    commands in lower case)."""
    return [chunk.upper() for chunk in server.chunks if b"FROM:" in chunk or b"TO:" in chunk]


def test_a_pipelining_server_gets_each_envelope_in_one_write():
    server = WireServer(pipelining=True)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    for number in range(3):
        transport.send_raw("news@example.org", [f"r{number}@example.org"], message("r"))
    transport.close()
    chunks = envelope_chunks(server)
    assert len(chunks) == 3
    assert all(
        chunk.startswith(b"MAIL FROM:<NEWS@EXAMPLE.ORG>\r\nRCPT TO:<R")
        and chunk.endswith(b"\r\nDATA\r\n")
        for chunk in chunks
    )
    assert len(server.messages) == 3
    assert b"\r\n..starts with a dot" in server.messages[0], "dot-stuffed"


def test_a_server_without_pipelining_gets_one_command_at_a_time():
    server = WireServer(pipelining=False)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    transport.send_raw("news@example.org", ["ana@example.org"], message("ana"))
    transport.close()
    assert [chunk.split(b":")[0] for chunk in envelope_chunks(server)] == [b"MAIL FROM", b"RCPT TO"]
    assert len(server.messages) == 1


def test_a_refused_recipient_in_a_pipelined_envelope_is_reported_and_the_next_goes_on():
    server = WireServer(pipelining=True, refused={"gone@example.org"})
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        transport.send_raw("news@example.org", ["gone@example.org"], message("gone"))
    assert refused.value.recipients == {"gone@example.org": (550, b"5.1.1 no such user")}
    transport.send_raw("news@example.org", ["ana@example.org"], message("ana"))
    transport.close()
    assert len(server.messages) == 1


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_refusals_reach_the_caller_with_the_servers_words(smtp, pipelining):
    """aiosmtpd as the relay, with and without PIPELINING: the same exceptions, and the
    connection stays usable after each refusal."""
    smtp.pipelining = pipelining
    transport = SMTPTransport(f"smtp://127.0.0.1:{smtp.port}", timeout=5)
    smtp.refuse("full@example.org", "452 4.2.2 Mailbox full")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        transport.send_raw("news@example.org", ["full@example.org"], message("full"))
    assert refused.value.recipients["full@example.org"][0] == 452
    smtp.refuse_sender("451 4.7.1 Try again later")
    with pytest.raises(smtplib.SMTPSenderRefused) as sender:
        transport.send_raw("news@example.org", ["ana@example.org"], message("ana"))
    assert sender.value.smtp_code == 451
    transport.send_raw("news@example.org", ["ben@example.org"], message("ben"))
    transport.send_raw("news@example.org", ["full@example.org"], message("full"))
    transport.close()
    received = smtp.settle()
    assert [item.recipients for item in received] == [["ben@example.org"], ["full@example.org"]]
    # The relay un-stuffs the dot a line starts with: it arrives as written.
    assert received[0].data.endswith(b"\r\n.starts with a dot\r\nbody\r\n")
