"""``flask`` commands: start the whole system, demo data, translations, issues, bounces."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from ..demo import DEMO_PEOPLE, ensure_demo_admin, seed_demo
from .bounces import register_bounce_commands
from .issues import register_issue_commands
from .tokens import register_token_commands
from .translate import register_translate_commands
from .users import register_user_commands


def register_commands(app: Flask) -> None:
    register_translate_commands(app)
    register_issue_commands(app)
    register_bounce_commands(app)
    register_user_commands(app)
    register_token_commands(app)

    @app.cli.command("demo")
    def demo() -> None:
        """Create demo lists and subscribers (once)."""
        click.echo("Demo data created." if seed_demo() else "Demo data already present.")

    @app.cli.command("start")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    def start(host: str, port: int) -> None:
        """Start the whole system: database, demo data, a Celery worker and the web app."""
        upgrade()
        seed_demo()
        admin = ensure_demo_admin(Path(current_app.instance_path) / "first-admin.txt")
        env = dict(os.environ)
        # Links in mails point at this server unless BASE_URL says otherwise.
        env.setdefault("BASE_URL", f"http://{host}:{port}")
        current_app.config["BASE_URL"] = base = env["BASE_URL"].rstrip("/")
        # -B: the worker also runs the campaign watcher (scheduled issues, stalled ones).
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "newsletter.worker", "worker", "-B"]
            + ["-n", "dev@%h", "--pool", "solo", "--loglevel", "INFO"],
            env=env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        summary = _summary(base, admin, mailbox=not current_app.config["SMTP_URL"])
        threading.Thread(target=_relay_until_ready, args=(worker, summary), daemon=True).start()
        # SIGTERM (a service manager, `kill`) ends the server like Ctrl-C, so the worker
        # is stopped below rather than left running.
        signal.signal(signal.SIGTERM, _exit)
        try:
            run_simple(host, port, current_app._get_current_object(), threaded=True)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


def _exit(_signum, _frame) -> None:
    raise SystemExit(0)


def _summary(base: str, admin: tuple[str, str] | None, mailbox: bool) -> str:
    lines = [f"\n  Stay informed page:  {base}/"]
    if mailbox:
        lines.append(f"  Dev mailbox:         {base}/dev/mailbox/")
    lines.append(f"  Editors' UI:         {base}/admin/")
    people = ", ".join(f"{p[0]} ({code})" for code, p in DEMO_PEOPLE.items())
    lines.append(f"  Demo subscribers:    {people}, and more")
    if admin:
        lines.append(f"  Log in as:           {admin[0]} / {admin[1]}")
        lines.append("                       (shown until instance/first-admin.txt is deleted)")
    return "\n".join(lines) + "\n"


def _relay_until_ready(worker: subprocess.Popen, summary: str) -> None:
    """Pass the worker's output on; print the summary once it is ready, where it is seen."""
    shown = False
    for line in worker.stdout:
        sys.stdout.write(line)
        if not shown and " ready." in line:
            click.echo(summary)
            shown = True
    if not shown:
        click.echo(summary)
