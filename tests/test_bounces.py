"""Bounces and complaints: reading reports, acting on them, the webhook and the import command."""

import mailbox
import re
import time
from contextlib import contextmanager
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from types import SimpleNamespace

import pytest
from campaign_helpers import configured, ledger, make_issue, send_all, start
from factories import make_lists, make_subscriber, row_counts, subscriber_state
from smtp import Received

from newsletter import delivery
from newsletter.bounces import Report, parse_report, process_message
from newsletter.config import ConfigError, from_environment
from newsletter.extensions import db
from newsletter.mail import identifiers
from newsletter.models import (
    ConsentAction,
    Delivery,
    DeliveryState,
    Fallback,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
    UnattributedReport,
    email_hash,
    utcnow,
)

ANA = "ana@example.org"
BEN = "ben@example.org"
ANA_ID = "<issue-1.ana@newsletter.test>"
BEN_ID = "<issue-1.ben@newsletter.test>"
TOKEN = "s3cret-webhook-token"


# Reports built after the RFCs, with the standard library


def original(to: str = ANA, message_id: str = ANA_ID, body: str = "Our March issue.") -> Message:
    """The message we sent, as a report returns it."""
    msg = EmailMessage()
    msg["From"] = "Newsletter <news@newsletter.test>"
    msg["To"] = to
    msg["Subject"] = "Our March issue"
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = "<http://newsletter.test/en/unsubscribe/abc>"
    msg.set_content(body)
    return msg


def fields(**values: str) -> Message:
    block = Message()
    for name, value in values.items():
        block[name.replace("_", "-")] = value
    return block


def dsn(
    *recipients: dict[str, str],
    returned: Message | None = None,
    headers_only: bool = False,
    report_type: str | None = "delivery-status",
    to: str = "bounces@newsletter.test",
) -> bytes:
    """A delivery status notification (RFC 3464): text, message/delivery-status, original."""
    params = {"report-type": report_type} if report_type else {}
    report = MIMEMultipart("report", **params)
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    report["To"] = to
    report["Subject"] = "Delivery Status Notification (Failure)"
    report.attach(MIMEText("Your message could not be delivered."))
    status = Message()
    status.set_type("message/delivery-status")
    per_message = fields(Reporting_MTA="dns; mx.example.org", Arrival_Date="Tue, 3 Mar 2026")
    status.set_payload([per_message, *(fields(**r) for r in recipients)])
    report.attach(status)
    returned = returned if returned is not None else original()
    if headers_only:
        headers = "".join(f"{name}: {value}\n" for name, value in returned.items())
        report.attach(MIMEText(headers, "rfc822-headers"))
    else:
        report.attach(MIMEMessage(returned))
    return report.as_bytes()


def failed(recipient: str = ANA, status: str = "5.1.1", **extra: str) -> dict[str, str]:
    return {
        "Final_Recipient": f"rfc822; {recipient}",
        "Action": "failed",
        "Status": status,
        "Diagnostic_Code": f"smtp; {status[0]}50 {status} <{recipient}>: Address rejected",
        **extra,
    }


def delayed(recipient: str = ANA, **extra: str) -> dict[str, str]:
    return {
        "Final_Recipient": f"rfc822; {recipient}",
        "Action": "delayed",
        "Status": "4.2.2",
        "Diagnostic_Code": "smtp; 452 4.2.2 Mailbox full",
        **extra,
    }


def arf(
    returned: Message | None = None,
    original_rcpt_to: str | None = ANA,
    feedback_type: str = "abuse",
    headers_only: bool = False,
) -> bytes:
    """An abuse report (RFC 5965): text, message/feedback-report, the original message."""
    report = MIMEMultipart("report", **{"report-type": "feedback-report"})
    report["From"] = "feedback@isp.example"
    report["To"] = "fbl@newsletter.test"
    report["Subject"] = "Abuse report"
    report.attach(MIMEText("This is an email abuse report."))
    feedback = {
        "Feedback_Type": feedback_type,
        "User_Agent": "SomeGenerator/1.0",
        "Version": "1",
        "Original_Mail_From": "<bounces@newsletter.test>",
    }
    if original_rcpt_to:
        feedback["Original_Rcpt_To"] = f"<{original_rcpt_to}>"
    report.attach(MIMEMessage(fields(**feedback), "feedback-report"))
    returned = returned if returned is not None else original()
    if headers_only:
        headers = "".join(f"{name}: {value}\n" for name, value in returned.items())
        report.attach(MIMEText(headers, "rfc822-headers"))
    else:
        report.attach(MIMEMessage(returned))
    return report.as_bytes()


# Reports as real providers send them


def postfix_dsn(recipient: str = ANA, message_id: str = ANA_ID) -> bytes:
    return f"""\
Return-Path: <>
Date: Tue,  3 Mar 2026 10:00:02 +0000 (UTC)
From: MAILER-DAEMON@mail.newsletter.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@newsletter.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F1A8C0B21.1772532002/mail.newsletter.test"
Content-Transfer-Encoding: 8bit
Message-Id: <20260303100002.3F1A8C0B21@mail.newsletter.test>

This is a MIME-encapsulated message.

--3F1A8C0B21.1772532002/mail.newsletter.test
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.newsletter.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<{recipient}>: host mx.example.org[203.0.113.5] said: 550 5.1.1
    <{recipient}>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--3F1A8C0B21.1772532002/mail.newsletter.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.newsletter.test
X-Postfix-Queue-ID: 3F1A8C0B21
X-Postfix-Sender: rfc822; bounces@newsletter.test
Arrival-Date: Tue,  3 Mar 2026 10:00:01 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:
    User unknown in virtual mailbox table

--3F1A8C0B21.1772532002/mail.newsletter.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <bounces@newsletter.test>
From: Newsletter <news@newsletter.test>
To: {recipient}
Subject: Our March issue
Message-ID: {message_id}
Date: Tue, 03 Mar 2026 10:00:00 +0000

--3F1A8C0B21.1772532002/mail.newsletter.test--
""".replace("\n", "\r\n").encode()


