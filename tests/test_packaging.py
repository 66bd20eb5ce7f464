"""The README's production recipe from a built wheel, installed outside the checkout.

Build the wheel, install it in a fresh virtual environment in a temporary folder, then
do what an operator does: compile the catalogs, migrate, serve under gunicorn with a real
Celery worker, and read a page in each language and a confirmation mail.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
TITLES = {
    "en": "Stay informed",
    "es": "Manténgase informado",
    "fr": "Restez informé",
    "de": "Bleiben Sie informiert",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed; its bin folder."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", folder, ROOT],
        check=True,
        cwd=folder,
    )
    [wheel] = folder.glob("newsletter-*.whl")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", wheel], check=True, cwd=folder)
    return venv / "bin"


def fetch(url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def wait_until_served(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            fetch(url)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"{url} was not served")


def test_installed_wheel_migrates_serves_every_language_and_mails(installed, tmp_path, smtp):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": f"{installed}:{os.environ['PATH']}",
        "FLASK_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/newsletter.db",
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": f"test-wheel-{uuid.uuid4().hex[:8]}",
        "BASE_URL": base,
        "MAIL_FROM": "Newsletter <news@example.org>",
    }

    def run(*command: str) -> None:
        subprocess.run(command, env=env, cwd=tmp_path, check=True, timeout=120)

    run("flask", "--app", "newsletter", "translate", "compile")
    run("flask", "--app", "newsletter", "db", "upgrade")
    run("flask", "--app", "newsletter", "demo")  # lists to subscribe to
    web = subprocess.Popen(
        ["gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "newsletter:create_app()"],
        env=env,
        cwd=tmp_path,
    )
    worker = subprocess.Popen(
        ["celery", "-A", "newsletter.worker", "worker", "-n", f"wheel-{port}@%h"]
        + ["--pool", "solo", "--loglevel", "WARNING"],
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_until_served(f"{base}/en/", web)
        for code, title in TITLES.items():
            status, page = fetch(f"{base}/{code}/")
            assert status == 200 and title in page and f'lang="{code}"' in page, code

        # An address of its own: the rate limits live in the shared Redis for an hour.
        address = f"paquete-{uuid.uuid4().hex[:8]}@example.org"
        body = json.dumps({"email": address, "language": "es", "lists": [1]}).encode()
        status, _answer = fetch(
            f"{base}/api/v1/subscribe", body, {"Content-Type": "application/json"}
        )
        assert status == 202
        [mail] = smtp.wait_for(1, timeout=60)
        assert mail.recipients == [address]
        assert mail.message["Subject"] == "Por favor, confirme su suscripción"
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            process.wait(timeout=30)
