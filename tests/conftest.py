"""Fixtures: the app on SQLite and on PostgreSQL, a real Redis broker and Celery worker,
and a real SMTP server on loopback.

Every test that takes ``app`` runs once per database in ``TEST_DATABASES``. The schema is
built by the migrations. In CI (``CI=true``) a missing service fails the run; nothing is
skipped.
"""

import collections
import os
import re
import shutil
import threading
import uuid

import psycopg
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import before_task_publish, task_postrun
from flask_babel import force_locale, gettext
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from smtp import start_smtp_server
from werkzeug.serving import make_server

from newsletter import create_app
from newsletter.config import from_environment
from newsletter.extensions import db, limiter

DATABASES = os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",")
POSTGRES = os.environ.get("TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def require(service: str, check) -> None:
    try:
        check()
    except Exception as error:  # the service is down or unreachable
        pytest.exit(f"{service} is not available for the tests: {error}", returncode=3)


@pytest.fixture(scope="session")
def smtp():
    controller, handler = start_smtp_server()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    require("Redis", client.ping)
    return client


def _database_url(kind: str, tmp_path_factory) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        return f"sqlite:///{path}", lambda: None
    name = f"newsletter_test_{uuid.uuid4().hex[:12]}"
    require("PostgreSQL", lambda: psycopg.connect(f"{POSTGRES}/postgres").close())
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://{POSTGRES.split('://', 1)[1]}/{name}", drop


@pytest.fixture(scope="session", params=DATABASES)
def app(request, tmp_path_factory, smtp, redis_client):
    url, drop = _database_url(request.param, tmp_path_factory)
    run_id = uuid.uuid4().hex[:8]
    instance = tmp_path_factory.mktemp("instance")
    settings = from_environment(
        {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "INSTANCE_PATH": str(instance),
            "BASE_URL": "http://newsletter.test",
            "MAIL_FROM": "Newsletter <news@newsletter.test>",
            "CORS_ORIGINS": "https://partner.example",
            "SUBSCRIBE_LIMIT_PER_IP": "1000/minute",
            "SUBSCRIBE_LIMIT_PER_ADDRESS": "1000/minute",
            "CONFIRM_RESEND_INTERVAL": "0",
            "CELERY_QUEUE": f"test-{run_id}",
            # Campaigns go to worker processes the delivery tests start themselves.
            "DELIVERY_QUEUE": f"test-{run_id}-delivery",
        }
    )
    settings["TESTING"] = True
    settings["RATELIMIT_KEY_PREFIX"] = f"test-limits-{run_id}"
    # Resetting the limiter clears only this run's counters, not another run's on the same Redis.
    settings["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": f"test-limits-{run_id}"}
    app = create_app(settings)
    app.database_kind = request.param
    app.worker_env = {  # what a separate worker process needs to join this test run
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SMTP_URL": settings["SMTP_URL"],
        "INSTANCE_PATH": str(instance),
        "BASE_URL": settings["BASE_URL"],
        "MAIL_FROM": settings["MAIL_FROM"],
        "CELERY_QUEUE": f"test-{run_id}",
        "DELIVERY_QUEUE": f"test-{run_id}-delivery",
    }
    with app.app_context():
        upgrade()
    celery = app.extensions["celery"]
    with start_worker(
        celery,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[f"test-{run_id}"],
    ):
        yield app
    with app.app_context():
        db.engine.dispose()
    drop()
    shutil.rmtree(instance, ignore_errors=True)


class TasksInFlight:
    """Tasks this process published and its worker thread has not finished, by task id.

    A retry is published under the same id, so an id counts once per pending run.
    Campaign tasks go to worker processes (the delivery queue) and are not counted.
    A task is counted before it is sent: counted after, a quick task could finish first
    and leave its id pending for ever.
    """

    def __init__(self):
        self.pending: collections.Counter[str] = collections.Counter()
        self.changed = threading.Condition()
        before_task_publish.connect(self.published, weak=False)
        task_postrun.connect(self.finished, weak=False)

    def published(self, sender=None, headers=None, routing_key=None, **_kwargs):
        if routing_key and routing_key.endswith("-delivery"):
            return
        with self.changed:
            self.pending[(headers or {}).get("id")] += 1

    def finished(self, task_id=None, **_kwargs):
        with self.changed:
            if self.pending.get(task_id):
                self.pending[task_id] -= 1
                if not self.pending[task_id]:
                    del self.pending[task_id]
            self.changed.notify_all()

    def wait_idle(self, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: not self.pending, timeout):
                stuck = dict(self.pending)
                self.pending.clear()  # blame this test only, not every test after it
                raise AssertionError(f"tasks still running after the test: {stuck}")


TASKS = TasksInFlight()


@pytest.fixture(autouse=True)
def clean_state(request, smtp):
    """Each test starts with empty tables, fresh rate limits and an empty SMTP log.

    Tasks a test queued finish first, so none of them runs against the next test's rows.
    """
    yield
    TASKS.wait_idle()
    smtp.reset()
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        limiter.reset()
    shutil.rmtree(app.config["MAILBOX_PATH"], ignore_errors=True)


def tasks_done() -> None:
    """Wait until the tasks this process queued have run: a subscribe is decided in one."""
    TASKS.wait_idle()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def in_app(app):
    """Run a function in a fresh app context, as a request or task would.

    Tests never hold an app context open around client requests: Flask would share it
    (and ``g``, where the locale is cached) with every request made inside it.
    """

    def run(function, *args, **kwargs):
        with app.app_context():
            try:
                return function(*args, **kwargs)
            finally:
                db.session.remove()

    return run


@pytest.fixture
def translated(in_app):
    """The text as the catalog of ``lang`` has it."""

    def translate(lang: str, text: str, **variables) -> str:
        def inner():
            with force_locale(lang):
                return gettext(text, **variables)

        return in_app(inner)

    return translate


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on the page at ``url``, as a browser would send it."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client, email: str, password: str = "correct horse battery"):
    """Log ``client`` in through the login form; returns the response."""
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token}
    )


@pytest.fixture
def admin_client(app, in_app):
    """A test client logged in as an admin (admin@example.org)."""
    from factories import make_user

    in_app(make_user, "admin@example.org", "admin", name="Ada Admin")
    client = app.test_client()
    assert log_in(client, "admin@example.org").status_code == 302
    return client


@pytest.fixture
def editor_client(app, in_app):
    """A test client logged in as an editor (editor@example.org)."""
    from factories import make_user

    in_app(make_user, "editor@example.org", "editor", name="Eddie Editor")
    client = app.test_client()
    assert log_in(client, "editor@example.org").status_code == 302
    return client


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def live_server(app):
    """The app on a loopback port, mailing links to itself and keeping mail in the dev mailbox."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = {key: app.config[key] for key in ("BASE_URL", "SMTP_URL")}
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    app.config["SMTP_URL"] = None
    try:
        yield app.config["BASE_URL"]
    finally:
        app.config.update(saved)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