def gmail_dsn(recipient: str = ANA, message_id: str = ANA_ID) -> bytes:
    """Gmail: the explanation in multipart/related, and the Message-ID in the status fields."""
    return f"""\
Delivered-To: bounces@newsletter.test
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces@newsletter.test
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a1"; Report-Type=Delivery-Status

--000000000000a1
Content-Type: multipart/related; boundary="000000000000b2"

--000000000000b2
Content-Type: text/plain; charset="UTF-8"

Address not found. Your message wasn't delivered to {recipient} because the
address couldn't be found, or is unable to receive mail.

--000000000000b2--

--000000000000a1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; news@newsletter.test
Arrival-Date: Tue, 03 Mar 2026 02:00:01 -0800 (PST)
X-Original-Message-ID: {message_id}

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
 not exist. Please try double-checking the recipient's email address for typos or
 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp
Last-Attempt-Date: Tue, 03 Mar 2026 02:00:02 -0800 (PST)

--000000000000a1--
""".encode()


def yahoo_arf(recipient: str = ANA, message_id: str = ANA_ID) -> bytes:
    return f"""\
From: feedback@arf.mail.yahoo.com
To: fbl@newsletter.test
Subject: FW: Our March issue
Date: Tue, 3 Mar 2026 11:00:00 +0000
Message-ID: <1772535600.1234@arf.mail.yahoo.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
    boundary="----=_Part_87_1"

------=_Part_87_1
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
198.51.100.7 on Tue, 3 Mar 2026 10:00:01 +0000.
For more information about this format please see http://tools.ietf.org/html/rfc5965.

------=_Part_87_1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 0.1
Original-Mail-From: <bounces@newsletter.test>
Original-Rcpt-To: {recipient}
Received-Date: Tue, 3 Mar 2026 10:00:01 +0000
Reported-Domain: newsletter.test
Authentication-Results: mta1000.mail.ne1.yahoo.com; dkim=pass
    header.i=@newsletter.test; spf=pass smtp.mailfrom=newsletter.test

------=_Part_87_1
Content-Type: message/rfc822
Content-Disposition: inline

Received: from 198.51.100.7 (EHLO mail.newsletter.test) by mta1000.mail.ne1.yahoo.com
From: Newsletter <news@newsletter.test>
To: {recipient}
Subject: Our March issue
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Our March issue.

------=_Part_87_1--
""".encode()


def outlook_arf(message_id: str = ANA_ID) -> bytes:
    """Outlook's junk mail reports: no Original-Rcpt-To, and the recipient redacted."""
    return f"""\
From: staff@hotmail.com
To: fbl@newsletter.test
Subject: complaint about message from 198.51.100.7
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="_outlook_"

--_outlook_
Content-Type: text/plain

This is an email abuse report for an email message received from IP 198.51.100.7.

--_outlook_
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Microsoft Junk Mail Reporting Program
Version: 1.0
Source-IP: 198.51.100.7

--_outlook_
Content-Type: message/rfc822

From: Newsletter <news@newsletter.test>
To: <removed>
Subject: Our March issue
Message-ID: {message_id}

Our March issue.
--_outlook_--
""".encode()


def exim_bounce(
    recipient: str = ANA, message_id: str = ANA_ID, reply: str = "550 5.1.1", permanent=True
) -> bytes:
    kind = "This is a permanent error." if permanent else "Retry timeout exceeded."
    return f"""\
Return-path: <>
Envelope-to: bounces@newsletter.test
Received: from Debian-exim by mx.example.org with local (Exim 4.96)
\tid 1vABCD-000123-4X for bounces@newsletter.test; Tue, 03 Mar 2026 10:00:03 +0000
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: bounces@newsletter.test
Content-Type: text/plain; charset=us-ascii
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1vABCD-000123-4X@mx.example.org>
Date: Tue, 03 Mar 2026 10:00:03 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. {kind} The following address(es) failed:

  {recipient}
    host mx.example.org [203.0.113.5]
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    {reply} <{recipient}>: Recipient address rejected

------ This is a copy of the message, including all the headers. ------

Return-path: <bounces@newsletter.test>
Message-ID: {message_id}
From: Newsletter <news@newsletter.test>
To: {recipient}
Subject: Our March issue

Our March issue. A reply such as 550 5.7.1 quoted down here is not the reason.
""".encode()


# Reading reports


def test_rfc3464_permanent_failure_is_a_hard_bounce():
    [report] = parse_report(dsn(failed()))
    assert report == Report(
        kind="hard",
        recipient=ANA,
        original_message_id=ANA_ID,
        status="5.1.1",
        diagnostic=f"550 5.1.1 <{ANA}>: Address rejected",
    )


