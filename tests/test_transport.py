"""SMTP transactions as a relay sees them: pipelined when it offers PIPELINING (RFC 2920),
one command at a time otherwise, with refusals reported per message either way."""

import smtplib
import socket
import threading
import time

import pytest

from newsletter.mail.transport import MailboxTransport, SMTPTransport


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

    def __init__(
        self,
        pipelining: bool,
        refused: set[str] = frozenset(),
        rejected: bytes = b"",
        hang_up_after: int = 0,
    ):
        self.pipelining = pipelining
        self.refused = refused
        self.rejected = rejected  # a message holding these bytes is refused at its end
        self.hang_up_after = hang_up_after  # close the connection after that many messages
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
                    content, buffer, in_data = buffer[:end], buffer[end + 5 :], False
                    if self.rejected and self.rejected in content:
                        connection.sendall(b"554 5.7.1 rejected as spam\r\n")
                        continue
                    self.messages.append(content)
                    connection.sendall(b"250 queued\r\n")
                    if len(self.messages) == self.hang_up_after:
                        return
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


def stream_three(transport, middle: bytes = b"body") -> list:
    """Three messages through one stream, to r0, r1 and r2 (``middle`` the body of r1's);
    their results by name."""
    with transport.stream() as stream:
        for number in range(3):
            data = message(f"r{number}@example.org")
            if number == 1:
                data = data.replace(b"body", middle)
            stream.send(f"r{number}", "news@example.org", [f"r{number}@example.org"], data)
        stream.finish()
        return stream.results()


def test_a_stream_sends_each_message_with_the_next_envelope():
    """One round trip a message: the content and the next MAIL, RCPT and DATA in one write."""
    server = WireServer(pipelining=True)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    assert stream_three(transport) == [("r0", None), ("r1", None), ("r2", None)]
    transport.close()
    together = [chunk for chunk in server.chunks if b"\r\n.\r\nMAIL FROM:" in chunk]
    assert len(together) == 2
    assert together[0].endswith(b"RCPT TO:<r1@example.org>\r\nDATA\r\n")
    assert [item.split(b"\r\n")[1] for item in server.messages] == [
        f"To: r{number}@example.org".encode() for number in range(3)
    ], "each message whole, in order, its own"
    assert all(b"MAIL FROM" not in item for item in server.messages)


def test_a_stream_reports_a_refused_recipient_and_a_refused_message_and_goes_on():
    server = WireServer(pipelining=True, refused={"r1@example.org"})
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    [first, refused, last] = stream_three(transport)
    assert first == ("r0", None) and last == ("r2", None)
    assert isinstance(refused[1], smtplib.SMTPRecipientsRefused)
    assert refused[1].recipients == {"r1@example.org": (550, b"5.1.1 no such user")}

    server = WireServer(pipelining=True, rejected=b"casino")
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    [first, refused, last] = stream_three(transport, middle=b"casino")
    assert first == ("r0", None) and last == ("r2", None)
    assert isinstance(refused[1], smtplib.SMTPDataError) and refused[1].smtp_code == 554
    assert [item.split(b"\r\n")[1] for item in server.messages] == [
        b"To: r0@example.org",
        b"To: r2@example.org",
    ]


def test_leaving_a_stream_early_never_delivers_the_waiting_message():
    """The server waits for the content of an accepted envelope: the connection is dropped,
    so neither that message nor anything sent later can arrive as part of it."""
    server = WireServer(pipelining=True)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    with pytest.raises(RuntimeError), transport.stream() as stream:
        stream.send("r0", "news@example.org", ["r0@example.org"], message("r0@example.org"))
        raise RuntimeError("personalizing the next message failed")
    transport.send_raw("news@example.org", ["r1@example.org"], message("r1@example.org"))
    transport.close()
    assert [item.split(b"\r\n")[1] for item in server.messages] == [b"To: r1@example.org"]


def test_a_server_hanging_up_mid_stream_leaves_what_it_took_reported():
    server = WireServer(pipelining=True, hang_up_after=1)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    with transport.stream() as stream:
        stream.send("r0", "news@example.org", ["r0@example.org"], message("r0@example.org"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            stream.send("r1", "news@example.org", ["r1@example.org"], message("r1@example.org"))
        assert stream.results() == [("r0", None)], "r1 is unconfirmed: the caller sends it again"
    transport.drop()
    # The next stream starts on a new connection.
    assert stream_three(transport) == [("r0", None), ("r1", None), ("r2", None)]
    assert len(server.messages) == 4


def test_a_stream_reconnects_once_when_the_kept_connection_was_closed():
    server = WireServer(pipelining=True, hang_up_after=1)
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    transport.send_raw("news@example.org", ["r0@example.org"], message("r0@example.org"))
    time.sleep(0.1)  # the server has closed the connection the transport keeps
    assert stream_three(transport) == [("r0", None), ("r1", None), ("r2", None)]
    assert len(server.messages) == 4


def test_without_pipelining_a_stream_sends_each_message_on_its_own():
    server = WireServer(pipelining=False, refused={"r1@example.org"})
    transport = SMTPTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    with transport.stream() as stream:
        stream.send("r0", "news@example.org", ["r0@example.org"], message("r0@example.org"))
        assert stream.results() == [("r0", None)], "known at once"
    [first, refused, last] = stream_three(transport)
    assert first == ("r0", None) and last == ("r2", None)
    assert isinstance(refused[1], smtplib.SMTPRecipientsRefused)
    assert not [chunk for chunk in server.chunks if b"\r\n.\r\nMAIL" in chunk.upper()]


def test_the_dev_mailbox_stores_each_message_of_a_stream(tmp_path):
    transport = MailboxTransport(str(tmp_path))
    assert stream_three(transport) == [("r0", None), ("r1", None), ("r2", None)]
    assert len(list(tmp_path.glob("*.eml"))) == 3
