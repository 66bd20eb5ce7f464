"""``flask issues``: write, test, send and follow an issue without the web UI."""

import time
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app

from .. import campaign_control, campaign_progress, campaigns, delivery
from ..extensions import db
from ..models import Fallback, Issue, MailingList


def read_variant(path: Path) -> tuple[str, str, str]:
    """A Markdown file whose first lines are ``Subject:`` and optionally ``Preheader:``."""
    subject = preheader = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    while (
        lines
        and ":" in lines[0]
        and lines[0].split(":", 1)[0].lower()
        in (
            "subject",
            "preheader",
        )
    ):
        key, value = lines.pop(0).split(":", 1)
        if key.lower() == "subject":
            subject = value.strip()
        else:
            preheader = value.strip()
    return subject, preheader, "\n".join(lines).strip() + "\n"


def load_issue(issue_id: int) -> Issue:
    issue = db.session.get(Issue, issue_id)
    if issue is None:
        raise click.ClickException(f"There is no issue {issue_id}.")
    return issue


def control(action, issue_id: int, *args):
    """Run a ``campaign_control`` action; a refusal becomes the command's error message."""
    load_issue(issue_id)
    try:
        return action(issue_id, *args)
    except campaigns.CampaignError as error:
        raise click.ClickException(str(error)) from None


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "█" * filled + "·" * (width - filled)


def render_progress(issue: Issue) -> str:
    report = campaign_progress.progress(issue.id)
    lines = [f"Issue {issue.id} “{issue.name}”: {issue.status.value}"]
    header = f"{'':4}{'':32}{'sent':>8}{'failed':>8}{'skipped':>9}{'remaining':>11}"
    lines.append(header)
    parts = sorted(report.languages.items()) + [("all", report.overall)]
    for language, part in parts:
        finished = part.sent + part.failed + part.skipped
        lines.append(
            f"{language:4}{bar(finished, part.total):32}{part.sent:>8}{part.failed:>8}"
            f"{part.skipped:>9}{part.remaining:>11}"
        )
    lines.append(f"rate: {report.rate:.0f} messages/s over the last {report.window} s")
    preparing = campaign_progress.preparation(issue)
    if preparing:
        lines.append(f"preparing: {preparing.written:,} of {preparing.total:,} recipients written")
    return "\n".join(lines)


def register_issue_commands(app: Flask) -> None:
    @app.cli.group()
    def issues() -> None:
        """Create, test, send, pause, resume, cancel and follow issues."""

    @issues.command("list")
    def list_issues() -> None:
        """Every issue with its state."""
        for issue in db.session.execute(db.select(Issue).order_by(Issue.id)).scalars():
            languages = ",".join(v.language for v in issue.variants)
            click.echo(f"{issue.id:>5}  {issue.status.value:<10} {languages:<12} {issue.name}")

    @issues.command()
    @click.option("--name", required=True, help="Internal name of the issue.")
    @click.option("--lists", "slugs", required=True, help="Comma-separated list slugs.")
    @click.option("--default-language", default=None, help="Defaults to DEFAULT_LANGUAGE.")
    @click.option(
        "--fallback",
        type=click.Choice([f.value for f in Fallback]),
        default=Fallback.DEFAULT.value,
        help="Subscribers whose language has no variant get the default one, or are skipped.",
    )
    @click.option("--only-languages", default="", help="Send only to these languages.")
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    def create(name, slugs, default_language, fallback, only_languages, files) -> None:
        """Create an issue from Markdown files named by language (en.md, es.md, ...)."""
        wanted = [slug.strip() for slug in slugs.split(",") if slug.strip()]
        lists = (
            db.session.execute(db.select(MailingList).where(MailingList.slug.in_(wanted)))
            .scalars()
            .all()
        )
        missing = set(wanted) - {item.slug for item in lists}
        if missing:
            raise click.ClickException(f"Unknown lists: {', '.join(sorted(missing))}.")
        try:
            issue = campaigns.create_issue(
                name,
                default_language or current_app.config["DEFAULT_LANGUAGE"],
                {item.id for item in lists},
                Fallback(fallback),
                [code.strip() for code in only_languages.split(",") if code.strip()] or None,
            )
            for path in files:
                subject, preheader, body = read_variant(path)
                campaigns.set_variant(issue, path.stem, subject, body, preheader)
            db.session.commit()
        except campaigns.CampaignError as error:
            db.session.rollback()
            raise click.ClickException(f"{error}") from None
        click.echo(f"Created issue {issue.id} with {len(files)} language variant(s).")

    @issues.command()
    @click.argument("issue_id", type=int)
    @click.option("--to", "address", required=True, help="Where to send the test.")
    @click.option("--language", required=True, help="Which variant to send.")
    def test(issue_id: int, address: str, language: str) -> None:
        """Send one test message of a variant to any address."""
        issue = load_issue(issue_id)
        try:
            delivery.send_test(issue, language, address)
        except (campaigns.CampaignError, ValueError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Sent the {language} variant of issue {issue_id} to {address}.")

    @issues.command()
    @click.argument("issue_id", type=int)
    @click.option(
        "--at",
        "when",
        type=click.DateTime(),
        default=None,
        help="Schedule for this time (UTC) instead of sending now.",
    )
    def send(issue_id: int, when: datetime | None) -> None:
        """Send now, or schedule."""
        if when is not None:
            control(campaign_control.schedule, issue_id, when)
            click.echo(f"Issue {issue_id} is scheduled for {when:%Y-%m-%d %H:%M} UTC.")
            return
        count = control(campaign_control.send_now, issue_id)
        click.echo(f"Issue {issue_id} is being sent to {count} subscribers.")

    @issues.command()
    @click.argument("issue_id", type=int)
    def pause(issue_id: int) -> None:
        """Stop sending after the current batch."""
        control(campaign_control.pause, issue_id)
        click.echo(f"Issue {issue_id} is paused.")

    @issues.command()
    @click.argument("issue_id", type=int)
    def resume(issue_id: int) -> None:
        """Continue a paused issue."""
        control(campaign_control.resume, issue_id)
        click.echo(f"Issue {issue_id} is sending again.")

    @issues.command()
    @click.argument("issue_id", type=int)
    def cancel(issue_id: int) -> None:
        """Stop for good; nothing more is sent after the current batch."""
        control(campaign_control.cancel, issue_id)
        click.echo(f"Issue {issue_id} is cancelled.")

    @issues.command("resend-failed")
    @click.argument("issue_id", type=int)
    def resend_failed(issue_id: int) -> None:
        """Queue the failed deliveries again, and only those."""
        count = control(campaign_control.resend_failed, issue_id)
        click.echo(f"{count} failed deliveries of issue {issue_id} are queued again.")

    @issues.command()
    @click.argument("issue_id", type=int)
    @click.option("--watch", is_flag=True, help="Refresh every second until it is done.")
    def status(issue_id: int, watch: bool) -> None:
        """Progress per language: sent, failed, skipped, remaining, rate."""
        while True:
            issue = load_issue(issue_id)
            text = render_progress(issue)
            if not watch:
                click.echo(text)
                return
            click.clear()
            click.echo(text)
            if issue.status.value in ("sent", "cancelled", "draft"):
                return
            db.session.rollback()
            time.sleep(1)
