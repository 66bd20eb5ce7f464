"""Translators: who may write which language, and the mail that tells them the source of
an issue changed.

A translator writes the variants of the languages given to them and reads every other;
editors and admins write every language. When the source (the default language's text) of
an editable issue changes, its translators are told once the source has rested for
``TRANSLATOR_MAIL_INTERVAL`` seconds: every change in that time goes into one mail, so an
issue mails each translator at most once per interval.
"""

import smtplib
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .extensions import db
from .i18n import language_name
from .links import external_url
from .mail.message import build_message
from .mail.render import render_email
from .mail.transport import send_message
from .models import Issue, IssueStatus, Role, User, utcnow


def may_write(user: User | None, language: str) -> bool:
    """Whether ``user`` may change the text in ``language``."""
    if user is None or not user.is_authenticated:
        return False
    if user.role == Role.TRANSLATOR:
        return language in (user.translation_languages or [])
    return True


def writable_languages(user: User) -> list[str]:
    """The configured languages ``user`` may write, in the configured order."""
    return [code for code in current_app.config["LANGUAGES"] if may_write(user, code)]


def active_translators() -> list[User]:
    return list(
        db.session.execute(
            db.select(User).where(User.role == Role.TRANSLATOR, User.active).order_by(User.id)
        ).scalars()
    )


def note_source_change(issue: Issue) -> None:
    """The source changed: its translators are told after the interval (if not already due)."""
    if issue.translators_due_at is None:
        interval = timedelta(seconds=current_app.config["TRANSLATOR_MAIL_INTERVAL"])
        issue.translators_due_at = utcnow() + interval


def tell_due_translators(now: datetime | None = None) -> int:
    """Mail the translators of every issue whose notice is due; returns the mails sent.

    An issue's notice is cleared only after all of its mails went out: a relay that is
    down or refuses leaves it due, and the next run sends it again (to everyone).
    """
    now = now or utcnow()
    query = db.select(Issue.id).where(Issue.translators_due_at <= now).order_by(Issue.id)
    sent = 0
    for issue_id in db.session.execute(query).scalars().all():
        issue = db.session.execute(
            db.select(Issue)
            .where(Issue.id == issue_id, Issue.translators_due_at <= now)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if issue is None:
            continue  # another worker has it
        if issue.status in (IssueStatus.DRAFT, IssueStatus.SCHEDULED):
            try:
                for message in translator_mails(issue):
                    send_message(message)
                    sent += 1
            except (smtplib.SMTPException, OSError) as error:
                db.session.rollback()
                current_app.logger.warning("Translators of issue %s not told: %s", issue_id, error)
                continue
        issue.translators_due_at = None
        db.session.commit()
    return sent


def translator_mails(issue: Issue):
    """One mail per translator whose languages of ``issue`` are stale, in their own UI
    language, linking to what changed in the source for each."""
    from .translation_status import is_stale  # it builds on campaigns, which imports us

    stale = {v.language for v in issue.variants if is_stale(issue, v)}
    for user in active_translators():
        languages = [code for code in user.translation_languages or [] if code in stale]
        if not languages:
            continue
        with force_locale(user.language):
            changes = [
                (
                    language_name(code),
                    external_url("admin.translation_source_changes", issue_id=issue.id, lang=code),
                )
                for code in languages
            ]
            rendered = render_email(
                "translators",
                subject=_("The source of “%(name)s” changed", name=issue.name),
                issue_name=issue.name,
                source_language=language_name(issue.default_language),
                changes=changes,
            )
        yield build_message(
            rendered,
            mail_from=current_app.config["MAIL_FROM"],
            to_email=user.email,
            to_name=user.name,
            language=user.language,
        )
