"""The dry run: what an import of a file would create, update and skip, and why.

``classify`` is the database's view of a chunk; the worker asks it again before writing.
"""

from flask import current_app

from ..csv_export import FORMULA_PREFIXES
from ..extensions import db
from ..models import ImportJob, MailingList, Subscriber, SubscriberStatus, Suppression, email_hash
from .checks import Row, Settings, read_rows
from .jobs import fail, file_of
from .reading import FileRefused, chunks

MAX_LISTED_PROBLEMS = 200
"""Problems listed one by one in a report (all of them are counted)."""


def settings_for(job: ImportJob) -> Settings:
    lists = db.session.execute(db.select(MailingList.slug, MailingList.id)).all()
    return Settings(
        languages=list(current_app.config["READER_LANGUAGES"]),
        default_language=job.language,
        list_ids=set(job.list_ids),
        lists_by_slug={slug.lower(): list_id for slug, list_id in lists},
    )


def _suppressed(emails: list[str]) -> set[str]:
    by_hash = {email_hash(email): email for email in emails}
    found = db.session.execute(
        db.select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash)))
    ).scalars()
    return {by_hash[digest] for digest in found}


def _existing(emails: list[str]) -> dict[str, tuple[int, SubscriberStatus, str | None]]:
    rows = db.session.execute(
        db.select(Subscriber.email, Subscriber.id, Subscriber.status, Subscriber.name).where(
            Subscriber.email.in_(emails)
        )
    ).all()
    return {email: (sub_id, status, name) for email, sub_id, status, name in rows}


LEFT = {
    SubscriberStatus.UNSUBSCRIBED: "unsubscribed",
    SubscriberStatus.BOUNCED: "bounced",
    SubscriberStatus.COMPLAINED: "complained",
}
"""Existing subscribers an import must not subscribe again: only they can."""


def classify(chunk: list[Row]) -> dict[str, dict]:
    """Mark rows the database rules out; return the existing subscribers to update."""
    valid = [row for row in chunk if not row.problem]
    emails = [row.email for row in valid]
    suppressed = _suppressed(emails) if emails else set()
    existing = _existing(emails) if emails else {}
    updates = {}
    for row in valid:
        if row.email in suppressed:
            row.problem = "suppressed"
        elif row.email in existing:
            sub_id, status, name = existing[row.email]
            if status in LEFT:
                row.problem = LEFT[status]
            else:
                updates[row.email] = {"id": sub_id, "status": status, "name": name}
    return updates


def _note(report: dict, row: Row) -> None:
    report["counts"][row.problem] = report["counts"].get(row.problem, 0) + 1
    if len(report["problems"]) < MAX_LISTED_PROBLEMS:
        problem = {"line": row.line, "code": row.problem}
        if row.value is not None:
            problem["value"] = row.value
        if row.first_line is not None:
            problem["first_line"] = row.first_line
        report["problems"].append(problem)


def analyse(job: ImportJob) -> None:
    """The dry run: count what an import of the job's file would create, update and skip.

    Never writes a subscriber. A file that cannot be read at all fails the job with a code
    (``job.error``) and is deleted.
    """
    report: dict = {"counts": {}, "problems": [], "new": 0, "update": 0, "formula_names": 0}
    header: dict = {}
    total = 0
    try:
        for chunk in chunks(read_rows(file_of(job), settings_for(job), header)):
            total += len(chunk)
            updates = classify(chunk)
            for row in chunk:
                if row.problem:
                    _note(report, row)
                    continue
                report["update" if row.email in updates else "new"] += 1
                if row.name and row.name.startswith(FORMULA_PREFIXES):
                    report["formula_names"] += 1
    except FileRefused as refused:
        fail(job, refused.code, refused.line)
        return
    job.report = report | header
    job.total_rows = total
