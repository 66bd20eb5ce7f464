"""``flask`` commands: start the whole system, seed demo data, manage translations."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface
from flask import Flask, current_app
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from .config import ROOT
from .demo import DEMO_PEOPLE, seed_demo

TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract_messages(output: Path) -> None:
    pybabel(
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-k",
        "_l",
        "--no-location",
        "--omit-header",
        "--sort-output",
        "-o",
        str(output),
        str(ROOT),
    )


def register_commands(app: Flask) -> None:
    @app.cli.group()
    def translate() -> None:
        """Extract, update and compile the gettext catalogs in translations/."""

    @translate.command()
    def extract() -> None:
        """Write translations/messages.pot from the code and templates."""
        extract_messages(POT)

    @translate.command()
    def update() -> None:
        """Extract, then merge new strings into every catalog."""
        extract_messages(POT)
        pybabel(
            "update",
            "-i",
            str(POT),
            "-d",
            str(TRANSLATIONS),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        )

    @translate.command()
    def compile() -> None:
        """Compile the catalogs into .mo files (done by install, start and test)."""
        pybabel("compile", "-d", str(TRANSLATIONS))

    @translate.command()
    def init() -> None:
        """Create catalogs for languages in LANGUAGES that have none yet."""
        for code in current_app.config["LANGUAGES"]:
            if code != "en" and not (TRANSLATIONS / code).exists():
                pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", code)

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
        env = dict(os.environ)
        # Links in mails point at this server unless BASE_URL says otherwise.
        env.setdefault("BASE_URL", f"http://{host}:{port}")
        current_app.config["BASE_URL"] = base = env["BASE_URL"].rstrip("/")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker",
                "worker",
                "-n",
                "dev@%h",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
        )
        click.echo(f"\n  Stay informed page:  {base}/")
        if not current_app.config["SMTP_URL"]:
            click.echo(f"  Dev mailbox:         {base}/dev/mailbox/")
        people = ", ".join(f"{p[0]} ({code})" for code, p in DEMO_PEOPLE.items())
        click.echo(f"  Demo subscribers:    {people}, and more\n")
        try:
            run_simple(host, port, current_app._get_current_object(), threaded=True)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def extract_to_temporary() -> Path:
    """Extract the current strings into a temporary .pot (used by the catalog test)."""
    output = Path(tempfile.mkdtemp()) / "messages.pot"
    extract_messages(output)
    return output
