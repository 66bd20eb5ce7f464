"""The email pipeline, the SMTP transport and the dev mailbox."""

import re
import smtplib
from email import policy
from email.parser import BytesParser

import pytest
from factories import make_lists, make_subscriber

from newsletter.extensions import db
from newsletter.mail.message import clean_display_name
from newsletter.mail.render import mjml_to_html
from newsletter.mail.transport import SMTPTransport, send_message
from newsletter.models import ConfirmationRequest, SubscriberStatus
from newsletter.subscriptions import build_confirmation


def pending_subscriber(name="Zoé <b>Dupont</b>", language="fr") -> int:
    """A pending subscriber with the request their confirmation is for; returns its id."""
    ids = make_lists()
    subscriber = make_subscriber(
        "zoe@example.org", language, SubscriberStatus.PENDING, (ids["events"],), name=name
    )
    request = ConfirmationRequest(
        nonce="0" * 32, name=name, language=language, list_ids=[ids["events"]]
    )
    subscriber.confirmation_requests.append(request)
    db.session.commit()
    return request.id


def confirmation_bytes(subscriber_id: int) -> bytes:
    message = build_confirmation(db.session.get(ConfirmationRequest, subscriber_id))
    return message.as_bytes(policy=policy.SMTP)


def test_rendered_html_is_inlined_responsive_and_offline(in_app):
    def render():
        return mjml_to_html(
            "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>"
        )

    html = in_app(render)
    assert "<link" not in html and "fonts.googleapis" not in html
    assert "@media" in html, "media queries survive inlining"
    assert 'style="' in html


def test_confirmation_is_smtp_ready(in_app):
    raw = in_app(lambda: confirmation_bytes(pending_subscriber()))
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line endings only"
    assert b"MIME-Version: 1.0" in raw
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "Content-Language: fr" in header
    message = BytesParser(policy=policy.default).parsebytes(raw)
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "<b>Dupont" not in html and "&lt;b&gt;Dupont" in html, "markup in a name is escaped"
    assert "Zoé <b>Dupont</b>" in text, "the text part shows the name as typed"


def test_display_names_cannot_inject_headers():
    assert clean_display_name("Eve\r\nBcc: victim@example.org") == "Eve Bcc: victim@example.org"
    assert "\n" not in clean_display_name("a\nb\rc\x00d")


def test_transport_reuses_one_connection(app, smtp, in_app):
    connections = []
    original = smtplib.SMTP.connect

    def counting_connect(self, *args, **kwargs):
        connections.append(args)
        return original(self, *args, **kwargs)

    person = in_app(pending_subscriber)
    transport = SMTPTransport(app.config["SMTP_URL"])
    smtplib.SMTP.connect = counting_connect
    try:
        for _ in range(3):
            in_app(
                lambda: transport.send(
                    build_confirmation(db.session.get(ConfirmationRequest, person))
                )
            )
    finally:
        smtplib.SMTP.connect = original
        transport.close()
    assert len(smtp.wait_for(3)) == 3
    assert len(connections) == 1


def test_transport_reconnects_after_the_server_closed_the_connection(app, smtp, in_app):
    person = in_app(pending_subscriber)
    transport = SMTPTransport(app.config["SMTP_URL"])
    try:
        in_app(
            lambda: transport.send(build_confirmation(db.session.get(ConfirmationRequest, person)))
        )
        transport._connection().sock.close()
        in_app(
            lambda: transport.send(build_confirmation(db.session.get(ConfirmationRequest, person)))
        )
    finally:
        transport.close()
    assert len(smtp.wait_for(2)) == 2


def test_smtp_url_must_be_smtp():
    with pytest.raises(ValueError):
        SMTPTransport("http://example.org")


@pytest.fixture
def dev_mailbox(app):
    smtp_url = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = None
    yield
    app.config["SMTP_URL"] = smtp_url


def test_dev_mailbox_shows_caught_mail_as_html_text_and_source(
    client, in_app, dev_mailbox, translated
):
    person = in_app(pending_subscriber)
    in_app(lambda: send_message(build_confirmation(db.session.get(ConfirmationRequest, person))))
    inbox = client.get("/dev/mailbox/?lang=fr")
    assert inbox.status_code == 200
    subject = translated("fr", "Please confirm your subscription")
    assert subject in inbox.get_data(as_text=True)
    message_id = re.search(r'href="/dev/mailbox/([0-9a-f]{32})"', inbox.get_data(as_text=True))[1]
    page = client.get(f"/dev/mailbox/{message_id}").get_data(as_text=True)
    assert "http://newsletter.test/fr/confirm/" in page, "links of the mail are listed"
    assert "&lt;b&gt;Dupont" in page, "names are escaped on the page"
    html = client.get(f"/dev/mailbox/{message_id}/html")
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert translated("fr", "Confirm my subscription") in html.get_data(as_text=True)
    raw = client.get(f"/dev/mailbox/{message_id}/raw").get_data()
    assert b"Content-Language: fr" in raw


def test_dev_mailbox_is_absent_when_a_relay_is_configured(client):
    assert client.get("/dev/mailbox/").status_code == 404


def test_dev_mailbox_rejects_path_tricks(client, dev_mailbox):
    for path in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "0" * 32):
        assert client.get(f"/dev/mailbox/{path}").status_code == 404


def test_lines_starting_with_a_dot_arrive_intact(app, in_app, smtp):
    transport = SMTPTransport(app.config["SMTP_URL"])
    body = ".starts with a dot\r\n..two dots\r\n.\r\nend\r\n"
    data = ("From: a@newsletter.test\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n" + body).encode()
    try:
        in_app(transport.send_raw, "a@newsletter.test", ["b@example.org"], data)
    finally:
        transport.close()
    [received] = smtp.wait_for(1)
    assert received.data.split(b"\r\n\r\n", 1)[1] == body.encode()


def test_one_line_keeps_no_break_spaces_and_drops_line_breaks():
    from newsletter.mail.message import one_line

    french = "Réunion\u00a0: «\u202fdemain\u202f»\u202f!"
    assert one_line(f"  {french}\r\n\tnext\x00line  ") == f"{french} next line"
