"""Fixtures: the app on SQLite and on PostgreSQL, Celery tasks run eagerly or by a real
worker through Redis, and a real SMTP server on loopback.

Every test that takes ``app`` runs once per database in ``TEST_DATABASES``. The schema is
built by the migrations. In CI (``CI=true``) a missing service fails the run; nothing is
skipped.

Two tiers, by marker (set here from the fixtures and files of a test, or marked by hand):
``integration`` tests need a real Celery worker, worker processes, the app installed or
started in subprocesses, or a Redis server of their own; ``browser`` tests drive headless
Chromium against a live server.
Both hand tasks to a real worker thread through Redis. Every other test runs the tasks of
the app's queue eagerly, in the caller's thread, and no worker is started for it. With
``-m "not integration ..."`` the tests run on SQLite only, unless ``TEST_DATABASES`` says
otherwise.
"""

import functools
import os
import shutil
import subprocess
import threading
import uuid
import warnings

import psycopg
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.exceptions import AlwaysEagerIgnored
from flask_babel import force_locale, gettext
from flask_migrate import upgrade
from helpers import TASKS, log_in
from playwright.sync_api import sync_playwright
from smtp import free_port, start_smtp_server
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server
from workers import WorkerProcess, wait_until

from newsletter import create_app, models, public_cache
from newsletter.config import from_environment
from newsletter.extensions import db, limiter

POSTGRES = os.environ.get("TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")

BROWSER_FIXTURES = {"browser", "live_server"}
INTEGRATION_FIXTURES = {"celery_worker", "worker", "workers", "private_redis"}
INTEGRATION_FILES = {
    "test_bounce_mailbox.py",
    "test_packaging.py",
    "test_workers.py",
    "test_zero_setup.py",
}


def databases_to_test(config) -> list[str]:
    """The databases each test runs on: both, or SQLite alone in the fast tier."""
    if "TEST_DATABASES" in os.environ:
        return os.environ["TEST_DATABASES"].split(",")
    if "not integration" in (config.option.markexpr or ""):
        return ["sqlite"]
    return ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc):
    if "app" in metafunc.fixturenames:
        databases = databases_to_test(metafunc.config)
        metafunc.parametrize("app", databases, indirect=True, scope="session")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & INTEGRATION_FIXTURES or item.path.name in INTEGRATION_FILES:
            item.add_marker(pytest.mark.integration)


def require(service: str, check) -> None:
    try:
        check()
    except Exception as error:  # the service is down or unreachable
        pytest.exit(f"{service} is not available for the tests: {error}", returncode=3)


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes():
    """Accounts made in tests get a one-round PBKDF2 hash instead of scrypt's ~80 ms, twice
    per logged-in test. Checking reads the method from the stored hash: nothing else changes.
    """
    quick = functools.partial(generate_password_hash, method="pbkdf2:sha256:1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "generate_password_hash", quick)
        yield


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


@pytest.fixture(scope="session")
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
    yield app
    with app.app_context():
        db.engine.dispose()
    drop()
    shutil.rmtree(instance, ignore_errors=True)


@pytest.fixture(scope="session")
def celery_worker(app):
    """A real Celery worker thread on the app's queue, fed through Redis."""
    celery = app.extensions["celery"]
    queue = celery.conf.task_default_queue
    with start_worker(
        celery, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[queue]
    ):
        yield


@pytest.fixture(autouse=True)
def task_runner(request, smtp, monkeypatch):
    """Who runs the tasks a test queues: a real worker for integration and browser tests;
    for the others the task runs at once in the caller's thread (Celery's eager mode), so
    its mail has arrived before ``delay`` returns.

    Campaign tasks still go to the delivery queue, which only worker processes consume:
    the tests drive a campaign themselves, batch by batch.
    """
    if "app" not in request.fixturenames:
        return
    if {marker.name for marker in request.node.iter_markers()} & {"integration", "browser"}:
        request.getfixturevalue("celery_worker")
        return
    celery = request.getfixturevalue("app").extensions["celery"]
    monkeypatch.setitem(celery.conf, "task_always_eager", True)
    for name, route in celery.conf.task_routes.items():
        if route["queue"] != celery.conf.task_default_queue:
            task = celery.tasks[name]
            monkeypatch.setattr(task, "apply_async", publisher(task))
    monkeypatch.setattr(smtp, "background", False)


def publisher(task):
    """``task.apply_async`` that sends the task to the broker, even in eager mode."""

    def apply_async(args=None, kwargs=None, **options):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlwaysEagerIgnored)  # not running it is the point
            return task.app.send_task(task.name, args, kwargs, **options)

    return apply_async


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
        # What the migrations seed: the default layout.
        db.session.add(models.Layout(name="Newsletter", is_default=True, header={}, footer={}))
        db.session.commit()
        limiter.reset()
        public_cache.changed()  # the rows went behind the sessions' back
    shutil.rmtree(app.config["MAILBOX_PATH"], ignore_errors=True)


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


@pytest.fixture
def pages(browser):
    """``pages(locale, width=1400)``: a new page in a context of its own (a person's
    browser), closed after the test."""
    opened = []

    def open_page(locale: str, width: int = 1400):
        context = browser.new_context(viewport={"width": width, "height": 1000}, locale=locale)
        context.set_default_timeout(15_000)
        opened.append(context)
        return context.new_page()

    yield open_page
    for context in opened:
        context.close()


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, which the test may restart or stop: its URL and
    ``change("restart" or "stop")``."""
    binary = shutil.which("redis-server")
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]

    def launch():
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=port)
        wait_until(lambda: _pings(client), 10, "redis")
        return process

    server = {"process": launch()}

    def change(what: str = "restart"):
        server["process"].kill()
        server["process"].wait()
        if what == "restart":
            server["process"] = launch()

    yield f"redis://127.0.0.1:{port}/0", change
    server["process"].kill()
    server["process"].wait()


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []

    def launch(app, name, **settings) -> WorkerProcess:
        worker = WorkerProcess(app, name, **settings)
        started.append(worker)
        return worker.wait_ready()

    yield launch
    for worker in started:
        worker.stop()
