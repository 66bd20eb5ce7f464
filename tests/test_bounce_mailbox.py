"""Bounce reports read from an IMAP folder: a real Dovecot on loopback, started here, with
plain IMAP, STARTTLS and IMAPS (a certificate made for the test)."""

import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from smtp import free_port
from test_bounces import ANA, BEN, arf, dsn, failed, original, person, sent_issue
from workers import wait_until

from newsletter import tasks
from newsletter.bounce_mailbox import ImapMailbox, read_imap
from newsletter.config import ConfigError, from_environment
from newsletter.models import SubscriberStatus

USER, PASSWORD = "bounces@example.org", "s3cret pass"
DOVECOT_CONF = """
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {folder}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="module")
def dovecot():
    """A Dovecot IMAP server of the test's own, with one account."""
    # Not under pytest's private tmp folder: Dovecot's own users must reach the files.
    folder = Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
    folder.chmod(0o755)
    for name in ("run", "state", "home"):
        (folder / name).mkdir()
    (folder / "home").chmod(0o777)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )
    ports = {"imap": free_port(), "imaps": free_port()}
    config = folder / "dovecot.conf"
    config.write_text(DOVECOT_CONF.format(folder=folder, **ports))
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    subprocess.run([binary, "-c", str(config)], check=True)
    wait_until(lambda: _answers(ports["imap"]), 15, "dovecot")
    yield {**ports, "cert": str(folder / "cert.pem")}
    subprocess.run([binary, "-c", str(config), "stop"], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        IMAPClient("127.0.0.1", port=port, ssl=False, timeout=1).logout()
    except OSError:
        return False
    return True


@pytest.fixture
def trusted(monkeypatch, dovecot):
    """Trust the test's certificate as a system CA would be trusted."""
    monkeypatch.setenv("SSL_CERT_FILE", dovecot["cert"])


@pytest.fixture
def mailbox(dovecot):
    """An empty INBOX (and no Processed folder); the settings that read it."""
    client = IMAPClient("127.0.0.1", port=dovecot["imap"], ssl=False)
    client.login(USER, PASSWORD)
    for folder in ("INBOX", "Processed"):
        if client.folder_exists(folder):
            client.select_folder(folder)
            client.delete_messages(client.search(["ALL"]))
            client.expunge()
    if client.folder_exists("Processed"):
        client.delete_folder("Processed")
    client.logout()
    user, password = USER.replace("@", "%40"), PASSWORD.replace(" ", "%20")
    return ImapMailbox.from_url(f"imap://{user}:{password}@127.0.0.1:{dovecot['imap']}/INBOX")


def deliver_to(mailbox: ImapMailbox, *messages: bytes) -> None:
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False)
    client.login(USER, PASSWORD)
    for raw in messages:
        client.append("INBOX", raw)
    client.logout()


def folder_counts(mailbox: ImapMailbox) -> dict[str, int]:
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False)
    client.login(USER, PASSWORD)
    counts = {}
    for folder in ("INBOX", "Processed"):
        if client.folder_exists(folder):
            counts[folder] = client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]
    client.logout()
    return counts


def reports(ids: dict[str, str]) -> list[bytes]:
    """A hard bounce for Ana, a complaint about Ben, and a mail that is neither."""
    return [
        dsn(failed(), returned=original(message_id=ids[ANA])),
        arf(original(to=BEN, message_id=ids[BEN])),
        b"From: someone@example.net\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n",
    ]


def test_reports_in_the_folder_are_acted_on_and_moved_to_processed(app, in_app, mailbox):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED), (BEN, SubscriberStatus.CONFIRMED))
    deliver_to(mailbox, *reports(ids))
    tally = in_app(read_imap, mailbox, 3)
    assert (tally.read, tally.without_report) == (3, 1)
    assert tally.actions == {"bounced": 1, "complained": 1}
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
    assert in_app(person, BEN).status == SubscriberStatus.COMPLAINED
    assert folder_counts(mailbox) == {"INBOX": 0, "Processed": 3}
    # Read again: nothing left, nothing done twice.
    assert in_app(read_imap, mailbox, 3).read == 0


def test_imaps_with_delete_leaves_the_folder_empty(in_app, mailbox, dovecot, trusted):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    deliver_to(mailbox, dsn(failed(), returned=original(message_id=ids[ANA])))
    secure = replace(mailbox, use_ssl=True, port=dovecot["imaps"], after="delete")
    assert in_app(read_imap, secure, 3).actions == {"bounced": 1}
    assert folder_counts(mailbox) == {"INBOX": 0}


