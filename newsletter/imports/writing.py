"""The import a Celery worker runs: a chunk of rows per transaction, resumable.

Chunks keep each transaction short and let the job page show progress; the job row says
where to resume, so a redelivered or continued task picks up where the last one stopped.
On PostgreSQL a chunk is written by ``copying`` (COPY and set-based SQL); on SQLite, here,
with the rows looked up and written from Python.
"""

import time

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Consent,
    ConsentAction,
    ImportJob,
    ImportStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    new_token,
    utcnow,
)
from . import copying
from .analysis import LEFT, classify, settings_for
from .checks import Row, read_rows
from .jobs import fail, file_of, finish
from .reading import FileRefused, chunks

WORDING_VERSION = "import"
"""Recorded as the consent's wording: the editor attested consent given elsewhere."""


def _insert_new(rows: list[Row], source: str) -> dict[str, int]:
    """Insert new confirmed subscribers in one statement; their ids by address."""
    now = utcnow()
    db.session.execute(
        insert(Subscriber),
        [
            {
                "email": row.email,
                "name": row.name,
                "language": row.language,
                "second_language": row.second_language,
                "status": SubscriberStatus.CONFIRMED,
                "token": new_token(),
                "confirmed_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ],
    )
    return dict(
        db.session.execute(
            db.select(Subscriber.email, Subscriber.id).where(
                Subscriber.email.in_([row.email for row in rows])
            )
        ).all()
    )


def _update_existing(rows: list[Row], existing: dict[str, dict]) -> None:
    """Pending people become confirmed; a missing name is filled; nobody's languages change."""
    now = utcnow()
    values = []
    for row in rows:
        known = existing[row.email]
        values.append(
            {
                "id": known["id"],
                "name": known["name"] or row.name,
                "status": SubscriberStatus.CONFIRMED,
                "unsubscribed_at": None,
                "updated_at": now,
            }
        )
    db.session.execute(update(Subscriber), values)
    pending = [
        existing[row.email]["id"]
        for row in rows
        if existing[row.email]["status"] != SubscriberStatus.CONFIRMED
    ]
    if pending:
        db.session.execute(
            db.update(Subscriber)
            .where(Subscriber.id.in_(pending), Subscriber.confirmed_at.is_(None))
            .values(confirmed_at=now)
        )


def _add_subscriptions(ids: dict[str, int], rows: list[Row]) -> None:
    """Add each row's lists to its subscriber; lists are never taken away by an import."""
    wanted = {(ids[row.email], list_id) for row in rows for list_id in row.list_ids}
    have = set(
        db.session.execute(
            db.select(Subscription.subscriber_id, Subscription.list_id).where(
                Subscription.subscriber_id.in_(list(ids.values()))
            )
        ).all()
    )
    missing = sorted(wanted - have)
    if missing:
        now = utcnow()
        db.session.execute(
            insert(Subscription),
            [{"subscriber_id": s, "list_id": lst, "created_at": now} for s, lst in missing],
        )


def _record_consent(ids: dict[str, int], rows: list[Row], source: str) -> None:
    now = utcnow()
    db.session.execute(
        insert(Consent),
        [
            {
                "subscriber_id": ids[row.email],
                "action": ConsentAction.SUBSCRIBE,
                "created_at": now,
                "ip": None,
                "user_agent": None,
                "source": source,
                "list_ids": sorted(row.list_ids),
                "wording_version": WORDING_VERSION,
                "language": row.language,
            }
            for row in rows
        ],
    )


def _claim_chunk(job_id: int, start: int, size: int) -> bool:
    """Move the job's progress from ``start`` to ``start + size``, if nobody else did.

    Done first in the chunk's transaction, so on PostgreSQL it also locks the job's row
    against a second worker running the same job (a redelivered task).
    """
    result = db.session.execute(
        db.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.processed_rows == start)
        .values(processed_rows=start + size)
    )
    return result.rowcount == 1


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _plan_for_the_table_as_it_grows() -> None:
    """On PostgreSQL, plan each look-up for the table as it is now.

    psycopg prepares repeated statements; the server then settles on a generic plan made
    while the table was small (a sequential scan), which gets slower with every chunk an
    import adds (measured: 0.3 s per chunk at first, 3 s after 50,000 rows).
    """
    if _on_postgresql():
        db.session.execute(db.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _write_chunk(chunk: list[Row], source: str) -> tuple[int, int]:
    """The chunk row by row (SQLite); (created, updated)."""
    existing = classify(chunk)
    valid = [row for row in chunk if not row.problem]
    new = [row for row in valid if row.email not in existing]
    known = [row for row in valid if row.email in existing]
    ids = {email: known_row["id"] for email, known_row in existing.items()}
    if new:
        ids |= _insert_new(new, source)
    if known:
        _update_existing(known, existing)
    if valid:
        _add_subscriptions(ids, valid)
        _record_consent(ids, valid, source)
    return len(new), len(known)


def import_chunk(job_id: int, chunk: list[Row], source: str) -> tuple[int, int, int] | None:
    """Write one chunk in one transaction; (created, updated, skipped), or None when
    another worker already wrote it."""
    _plan_for_the_table_as_it_grows()
    if not _claim_chunk(job_id, chunk[0].index, len(chunk)):
        db.session.rollback()
        return None
    if _on_postgresql():
        checked = [row for row in chunk if not row.problem]
        created, updated = copying.write_chunk(checked, source, WORDING_VERSION, utcnow())
    else:
        created, updated = _write_chunk(chunk, source)
    counts = (created, updated, len(chunk) - created - updated)
    db.session.execute(
        db.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            created_count=ImportJob.created_count + counts[0],
            updated_count=ImportJob.updated_count + counts[1],
            skipped_count=ImportJob.skipped_count + counts[2],
        )
    )
    db.session.commit()
    return counts


def _import_chunk_retrying(job_id: int, chunk: list[Row], source: str, attempts: int = 3):
    """``import_chunk``, again when someone subscribed one of the addresses meanwhile."""
    for attempt in range(attempts):
        try:
            return import_chunk(job_id, chunk, source)
        except IntegrityError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
            for row in chunk:
                if row.problem not in (None, *LEFT.values(), "suppressed"):
                    continue
                row.problem = None  # checked against the database again
    return None


def run_import(job_id: int, seconds: float | None = None) -> bool:
    """Import the job's file from where it stands, a chunk per transaction.

    Returns True when time ran out (``seconds``) with rows left, so the caller can queue a
    continuation; the job's ``processed_rows`` says where to resume. Rows are checked again
    against the database: someone may have left or been erased since the dry run.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return False
    if not job.report.get("consent_confirmed_by"):
        fail(job, "no_consent")
        db.session.commit()
        return False
    job.status = ImportStatus.RUNNING
    start, source, settings = job.processed_rows, f"import:{job.id}", settings_for(job)
    path = file_of(job)
    db.session.commit()
    try:
        rows = (row for row in read_rows(path, settings) if row.index >= start)
        for chunk in chunks(rows, copying.CHUNK_SIZE if _on_postgresql() else None):
            if deadline is not None and chunk[0].index > start and time.monotonic() > deadline:
                return True  # at least one chunk per run, so every run makes progress
            if _import_chunk_retrying(job_id, chunk, source) is None:
                return False  # another worker has this job
    except (FileRefused, FileNotFoundError) as error:
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        fail(job, getattr(error, "code", "missing_file"), getattr(error, "line", None))
        db.session.commit()
        return False
    finish(job_id)
    return False
