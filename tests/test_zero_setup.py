"""The zero-setup start: ``flask start`` runs web, worker and dev mailbox with no services."""

import contextlib
import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from smtp import free_port

from newsletter.config import ConfigError, from_environment

ROOT = Path(__file__).resolve().parent.parent


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def started_system(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "SECRET_KEY", "FLASK_ENV")
    }
    env.update(INSTANCE_PATH=str(tmp_path), FLASK_APP="newsletter")
    env.pop("BASE_URL", None)  # the default must point mail links at the started server
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "start", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def answers():
        try:
            return opener.open(base + "/en/", timeout=2).status == 200
        except OSError:
            return process.poll() is not None and pytest.fail(process.stdout.read())

    try:
        wait_until(answers, 60, "the web app")
        yield base, opener, process
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have stopped it
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_flask_start_runs_the_whole_flow_without_any_service(started_system):
    base, opener, _process = started_system
    page = opener.open(base + "/de/").read().decode()
    assert "Newsletter" in page and "Veranstaltungen" in page, "demo lists in German"
    events_page = opener.open(base + "/de/events").read().decode()
    assert "Frühjahrsseminar zu Arbeitsrechten" in events_page, "the demo event in German"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    list_id = re.search(r'name="lists" value="(\d+)"', page)[1]
    form = urllib.parse.urlencode(
        {"csrf_token": token, "email": "neu@example.org", "language": "de", "lists": list_id}
    ).encode()
    assert opener.open(base + "/de/", data=form).status == 200

    def confirmation_arrived():
        inbox = opener.open(base + "/dev/mailbox/").read().decode()
        return "neu@example.org" in inbox and inbox

    inbox = wait_until(confirmation_arrived, 30, "the confirmation in the dev mailbox")
    message_id = re.search(r'href="/dev/mailbox/([0-9a-f]{32})"', inbox)[1]
    message = opener.open(f"{base}/dev/mailbox/{message_id}").read().decode()
    confirm_url = re.search(rf'href="({re.escape(base)}/de/confirm/[^"]+)"', message)[1]
    confirm_page = opener.open(confirm_url).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm_page)[1]
    done = opener.open(confirm_url, data=urllib.parse.urlencode({"csrf_token": token}).encode())
    assert '<html lang="de" dir="ltr">' in done.read().decode()

    def welcome_arrived():
        return (
            "Willkommen bei unserem Newsletter"
            in opener.open(base + "/dev/mailbox/").read().decode()
        )

    wait_until(welcome_arrived, 60, "the demo welcome, in German, in the dev mailbox")


def test_flask_start_creates_the_first_admin_who_can_log_in(started_system, tmp_path):
    base, opener, _process = started_system
    email, password = (tmp_path / "first-admin.txt").read_text().split()
    login = opener.open(base + "/admin/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)[1]
    form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    dashboard = opener.open(base + "/admin/login", data=form.encode())
    assert dashboard.url == base + "/admin/"
    page = dashboard.read().decode()
    assert "Dashboard" in page and "Subscribers by language" in page


def test_sigterm_stops_flask_start_and_its_worker_and_the_login_was_printed_last(
    started_system,
):
    _base, _opener, process = started_system
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    wait_until(lambda: any("Log in as:" in line for line in lines), 60, "the login to be shown")
    output = "".join(lines)
    ready = output.index(" ready.")
    assert output.index("Log in as:") > ready, "the login is printed after the worker's banner"
    assert output.index("Editors' UI:") > ready

    process.send_signal(signal.SIGTERM)  # to flask start only, as a service manager would
    process.wait(timeout=40)

    def group_is_empty():
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(group_is_empty, 15, "every child of flask start to stop")


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ConfigError):
        from_environment({"FLASK_ENV": "production"})
    with pytest.raises(ConfigError):
        from_environment({"FLASK_ENV": "production", "SECRET_KEY": "dev-only-not-secret"})
    settings = from_environment(
        {"FLASK_ENV": "production", "SECRET_KEY": "x" * 40, "SMTP_URL": "smtp://relay:25"}
    )
    assert settings["SECRET_KEY"] == "x" * 40


def _flask_routes(tmp_path, **env):
    """``flask routes`` as an operator would run it, with only ``env`` set."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "newsletter", "routes"],
        env={
            "PATH": os.environ["PATH"],
            "INSTANCE_PATH": str(tmp_path),
            "FLASK_ENV": "production",
            "SECRET_KEY": "x" * 40,
        }
        | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_mail_relay(tmp_path):
    refused = _flask_routes(tmp_path)
    assert refused.returncode != 0
    assert "SMTP_URL must name the mail relay in production" in refused.stderr


def test_production_does_not_route_the_dev_mailbox(tmp_path):
    started = _flask_routes(tmp_path, SMTP_URL="smtp://127.0.0.1:25")
    assert started.returncode == 0, started.stderr
    assert "/admin/login" in started.stdout
    assert "/dev/mailbox" not in started.stdout
    assert "/dev/mailbox" in _flask_routes(tmp_path, FLASK_ENV="development").stdout


def test_default_language_must_be_offered():
    with pytest.raises(ConfigError):
        from_environment({"LANGUAGES": "en,es", "DEFAULT_LANGUAGE": "de"})


def test_zero_setup_uses_sqlite_and_a_serverless_broker(tmp_path):
    settings = from_environment({"INSTANCE_PATH": str(tmp_path)})
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/newsletter.db"
    assert settings["CELERY"]["broker_url"] == "filesystem://"
    assert settings["SMTP_URL"] is None
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
