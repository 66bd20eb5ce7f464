"""``flask bounces``: read bounce and complaint reports from a mailbox."""

import mailbox
from collections import Counter
from pathlib import Path

import click
from flask import Flask, current_app
from flask_babel import gettext as _

from ..bounces import UNATTRIBUTED, process_message
from ..extensions import db


def register_bounce_commands(app: Flask) -> None:
    @app.cli.group()
    def bounces() -> None:
        """Process bounce and complaint reports."""

    @bounces.command("import")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option("--delete", is_flag=True, help="Remove each message once it is processed.")
    def import_reports(path: Path, delete: bool) -> None:
        """Process the reports in an mbox file or a Maildir directory."""
        if path.is_dir():
            if not (path / "new").is_dir() or not (path / "cur").is_dir():
                raise click.BadParameter(
                    _("%(path)s is not a Maildir.", path=path), param_hint="PATH"
                )
            box = mailbox.Maildir(path, factory=None, create=False)
        else:
            box = mailbox.mbox(path, create=False)
        limit = current_app.config["SOFT_BOUNCE_LIMIT"]
        actions: Counter[str] = Counter()
        read = without_report = 0
        box.lock()
        try:
            for key in list(box.keys()):
                found = process_message(box.get_bytes(key), limit)
                # Commit each message before deleting it: a crash loses no work.
                db.session.commit()
                read += 1
                if not found:
                    without_report += 1
                actions.update(found)
                if delete:
                    box.remove(key)
            box.flush()
        finally:
            box.unlock()
            box.close()
        click.echo(_("Messages read: %(num)d", num=read))
        for action, count in sorted(actions.items()):
            click.echo(f"  {action}: {count}")
        if without_report:
            click.echo(_("Messages without a bounce or complaint: %(num)d", num=without_report))
        click.echo(
            _(
                "Reports not tied to one of our deliveries (recorded, not acted on): %(num)d",
                num=actions[UNATTRIBUTED],
            )
        )
        if delete:
            click.echo(_("Messages deleted: %(num)d", num=read))
