"""The dry run: what an import of a file would create, update and skip, and why.

A worker runs it after the upload (``tasks.analyse_import``) while the job page polls the
rows checked so far. ``classify`` is the database's view of a chunk; the worker asks it
again before writing.
"""

from flask import current_app

from ..csv_export import FORMULA_PREFIXES
from ..extensions import db
from ..models import (
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
)
from .checks import Row, Settings, read_rows
from .jobs import fail, file_of
from .reading import FileRefused, chunks

MAX_LISTED_PROBLEMS = 200
"""Problems listed one by one in a report (all of them are counted)."""
ATTESTATION = ("consent_confirmed_by", "consent_confirmed_at")
"""What the upload wrote in the report (who confirmed that these people agreed, and when)."""


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


def _empty_report() -> dict:
    return {"counts": {}, "problems": [], "new": 0, "update": 0, "formula_names": 0}


def _count(report: dict, chunk: list[Row]) -> None:
    """Add one chunk of checked rows to the report, once the database has ruled on them."""
    updates = classify(chunk)
    for row in chunk:
        if row.problem:
            _note(report, row)
            continue
        report["update" if row.email in updates else "new"] += 1
        if row.name and row.name.startswith(FORMULA_PREFIXES):
            report["formula_names"] += 1


def _write_if_analysing(job_id: int, **values) -> bool:
    """Store ``values`` and commit, unless the job is no longer being analysed (another run
    of the task finished it)."""
    result = db.session.execute(
        db.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.ANALYSING)
        .values(**values)
    )
    db.session.commit()
    return result.rowcount == 1


def _refuse(job_id: int, code: str, line: int | None) -> None:
    """The file cannot be read as subscribers: the job fails and its file goes."""
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    if job is not None and job.status == ImportStatus.ANALYSING:
        fail(job, code, line)
        db.session.commit()


def analyse(job: ImportJob) -> None:
    """The dry run: count what an import of the job's file would create, update and skip.

    Never writes a subscriber. The rows checked so far (``total_rows``) are committed after
    every chunk, for the job page; at the end the job is ANALYSED with its report, which
    keeps the upload's consent attestation. Run again (a redelivered task), it starts over
    and gives the same report; a job no longer being analysed is left alone. A file that
    cannot be read at all fails the job with a code (``job.error``) and is deleted.
    """
    if job.status != ImportStatus.ANALYSING:
        return
    job_id, path, settings = job.id, file_of(job), settings_for(job)
    kept = {key: job.report[key] for key in ATTESTATION if key in job.report}
    report, header, total = _empty_report(), {}, 0
    try:
        for chunk in chunks(read_rows(path, settings, header)):
            _count(report, chunk)
            total += len(chunk)
            if not _write_if_analysing(job_id, total_rows=total):
                return
    except FileRefused as refused:
        _refuse(job_id, refused.code, refused.line)
        return
    except FileNotFoundError:
        _refuse(job_id, "missing_file", None)
        return
    report = kept | report | header
    _write_if_analysing(job_id, status=ImportStatus.ANALYSED, total_rows=total, report=report)
