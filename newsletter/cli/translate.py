"""``flask translate``: extract, update and compile the gettext catalogs."""

import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from flask import Flask, current_app

from ..config import ROOT, TRANSLATIONS

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


def extract_to_temporary() -> Path:
    """Extract the current strings into a temporary .pot (used by the catalog test)."""
    output = Path(tempfile.mkdtemp()) / "messages.pot"
    extract_messages(output)
    return output


def register_translate_commands(app: Flask) -> None:
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