def test_starttls_upgrades_the_plain_port(in_app, mailbox, trusted):
    deliver_to(mailbox, b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    assert in_app(read_imap, replace(mailbox, starttls=True), 3).read == 1


def test_a_certificate_nobody_vouches_for_is_refused(in_app, mailbox, dovecot):
    deliver_to(mailbox, b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        in_app(read_imap, replace(mailbox, use_ssl=True, port=dovecot["imaps"]), 3)
    assert folder_counts(mailbox)["INBOX"] == 1, "nothing read, nothing moved"


def test_a_wrong_password_reads_nothing(in_app, mailbox):
    deliver_to(mailbox, b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    with pytest.raises(LoginError):
        in_app(read_imap, replace(mailbox, password="wrong"), 3)
    assert folder_counts(mailbox)["INBOX"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "pop3://user:pw@mail.example.org/INBOX",
        "imaps://mail.example.org/INBOX",
        "imaps://user:pw@mail.example.org/INBOX?after=archive",
    ],
)
def test_a_bounce_folder_address_that_cannot_work_stops_the_start(url):
    with pytest.raises(ConfigError, match="BOUNCE_IMAP_URL"):
        from_environment({"BOUNCE_IMAP_URL": url})


def test_the_address_names_the_folder_and_what_happens_after():
    mailbox = ImapMailbox.from_url(
        "imaps://bounces%40example.org:p%40ss@mail.example.org/Bounces?after=move&move_to=Done"
    )
    assert (mailbox.username, mailbox.password, mailbox.port) == (
        "bounces@example.org",
        "p@ss",
        993,
    )
    assert (mailbox.folder, mailbox.after, mailbox.move_to) == ("Bounces", "move", "Done")
    settings = from_environment(
        {"BOUNCE_IMAP_URL": "imap://u:p@h/INBOX", "BOUNCE_IMAP_INTERVAL": "60"}
    )
    schedule = settings["CELERY"]["beat_schedule"]["read-bounce-mailbox"]
    assert (schedule["task"], schedule["schedule"]) == (
        "newsletter.tasks.read_bounce_mailbox",
        60.0,
    )
    assert "read-bounce-mailbox" not in from_environment({})["CELERY"]["beat_schedule"]


def test_the_task_reads_the_configured_folder(app, in_app, mailbox):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    deliver_to(mailbox, dsn(failed(), returned=original(message_id=ids[ANA])))
    app.config["BOUNCE_IMAP"] = mailbox
    try:
        in_app(tasks.read_bounce_mailbox.run)
    finally:
        app.config["BOUNCE_IMAP"] = None
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED


def test_a_worker_reads_the_folder_on_its_schedule(app, in_app, mailbox, workers, dovecot):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    workers(
        app,
        "bounce-reader",
        beat=True,
        BOUNCE_IMAP_URL=f"imap://{USER}:{PASSWORD}@127.0.0.1:{dovecot['imap']}/INBOX",
        BOUNCE_IMAP_INTERVAL=1,
    )
    time.sleep(1.5)  # at least one round over the empty folder first
    deliver_to(mailbox, dsn(failed(), returned=original(message_id=ids[ANA])))
    wait_until(lambda: in_app(person, ANA).status == SubscriberStatus.BOUNCED, 30, "the bounce")
    wait_until(lambda: folder_counts(mailbox).get("INBOX") == 0, 10, "the move")


def test_flask_bounces_fetch_reads_the_folder_once(app, in_app, mailbox):
    ids = sent_issue(in_app, (ANA, SubscriberStatus.CONFIRMED))
    deliver_to(mailbox, dsn(failed(), returned=original(message_id=ids[ANA])))
    runner = app.test_cli_runner()
    assert "BOUNCE_IMAP_URL" in runner.invoke(args=["bounces", "fetch"]).output
    app.config["BOUNCE_IMAP"] = mailbox
    try:
        output = runner.invoke(args=["bounces", "fetch"]).output
    finally:
        app.config["BOUNCE_IMAP"] = None
    assert "Messages read: 1" in output and "bounced: 1" in output
    assert in_app(person, ANA).status == SubscriberStatus.BOUNCED
