"""``flask bounces``: read bounce and complaint reports from a mailbox."""

import mailbox
from pathlib import Path

import click
from flask import Flask, current_app
from flask_babel import gettext as _

from ..bounce_mailbox import Tally, read_imap


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
        tally = Tally()
        box.lock()
        try:
            for key in list(box.keys()):
                tally.add(box.get_bytes(key), limit)  # committed before it is deleted
                if delete:
                    box.remove(key)
            box.flush()
        finally:
            box.unlock()
            box.close()
        echo_tally(tally)
        if delete:
            click.echo(_("Messages deleted: %(num)d", num=tally.read))

    @bounces.command("fetch")
    def fetch_reports() -> None:
        """Process the reports in the IMAP folder of BOUNCE_IMAP_URL now."""
        mailbox_settings = current_app.config["BOUNCE_IMAP"]
        if mailbox_settings is None:
            raise click.UsageError(_("BOUNCE_IMAP_URL is not set."))
        echo_tally(read_imap(mailbox_settings, current_app.config["SOFT_BOUNCE_LIMIT"]))


def echo_tally(tally: Tally) -> None:
    click.echo(_("Messages read: %(num)d", num=tally.read))
    for action, count in sorted(tally.actions.items()):
        click.echo(f"  {action}: {count}")
    if tally.without_report:
        click.echo(_("Messages without a bounce or complaint: %(num)d", num=tally.without_report))
    click.echo(
        _(
            "Reports not tied to one of our deliveries (recorded, not acted on): %(num)d",
            num=tally.unattributed,
        )
    )
