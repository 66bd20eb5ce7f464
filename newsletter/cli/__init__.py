"""``flask`` commands: start the whole system, demo data, translations, issues, bounces."""

import os
import subprocess
import sys
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
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "newsletter.worker",
                "worker",
                "-B",
                "-n",
                "dev@%h",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
            ],
            env=env,
        )
        click.echo(f"\n  Stay informed page:  {base}/")
        if not current_app.config["SMTP_URL"]:
            click.echo(f"  Dev mailbox:         {base}/dev/mailbox/")
        click.echo(f"  Editors' UI:         {base}/admin/")
        if admin:
            click.echo(f"  Log in as:           {admin[0]} / {admin[1]}")
            click.echo("                       (shown until instance/first-admin.txt is deleted)")
        people = ", ".join(f"{p[0]} ({code})" for code, p in DEMO_PEOPLE.items())
        click.echo(f"  Demo subscribers:    {people}, and more\n")
        try:
            run_simple(host, port, current_app._get_current_object(), threaded=True)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