def test_rfc3464_each_recipient_block_is_classified():
    reports = parse_report(
        dsn(
            failed("hard@example.org"),
            failed("late@example.org", status="4.4.7"),
            delayed("slow@example.org"),
            {"Final_Recipient": "rfc822; ok@example.org", "Action": "delivered", "Status": "2.0.0"},
            {"Final_Recipient": "rfc822; on@example.org", "Action": "relayed", "Status": "2.0.0"},
            {"Final_Recipient": "rfc822; all@example.org", "Action": "expanded"},
        )
    )
    assert [(r.recipient, r.kind, r.status) for r in reports] == [
        ("hard@example.org", "hard", "5.1.1"),
        ("late@example.org", "soft", "4.4.7"),
        ("slow@example.org", "soft", "4.2.2"),
    ]


def test_rfc3464_original_recipient_is_the_address_we_wrote_to():
    block = failed("ana@forwarded.example", Original_Recipient=f"rfc822;{ANA}")
    [report] = parse_report(dsn(block, headers_only=True))
    assert (report.recipient, report.original_message_id) == (ANA, ANA_ID)


def test_rfc5965_complaint_takes_the_recipient_from_original_rcpt_to():
    [report] = parse_report(arf(original("someone-else@example.org")))
    assert (report.kind, report.recipient, report.original_message_id) == (
        "complaint",
        ANA,
        ANA_ID,
    )


@pytest.mark.parametrize("headers_only", [False, True], ids=["rfc822", "rfc822-headers"])
def test_rfc5965_complaint_without_original_rcpt_to_uses_the_returned_to(headers_only):
    report = arf(original(f"Ana <{BEN}>"), original_rcpt_to=None, headers_only=headers_only)
    assert parse_report(report) == [Report("complaint", BEN, ANA_ID, diagnostic="abuse")]


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure"])
def test_feedback_that_is_not_a_complaint_is_ignored(feedback_type):
    assert parse_report(arf(feedback_type=feedback_type)) == []


@pytest.mark.parametrize("report_type", [None, "Delivery-Status"], ids=["missing", "mixed-case"])
def test_a_missing_or_odd_report_type_is_tolerated(report_type):
    [report] = parse_report(dsn(failed(), report_type=report_type))
    assert (report.kind, report.recipient) == ("hard", ANA)


def test_a_delivery_status_sent_as_text_plain_is_still_read():
    raw = dsn(failed()).replace(b"message/delivery-status", b"text/plain")
    [report] = parse_report(raw)
    assert (report.kind, report.recipient, report.status) == ("hard", ANA, "5.1.1")


def test_postfix_dsn():
    assert parse_report(postfix_dsn()) == [
        Report(
            "hard",
            ANA,
            ANA_ID,
            "5.1.1",
            f"550 5.1.1 <{ANA}>: Recipient address rejected: User unknown in virtual mailbox table",
        )
    ]


def test_gmail_dsn_names_the_message_in_the_status_fields():
    [report] = parse_report(gmail_dsn())
    assert (report.kind, report.recipient, report.original_message_id, report.status) == (
        "hard",
        ANA,
        ANA_ID,
        "5.1.1",
    )
    assert report.diagnostic.startswith("550-5.1.1 The email account")


def test_yahoo_arf():
    assert parse_report(yahoo_arf()) == [Report("complaint", ANA, ANA_ID, diagnostic="abuse")]


def test_outlook_arf_with_the_recipient_redacted_keeps_the_message_id():
    [report] = parse_report(outlook_arf())
    assert (report.kind, report.original_message_id) == ("complaint", ANA_ID)


def test_exim_plain_text_bounce_with_a_5xx_code_is_hard():
    [report] = parse_report(exim_bounce())
    assert (report.kind, report.recipient, report.original_message_id, report.status) == (
        "hard",
        ANA,
        ANA_ID,
        "5.1.1",
    )
    assert report.diagnostic == f"550 5.1.1 <{ANA}>: Recipient address rejected"


def test_exim_plain_text_bounce_with_a_4xx_code_is_soft():
    [report] = parse_report(exim_bounce(reply="452 4.2.2", permanent=False))
    assert (report.kind, report.status) == ("soft", "4.2.2")


GARBAGE = {
    "empty": b"",
    "binary": bytes(range(256)) * 8,
    "not-mail": b"hello world\r\n",
    "ordinary-mail": original().as_bytes(),
    "auto-reply": b"From: ana@example.org\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n",
    "no-boundary": b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--x\r\n",
    "empty-status": dsn().replace(b"Reporting-MTA", b"X-Nothing"),
    "deep-nesting": b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 2000,
    "bad-headers": b"Content-Type: message/delivery-status\r\n\r\n\xff\xfe: \x00\r\n:::\r\n",
}


@pytest.mark.parametrize("raw", GARBAGE.values(), ids=GARBAGE.keys())
def test_anything_unreadable_gives_no_reports(raw):
    assert parse_report(raw) == []


def test_an_unknown_charset_does_not_stop_a_plain_text_bounce():
    raw = (
        b"X-Failed-Recipients: ana@example.org\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n"
        b"550 \xff\xfe unknown user\r\n"
    )
    [report] = parse_report(raw)
    assert (report.kind, report.recipient) == ("hard", ANA)


# Acting on reports


