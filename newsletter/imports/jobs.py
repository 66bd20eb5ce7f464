"""Where uploads are kept, and how an import job is queued, fails and ends."""

import secrets
from pathlib import Path

from flask import current_app

from ..extensions import db
from ..models import ImportJob, ImportStatus, utcnow


def import_folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_file_path() -> Path:
    """A fresh, unguessable place for an upload; the editor's file name is never used."""
    return import_folder() / f"{secrets.token_hex(16)}.csv"


def file_of(job: ImportJob) -> Path:
    return import_folder() / Path(job.path).name


def fail(job: ImportJob, code: str, line: int | None = None) -> None:
    """The job cannot go on: keep the reason, drop the file (it holds personal data)."""
    job.status = ImportStatus.FAILED
    job.error = code
    job.report = (job.report or {}) | {"fatal": {"code": code, "line": line}}
    job.finished_at = utcnow()
    remove_file(job)


def remove_file(job: ImportJob) -> None:
    file_of(job).unlink(missing_ok=True)


def start_import(job: ImportJob) -> None:
    """The editor confirmed the dry run: the job waits for a worker."""
    job.status = ImportStatus.QUEUED
    job.processed_rows = job.created_count = job.updated_count = job.skipped_count = 0


def finish(job_id: int) -> None:
    job = db.session.get(ImportJob, job_id)
    job.status = ImportStatus.DONE
    job.finished_at = utcnow()
    remove_file(job)
    db.session.commit()


def mark_failed(
    job_id: int, code: str = "internal", only_while: ImportStatus | None = None
) -> None:
    """After an unexpected error: the job shows it failed instead of running for ever.

    With ``only_while``, a job that has moved on from that status (another run of the task
    finished its part) is left as it is.
    """
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    if job is not None and only_while in (None, job.status):
        fail(job, code)
        db.session.commit()