def sent_issue(in_app, *people: tuple[str, SubscriberStatus]) -> dict[str, str]:
    """Lists, the given subscribers on two of them, and one issue sent to each.

    Returns each address's Message-ID, signed as the workers sign them.
    """

    def create():
        ids = make_lists()
        issue = Issue(
            name="March",
            default_language="en",
            fallback=Fallback.DEFAULT,
            status=IssueStatus.SENT,
        )
        db.session.add(issue)
        db.session.flush()
        message_ids = {}
        for email, status in people:
            subscriber = make_subscriber(
                email, status=status, list_ids=(ids["newsletter"], ids["events"])
            )
            message_id = identifiers.message_id(issue.id, subscriber.id, "newsletter.test")
            db.session.add(
                Delivery(
                    issue_id=issue.id,
                    subscriber_id=subscriber.id,
                    language="en",
                    message_id=message_id,
                    state=DeliveryState.SENT,
                    attempts=1,
                    last_code=250,
                    last_response="2.0.0 Ok: queued",
                    sent_at=utcnow(),
                )
            )
            message_ids[email] = message_id
        db.session.commit()
        return message_ids

    return in_app(create)


def another_issue(email: str) -> str:
    """One more sent issue to someone ``sent_issue`` created; returns its Message-ID."""
    issue = Issue(name="April", default_language="en", fallback=Fallback.DEFAULT)
    issue.status = IssueStatus.SENT
    db.session.add(issue)
    db.session.flush()
    subscriber = db.session.execute(db.select(Subscriber).filter_by(email=email)).scalar_one()
    message_id = identifiers.message_id(issue.id, subscriber.id, "newsletter.test")
    db.session.add(
        Delivery(
            issue_id=issue.id,
            subscriber_id=subscriber.id,
            language="en",
            message_id=message_id,
            state=DeliveryState.SENT,
            attempts=1,
            sent_at=utcnow(),
        )
    )
    db.session.commit()
    return message_id


def unattributed() -> list[tuple[str, str]]:
    """The recorded reports that named no delivery of ours: (kind, reason)."""
    rows = db.session.execute(db.select(UnattributedReport).order_by(UnattributedReport.id))
    return [(row.kind.value, row.reason.value) for row in rows.scalars()]


def person(email: str) -> SimpleNamespace | None:
    state = subscriber_state(email)
    if state is None:
        return None
    subscriber = db.session.get(Subscriber, state.id)
    state.soft_bounces = subscriber.soft_bounces
    state.unsubscribed_at = subscriber.unsubscribed_at
    deliveries = db.session.execute(
        db.select(Delivery).where(Delivery.subscriber_id == subscriber.id)
    ).scalars()
    state.deliveries = [
        SimpleNamespace(state=d.state, last_code=d.last_code, last_response=d.last_response)
        for d in deliveries
    ]
    suppression = db.session.get(Suppression, email_hash(email))
    state.suppressed = suppression.reason if suppression else None
    return state


def processed(in_app, raw: bytes, soft_bounce_limit: int = 3) -> list[str]:
    def run():
        actions = process_message(raw, soft_bounce_limit)
        db.session.commit()
        return actions

    return in_app(run)


def test_hard_bounce_marks_the_subscriber_bounced_and_the_delivery_failed(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    assert processed(in_app, postfix_dsn(message_id=ids[ANA])) == ["bounced"]
    ana = in_app(person, ANA)
    assert ana.status == SubscriberStatus.BOUNCED
    [delivery] = ana.deliveries
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_code == 550
    assert delivery.last_response.startswith("hard bounce: 5.1.1 550 5.1.1")
    assert "User unknown" in delivery.last_response
    ben = in_app(person, BEN)
    assert ben.status == SubscriberStatus.CONFIRMED
    assert ben.deliveries[0].state == DeliveryState.SENT


def test_the_recipient_in_a_bounce_may_differ_in_case_from_the_delivery(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.PENDING))
    report = exim_bounce(recipient="Ana@Example.org", message_id=ids[ANA])
    assert processed(in_app, report) == ["bounced"]
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED


def test_a_bounce_naming_our_message_id_and_another_recipient_changes_nothing(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    # Ana's Message-ID (she knows it) in a bounce that names Ben.
    report = dsn(failed(BEN), returned=original(BEN, ids[ANA]))
    before = in_app(person, ANA), in_app(person, BEN)
    assert processed(in_app, report) == ["unattributed"]
    assert (in_app(person, ANA), in_app(person, BEN)) == before
    assert in_app(unattributed) == [("hard", "other-recipient")]


@pytest.mark.parametrize(
    "report",
    [
        lambda: dsn(failed(), returned=original(message_id="<elsewhere@example.org>")),
        lambda: dsn(failed(), headers_only=True, returned=Message()),
        lambda: exim_bounce(message_id="<elsewhere@example.org>"),
        lambda: dsn(delayed(), returned=original(message_id="<1.1.0123456789abcdef0123@x>")),
    ],
    ids=["dsn-final-recipient", "dsn-no-message-id", "x-failed-recipients", "bad-signature"],
)
def test_a_forged_bounce_naming_only_an_address_changes_nothing(in_app, report):
    sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    counts, before = in_app(row_counts), in_app(person, ANA)
    assert processed(in_app, report()) == ["unattributed"]
    assert in_app(person, ANA) == before
    assert in_app(row_counts) == counts | {"unattributed_report": 1}
    [(kind, reason)] = in_app(unattributed)
    assert reason == "not-ours"


def test_a_hard_bounce_leaves_someone_who_left_as_they_are(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.UNSUBSCRIBED))
    ours = original(message_id=ids[ANA])
    assert processed(in_app, dsn(failed(), returned=ours)) == ["ignored"]
    ana = in_app(person, ANA)
    assert ana.status == SubscriberStatus.UNSUBSCRIBED
    assert ana.deliveries[0].state == DeliveryState.FAILED


def test_soft_bounces_count_up_to_the_limit(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    # Three different messages to a full mailbox.
    message_ids = [ids[ANA], in_app(another_issue, ANA), in_app(another_issue, ANA)]
    for number, expected in enumerate(["soft-bounce", "soft-bounce", "bounced"]):
        returned = original(message_id=message_ids[number])
        assert processed(in_app, dsn(delayed(), returned=returned)) == [expected]
        ana = in_app(person, ANA)
        assert ana.soft_bounces == number + 1
        assert ana.status == (
            SubscriberStatus.BOUNCED if number == 2 else SubscriberStatus.CONFIRMED
        )
    assert ana.list_ids, "bouncing is not unsubscribing"


def test_a_message_that_arrived_starts_the_count_again(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    message_ids = [ids[ANA]] + [in_app(another_issue, ANA) for _ in range(4)]
    full_mailbox = [0, 2, 3, 4]  # the second message arrived: nothing came back for it
    for number, expected in zip(full_mailbox, [1, 1, 2, 3], strict=True):
        returned = original(message_id=message_ids[number])
        processed(in_app, dsn(delayed(), returned=returned))
        assert in_app(person, ANA).soft_bounces == expected
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED


def test_one_message_coming_back_several_times_counts_once(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    ours = original(message_id=ids[ANA])
    assert processed(in_app, dsn(delayed(), returned=ours)) == ["soft-bounce"]
    assert processed(in_app, dsn(delayed(), returned=ours)) == ["ignored"]
    assert processed(in_app, dsn(failed(status="4.4.7"), returned=ours)) == ["ignored"]
    ana = in_app(person, ANA)
    assert (ana.status, ana.soft_bounces) == (SubscriberStatus.CONFIRMED, 1)
    assert ana.deliveries[0].state == DeliveryState.SENT
    assert ana.deliveries[0].last_response.startswith("soft bounce: 4.2.2")
    # The final verdict is permanent after all.
    assert processed(in_app, dsn(failed(), returned=ours)) == ["bounced"]
    assert in_app(person, ANA).deliveries[0].state == DeliveryState.FAILED


def test_soft_bounce_limit_comes_from_the_caller(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    ours = original(message_id=ids[ANA])
    assert processed(in_app, dsn(delayed(), returned=ours), soft_bounce_limit=1) == ["bounced"]


@pytest.mark.parametrize(
    "report",
    [
        lambda ours: arf(original(message_id=ours)),
        lambda ours: yahoo_arf(message_id=ours),
        outlook_arf,
    ],
    ids=["rfc", "yahoo", "outlook"],
)
def test_complaint_unsubscribes_suppresses_and_records_consent(in_app, report):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    assert processed(in_app, report(ids[ANA])) == ["complained"]
    ana = in_app(person, ANA)
    assert ana.status == SubscriberStatus.COMPLAINED
    assert ana.list_ids == set()
    assert ana.unsubscribed_at is not None
    assert ana.suppressed == "complaint"
    consent = ana.consents[-1]
    assert (consent.action, consent.source, consent.list_ids) == (
        ConsentAction.UNSUBSCRIBE,
        "complaint",
        [],
    )
    ben = in_app(person, BEN)
    assert (ben.status, ben.suppressed, len(ben.list_ids)) == (SubscriberStatus.CONFIRMED, None, 2)


def test_a_second_complaint_changes_nothing(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    assert processed(in_app, arf(original(message_id=ids[ANA]))) == ["complained"]
    counts = in_app(row_counts)
    assert processed(in_app, yahoo_arf(message_id=ids[ANA])) == ["ignored"]
    assert in_app(row_counts) == counts
    assert len(in_app(person, ANA).consents) == 1


def test_a_complaint_after_a_bounce_still_suppresses(in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.BOUNCED))
    assert processed(in_app, arf(original(message_id=ids[ANA]))) == ["complained"]
    ana = in_app(person, ANA)
    assert (ana.status, ana.suppressed) == (SubscriberStatus.COMPLAINED, "complaint")


@pytest.mark.parametrize(
    "report",
    [
        lambda: dsn(failed("nobody@example.org"), returned=original("nobody@example.org", "<x@y>")),
        lambda: arf(original("nobody@example.org", "<x@y>"), original_rcpt_to=None),
        lambda: exim_bounce("not an address", "<x@y>"),
    ],
    ids=["bounce", "complaint", "bad-address"],
)
def test_unknown_recipient_is_recorded_and_changes_nothing_else(in_app, report):
    sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    counts, before = in_app(row_counts), in_app(person, ANA)
    actions = processed(in_app, report())
    assert set(actions) <= {"unattributed"}
    assert in_app(row_counts) == counts | {"unattributed_report": len(actions)}
    assert in_app(person, ANA) == before


@pytest.mark.parametrize("raw", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_changes_nothing(in_app, raw):
    sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    before = in_app(row_counts), in_app(person, ANA)
    assert processed(in_app, raw) == []
    assert (in_app(row_counts), in_app(person, ANA)) == before


# The webhook


@contextmanager
def webhook_token(app, token: str | None):
    previous = app.config.get("BOUNCE_WEBHOOK_TOKEN")
    app.config["BOUNCE_WEBHOOK_TOKEN"] = token
    try:
        yield
    finally:
        app.config["BOUNCE_WEBHOOK_TOKEN"] = previous


def post_report(client, raw: bytes, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/bounces", data=raw, headers=headers, content_type="message/rfc822")


def test_webhook_is_off_without_a_configured_token(app, client, in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    for token in (None, ""):
        with webhook_token(app, token):
            response = post_report(client, postfix_dsn(message_id=ids[ANA]))
        assert response.status_code == 404
        assert response.get_json()["status"] == "error"
    assert in_app(person, ANA).status == SubscriberStatus.CONFIRMED


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
def test_webhook_refuses_a_wrong_or_missing_token(app, client, in_app, token):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    with webhook_token(app, TOKEN):
        response = post_report(client, postfix_dsn(message_id=ids[ANA]), token=token)
        basic = client.post(
            "/api/v1/bounces",
            data=postfix_dsn(message_id=ids[ANA]),
            headers={"Authorization": f"Basic {TOKEN}"},
        )
    assert response.status_code == basic.status_code == 401
    assert response.get_json()["status"] == "error"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert in_app(person, ANA).status == SubscriberStatus.CONFIRMED


def test_webhook_applies_reports_with_the_right_token(app, client, in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    with webhook_token(app, TOKEN):
        bounce = post_report(client, postfix_dsn(message_id=ids[ANA]))
        complaint = client.post(
            "/api/v1/bounces",
            data=yahoo_arf(BEN, ids[BEN]),
            headers={"Authorization": f"bearer {TOKEN}"},
            content_type="application/x-www-form-urlencoded",
        )
        nothing = post_report(client, b"hello")
    assert bounce.status_code == complaint.status_code == nothing.status_code == 200
    assert bounce.get_json() == {"status": "ok", "actions": ["bounced"], "unattributed": 0}
    assert complaint.get_json() == {"status": "ok", "actions": ["complained"], "unattributed": 0}
    assert nothing.get_json() == {"status": "ok", "actions": [], "unattributed": 0}
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
    assert in_app(person, BEN).status == SubscriberStatus.COMPLAINED


def test_webhook_takes_a_report_with_any_bytes_whatever_its_content_type(app, client, in_app):
    """A returned message may hold NUL or other control bytes; the report is mail, not a form."""
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    raw = postfix_dsn(message_id=ids[ANA]) + b"\r\nbinary part: \x00\x01\x1b\r\n"
    with webhook_token(app, TOKEN):
        response = client.post(
            "/api/v1/bounces",
            data=raw,
            headers={"Authorization": f"Bearer {TOKEN}"},
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    assert response.get_json()["actions"] == ["bounced"]
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED


def test_webhook_accepts_a_large_report_and_refuses_a_huge_one(app, client, in_app):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    large = dsn(failed(), returned=original(message_id=ids[ANA], body="A long issue.\n" * 75_000))
    huge = dsn(failed(BEN), returned=original(BEN, ids[BEN], body="A long issue.\n" * 800_000))
    assert 1024 * 1024 < len(large) < 2 * 1024 * 1024 and len(huge) > 10 * 1024 * 1024
    with webhook_token(app, TOKEN):
        accepted = post_report(client, large)
        refused = post_report(client, huge)
    assert accepted.status_code == 200
    assert accepted.get_json()["actions"] == ["bounced"]
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
    assert refused.status_code == 413
    assert in_app(person, BEN).status == SubscriberStatus.CONFIRMED


def test_the_large_limit_is_for_the_webhook_only(app, client):
    response = client.post("/api/v1/subscribe", json={"email": ANA, "note": "x" * 100_000})
    assert response.status_code == 413


# The import command


def reports_for_import(ids: dict[str, str]) -> list[bytes]:
    out_of_office = b"Subject: Out of office\r\n\r\nAway.\r\n"
    return [postfix_dsn(message_id=ids[ANA]), yahoo_arf(BEN, ids[BEN]), out_of_office]


def test_import_from_an_mbox_file(in_app, runner, tmp_path):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for raw in reports_for_import(ids):
        box.add(raw)
    box.close()

    result = runner.invoke(args=["bounces", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Messages read: 3" in result.output
    assert "bounced: 1" in result.output and "complained: 1" in result.output
    assert "Messages without a bounce or complaint: 1" in result.output
    assert "not tied to one of our deliveries (recorded, not acted on): 0" in result.output
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
    assert in_app(person, BEN).status == SubscriberStatus.COMPLAINED
    assert len(mailbox.mbox(path)) == 3, "kept without --delete"

    result = runner.invoke(args=["bounces", "import", "--delete", str(path)])
    assert result.exit_code == 0, result.output
    assert "ignored: 2" in result.output and "Messages deleted: 3" in result.output
    assert len(mailbox.mbox(path)) == 0


def test_import_from_a_maildir_with_delete(in_app, runner, tmp_path):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    box = mailbox.Maildir(tmp_path / "Maildir")
    for raw in reports_for_import(ids):
        box.add(raw)
    seen = mailbox.MaildirMessage(exim_bounce("carl@example.org", "<c@y>"))
    seen.set_subdir("cur")
    box.add(seen)

    result = runner.invoke(args=["bounces", "import", "--delete", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert "Messages read: 4" in result.output and "unattributed: 1" in result.output
    assert "not tied to one of our deliveries (recorded, not acted on): 1" in result.output
    assert "Messages deleted: 4" in result.output
    assert len(mailbox.Maildir(tmp_path / "Maildir")) == 0
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
    assert in_app(person, BEN).status == SubscriberStatus.COMPLAINED


def test_import_refuses_a_directory_that_is_not_a_maildir(runner, tmp_path):
    result = runner.invoke(args=["bounces", "import", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a Maildir" in result.output


def unsubscribe_request(token: str, subject_prefix: str = "unsubscribe") -> bytes:
    """What a mail client sends for List-Unsubscribe's mailto (the subject it carries)."""
    message = EmailMessage()
    message["From"] = "Reader <reader@example.org>"
    message["To"] = "news@newsletter.test"
    message["Subject"] = f"{subject_prefix} {token}"
    message.set_content("This message was sent automatically to unsubscribe.")
    return bytes(message)


def test_mailto_unsubscribe_request_unsubscribes_the_token_holder(in_app):
    def setup():
        ids = make_lists()
        return make_subscriber("mailto@example.org", "fr", list_ids=(ids["newsletter"],)).token

    token = in_app(setup)

    def process(raw):
        actions = process_message(raw, 3)
        db.session.commit()
        return actions

    assert in_app(process, unsubscribe_request("not-a-known-token-at-all")) == ["unknown"]
    assert in_app(subscriber_state, "mailto@example.org").status == SubscriberStatus.CONFIRMED
    assert in_app(process, unsubscribe_request(token, "UNSUBSCRIBE")) == ["unsubscribed"]
    state = in_app(subscriber_state, "mailto@example.org")
    assert state.status == SubscriberStatus.UNSUBSCRIBED and state.list_ids == set()
    assert state.consents[-1].source == "mailto"
    assert in_app(process, unsubscribe_request(token)) == ["ignored"], "idempotent"


def test_a_forged_complaint_naming_only_an_address_changes_nothing(in_app):
    sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    counts = in_app(row_counts)
    forged = arf(original(ANA, "<not-one-of-ours@attacker.example>"))
    assert processed(in_app, forged) == ["unattributed"]
    assert in_app(row_counts) == counts | {"unattributed_report": 1}
    assert in_app(unattributed) == [("complaint", "not-ours")]
    ana = in_app(person, ANA)
    assert (ana.status, ana.suppressed) == (SubscriberStatus.CONFIRMED, None)


def delivered_issue(in_app, smtp, *emails: str) -> dict[str, Received]:
    """A real issue sent through the workers' code to the test SMTP server, by recipient."""

    def create():
        ids = make_lists()
        for email in emails:
            make_subscriber(email, list_ids=(ids["newsletter"],))
        return make_issue([ids["newsletter"]], languages=("en",))

    issue_id = in_app(create)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    return {item.recipients[0]: item for item in smtp.wait_for(len(emails))}


def test_one_recipient_can_not_forge_a_complaint_about_another(app, client, in_app, smtp):
    received = delivered_issue(in_app, smtp, ANA, BEN)
    ana_id = received[ANA].message["Message-ID"]
    ben_id = received[BEN].message["Message-ID"]
    issue_part, ana_part, ana_secret = ana_id.strip("<>").split("@")[0].split(".")
    ben_secret = ben_id.strip("<>").split("@")[0].split(".")[2]
    assert ana_secret != ben_secret, "the secret covers the subscriber, not only the issue"

    # Ana knows her own Message-ID and Ben's subscriber id (the next number): no more.
    ben_part = ben_id.split(".")[1]
    forged = f"<{issue_part}.{ben_part}.{ana_secret}@{ana_id.split('@')[1]}"
    with webhook_token(app, TOKEN):
        response = post_report(client, arf(original(BEN, forged), BEN))
    assert response.status_code == 200
    assert "complained" not in response.get_json()["actions"]
    ben = in_app(person, BEN)
    assert (ben.status, ben.suppressed) == (SubscriberStatus.CONFIRMED, None)

    with webhook_token(app, TOKEN):
        response = post_report(client, arf(original(BEN, ben_id), BEN))
    assert response.get_json()["actions"] == ["complained"], "Ben's real Message-ID counts"
    assert in_app(person, BEN).status == SubscriberStatus.COMPLAINED


def test_a_message_sent_again_after_its_lease_ran_out_keeps_its_message_id(in_app, smtp):
    def create():
        ids = make_lists()
        make_subscriber(ANA, list_ids=(ids["newsletter"],))
        return make_issue([ids["newsletter"]], languages=("en",))

    issue_id = in_app(create)
    in_app(start, issue_id)
    # A worker claims the row and dies before recording anything.
    [claim] = in_app(delivery.claim_batch, issue_id, 10, 0)
    time.sleep(0.05)
    in_app(send_all, issue_id)
    [item] = smtp.wait_for(1)
    assert item.message["Message-ID"] == claim.message_id
    stored = in_app(ledger, issue_id)
    assert [row[3] for row in stored] == [claim.message_id], "the ledger holds what was sent"


RETURN_PATH = re.compile(r"bounces\+[a-z2-7]{18,29}@newsletter\.test")


def test_without_a_bounce_address_the_envelope_sender_is_the_sender(in_app, smtp):
    received = delivered_issue(in_app, smtp, ANA)
    assert received[ANA].mail_from == "news@newsletter.test"


def test_with_a_bounce_address_each_message_has_its_own_return_path(app, in_app, smtp):
    with configured(app, BOUNCE_ADDRESS="bounces@newsletter.test"):
        received = delivered_issue(in_app, smtp, ANA, BEN)
    paths = {email: item.mail_from for email, item in received.items()}
    assert all(RETURN_PATH.fullmatch(path) for path in paths.values()), paths
    assert paths[ANA] != paths[BEN]
    assert received[ANA].message["From"] == "Newsletter <news@newsletter.test>"


def tamper(address: str) -> str:
    local, domain = address.split("@")
    return f"{local[:-1]}{'b' if local[-1] == 'a' else 'a'}@{domain}"


B32 = "abcdefghijklmnopqrstuvwxyz234567"


@pytest.mark.parametrize("delivery_id", [1, 7, 300, 70_000, 2**40])
def test_a_return_path_with_any_letter_changed_names_no_delivery(app, delivery_id):
    """Also the last letter, whose low bits base32 leaves unused: a token we made, and no
    other spelling of it, names the delivery."""
    with app.app_context():
        address = identifiers.return_path(delivery_id, "bounces@newsletter.test")
        assert identifiers.parse_return_path(address) == delivery_id
        assert identifiers.parse_return_path(address.upper()) == delivery_id
        local, domain = address.split("@")
        prefix, token = local.split("+")
        for position in range(len(token)):
            for letter in B32:
                if letter == token[position]:
                    continue
                changed = token[:position] + letter + token[position + 1 :]
                forged = f"{prefix}+{changed}@{domain}"
                assert identifiers.parse_return_path(forged) is None, forged


def test_a_bounce_sent_to_a_return_path_is_tied_to_its_delivery(
    app, in_app, client, runner, smtp, tmp_path
):
    carl = "carl@example.org"
    with configured(app, BOUNCE_ADDRESS="bounces@newsletter.test"):
        received = delivered_issue(in_app, smtp, ANA, BEN, carl)
    path = {email: item.mail_from for email, item in received.items()}
    box = mailbox.Maildir(tmp_path / "Maildir")
    # Ana's mail was forwarded: the report names another address and quotes no Message-ID.
    box.add(
        dsn(failed("ana@forwarded.example"), headers_only=True, returned=Message(), to=path[ANA])
    )
    # Ben's report, as an MTA that upper-cases addresses stamped Delivered-To on it.
    ben = dsn(failed(BEN), headers_only=True, returned=Message())
    box.add(f"Delivered-To: {path[BEN].upper()}\r\n".encode() + ben)
    # A token someone made up for Carl.
    box.add(dsn(failed(carl), headers_only=True, returned=Message(), to=tamper(path[carl])))

    result = runner.invoke(args=["bounces", "import", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert "bounced: 2" in result.output and "unattributed: 1" in result.output
    assert "(recorded, not acted on): 1" in result.output
    assert in_app(person, ANA).status == in_app(person, BEN).status == SubscriberStatus.BOUNCED
    assert in_app(person, ANA).deliveries[0].state == DeliveryState.FAILED
    assert in_app(person, carl).status == SubscriberStatus.CONFIRMED

    # An MTA pipe passes the address it delivered to (the "+" often left unencoded).
    report = dsn(delayed(carl), headers_only=True, returned=Message())
    with webhook_token(app, TOKEN):
        forged = client.post(
            f"/api/v1/bounces?recipient={tamper(path[carl])}",
            data=report,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        genuine = client.post(
            f"/api/v1/bounces?recipient={path[carl]}",
            data=report,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert forged.get_json() == {"status": "ok", "actions": ["unattributed"], "unattributed": 1}
    assert genuine.get_json() == {"status": "ok", "actions": ["soft-bounce"], "unattributed": 0}
    assert in_app(person, carl).soft_bounces == 1


def test_the_webhook_counts_a_forged_address_only_bounce_and_changes_nothing(app, client, in_app):
    sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    before = in_app(person, ANA)
    with webhook_token(app, TOKEN):
        response = post_report(client, exim_bounce(message_id="<forged@attacker.example>"))
    assert response.get_json() == {"status": "ok", "actions": ["unattributed"], "unattributed": 1}
    assert in_app(person, ANA) == before


def test_the_dashboard_shows_how_many_reports_were_not_tied_to_our_mail(editor_client, in_app):
    in_app(process_message, dsn(failed(), returned=original(message_id="<forged@x.example>")), 3)
    processed(in_app, exim_bounce(message_id="<forged@x.example>"))
    page = editor_client.get("/admin/").get_data(as_text=True)
    card = page.split('id="unattributed-reports"')[1].split("</section>")[0]
    assert "Reports in the last 30 days that named no delivery of ours" in card
    assert "as they may be forged): 1<" in card


def test_a_bounce_address_must_be_an_address():
    assert from_environment({"BOUNCE_ADDRESS": " bounces@example.org "})["BOUNCE_ADDRESS"] == (
        "bounces@example.org"
    )
    assert from_environment({})["BOUNCE_ADDRESS"] is None
    for bad in ("bounces", "@example.org", "Bounces <bounces@example.org>"):
        with pytest.raises(ConfigError):
            from_environment({"BOUNCE_ADDRESS": bad})
