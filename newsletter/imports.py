"""Subscribers from and to CSV files: analyse an upload, import it in chunks, export a list.

The rules, not the pages: nothing here reads a request. Problems are recorded as codes
(``invalid_email``, ``encoding`` ...) so that each editor reads the report in their own
language; the admin UI turns the codes into sentences.

File format (see the README): UTF-8 (a BOM is fine), comma-, semicolon- or tab-separated
(told from the header line), a header line naming an ``email`` column and optionally
``name``, ``language`` and ``lists`` (list slugs separated by ``|`` or ``;``).
"""

import codecs
import csv
import io
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TypeVar

from flask import current_app
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import (
    Consent,
    ConsentAction,
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    email_hash,
    new_token,
    utcnow,
)
from .subscriptions import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, InvalidEmail, normalize_email

T = TypeVar("T")

CHUNK_SIZE = 1000
"""Rows per transaction, in the analysis's look-ups and in the import."""
MAX_CELL_LENGTH = 1000
"""Longer cells are refused: nothing we store is that long, so they are junk or an attack."""
MAX_LISTED_PROBLEMS = 200
"""Problems listed one by one in a report (all of them are counted)."""
MAX_SHOWN_VALUE = 80
DELIMITERS = (",", ";", "\t")
LIST_SEPARATORS = ("|", ";")
COLUMNS = ("email", "name", "language", "lists")
ALIASES = {"e-mail": "email", "email address": "email", "mail": "email", "list": "lists"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
WORDING_VERSION = "import"
"""Recorded as the consent's wording: the editor attested consent given elsewhere."""


class FileRefused(Exception):
    """The whole file cannot be read as subscribers (code and, when known, line)."""

    def __init__(self, code: str, line: int | None = None):
        super().__init__(code, line)
        self.code = code
        self.line = line


@dataclass
class Row:
    """One data record of the file, checked on its own (not against the database)."""

    index: int  # 0-based among data records: what ``processed_rows`` counts
    line: int  # line in the file where the record starts (the header is line 1)
    email: str = ""
    name: str | None = None
    language: str = ""
    list_ids: set[int] = field(default_factory=set)
    problem: str | None = None
    value: str | None = None  # the offending text, for the report
    first_line: int | None = None  # for duplicates: where the address first appeared


@dataclass
class Settings:
    """What a row is checked against: the job's choices and the lists that exist."""

    languages: list[str]
    default_language: str
    list_ids: set[int]
    lists_by_slug: dict[str, int]


# --- Reading the file ---------------------------------------------------------------------


def import_folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_file_path() -> Path:
    """A fresh, unguessable place for an upload; the editor's file name is never used."""
    return import_folder() / f"{secrets.token_hex(16)}.csv"


def file_of(job: ImportJob) -> Path:
    return import_folder() / Path(job.path).name


CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def _refuse_binary(binary: BinaryIO) -> None:
    """A spreadsheet, image or archive uploaded by mistake: say so, not "not UTF-8"."""
    head = binary.read(8192)
    binary.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return  # refused with a message of its own
    control = CONTROL_BYTES.search(head)
    if control:
        raise FileRefused("binary", head.count(b"\n", 0, control.start()) + 1)


def _decoded_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text, refusing what is not UTF-8 text.

    Only UTF-8 is accepted (with or without a BOM): guessing a legacy encoding such as
    cp1252 would silently turn names into garbage, and an import is a record of consent.
    """
    for number, raw in enumerate(binary, 1):
        if number == 1:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise FileRefused("utf16")
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if b"\0" in raw:
            raise FileRefused("binary", number)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileRefused("encoding", number) from None


def _delimiter(header: str) -> str:
    """Comma, unless the header line uses semicolons or tabs (as some spreadsheets save)."""
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _records(binary: Iterable[bytes]) -> Iterator[tuple[int, list[str], str]]:
    """(start line, cells, delimiter) for every record, the header first."""
    lines = _decoded_lines(binary)
    first = next(lines, None)
    if first is None or not first.strip():
        raise FileRefused("empty")

    def all_lines():
        yield first
        yield from lines

    delimiter = _delimiter(first)
    reader = csv.reader(all_lines(), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells, delimiter
            start = reader.line_num + 1
    except csv.Error as error:
        code = "field_too_large" if "field limit" in str(error) else "malformed"
        raise FileRefused(code, start) from None


def _header(cells: list[str]) -> dict[str, int]:
    """Column positions by name; refuses a header without ``email``."""
    names = [cell.strip().lower() for cell in cells]
    names = [ALIASES.get(name, name) for name in names]
    positions = {}
    for position, name in enumerate(names):
        if name in COLUMNS and name not in positions:
            positions[name] = position
    if "email" not in positions:
        raise FileRefused("no_email_column")
    return positions


def unneutralized(value: str) -> str:
    """Undo ``neutralized``: a file we exported imports back as it was."""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def shown(value: str) -> str:
    """A cell as a report may show it: short, one line."""
    value = "".join(ch if ch.isprintable() else "\ufffd" for ch in value)
    return value if len(value) <= MAX_SHOWN_VALUE else value[: MAX_SHOWN_VALUE - 1] + "…"


def _cell(cells: list[str], positions: dict[str, int], name: str) -> str:
    position = positions.get(name)
    if position is None or position >= len(cells):
        return ""
    return unneutralized(cells[position].strip())


PLAIN_LOCAL_PART = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*")
MAX_LOCAL_PART_LENGTH = 64


class AddressChecker:
    """``normalize_email``, with each domain checked only once.

    The full check costs most of an analysis, and a file holds few distinct domains. An
    address whose domain already passed and whose local part is plain lower-case ASCII
    (letters, digits, ``_+-``, single inner dots) is one the full check accepts unchanged;
    anything else goes through it.
    """

    def __init__(self):
        self.domains: dict[str, str] = {}

    def __call__(self, raw: str) -> str:
        address = raw.strip().lower()
        local, _at, domain = address.rpartition("@")
        known = self.domains.get(domain)
        if (
            known is not None
            and len(address) <= MAX_EMAIL_LENGTH
            and len(local) <= MAX_LOCAL_PART_LENGTH
            and PLAIN_LOCAL_PART.fullmatch(local)
        ):
            return f"{local}@{known}"
        normalized = normalize_email(raw)
        self.domains.setdefault(domain, normalized.rpartition("@")[2])
        return normalized


def _check_email(row: Row, raw: str, checker: AddressChecker) -> None:
    if not raw:
        row.problem = "missing_email"
        return
    try:
        row.email = checker(raw)
    except InvalidEmail:
        local = raw.rpartition("@")[0]
        row.problem = "non_ascii_local" if local and not local.isascii() else "invalid_email"
        row.value = shown(raw)


def _check_name(row: Row, name: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        row.problem, row.value = "name_too_long", shown(name)
    elif any(not ch.isprintable() for ch in name):
        # CR/LF would let a name add mail headers somewhere; tabs and the like are junk.
        row.problem, row.value = "name_control", shown(name)
    else:
        row.name = name or None


def _check_language(row: Row, raw: str, settings: Settings) -> None:
    code = raw.lower().replace("_", "-").split("-")[0]
    if not raw:
        row.language = settings.default_language
    elif code in settings.languages:
        row.language = code
    else:
        row.problem, row.value = "unknown_language", shown(raw)


def _check_lists(row: Row, raw: str, settings: Settings) -> None:
    row.list_ids = set(settings.list_ids)
    for separator in LIST_SEPARATORS[1:]:
        raw = raw.replace(separator, LIST_SEPARATORS[0])
    for slug in filter(None, (part.strip().lower() for part in raw.split(LIST_SEPARATORS[0]))):
        if slug not in settings.lists_by_slug:
            row.problem, row.value = "unknown_list", shown(slug)
            return
        row.list_ids.add(settings.lists_by_slug[slug])
    if not row.list_ids:
        row.problem = "no_lists"


def check_row(
    index: int,
    line: int,
    cells: list[str],
    positions: dict[str, int],
    settings: Settings,
    checker: AddressChecker,
) -> Row:
    """One record checked for everything that does not need the database."""
    row = Row(index=index, line=line)
    if any(len(cell) > MAX_CELL_LENGTH for cell in cells):
        row.problem = "too_long"
        return row
    _check_email(row, _cell(cells, positions, "email"), checker)
    checks = (
        lambda: _check_name(row, _cell(cells, positions, "name")),
        lambda: _check_language(row, _cell(cells, positions, "language"), settings),
        lambda: _check_lists(row, _cell(cells, positions, "lists"), settings),
    )
    for check in checks:
        if row.problem:
            break
        check()
    return row


def read_rows(path: Path, settings: Settings, header: dict | None = None) -> Iterator[Row]:
    """Every data record of the file, checked, with duplicates marked (the first one wins).

    Streams the file; memory grows only with the set of addresses seen. When ``header``
    is a dict, it receives the columns found (for the report).
    """
    seen: dict[str, int] = {}
    with path.open("rb") as binary:
        _refuse_binary(binary)
        records = _records(binary)
        first = next(records, None)
        if first is None:
            raise FileRefused("empty")
        positions = _header(first[1])
        if header is not None:
            header["delimiter"] = first[2]
            header["columns"] = sorted(positions, key=positions.get)
            header["ignored"] = [
                shown(cell)
                for position, cell in enumerate(first[1])
                if position not in positions.values() and cell.strip()
            ][:20]
        index, checker = 0, AddressChecker()
        for line, cells, _delimiter in records:
            if not any(cell.strip() for cell in cells):
                continue
            row = check_row(index, line, cells, positions, settings, checker)
            index += 1
            if not row.problem:
                if row.email in seen:
                    row.problem, row.first_line = "duplicate", seen[row.email]
                else:
                    seen[row.email] = line
            yield row
    if index == 0:
        raise FileRefused("no_rows")


def chunks(rows: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """Lists of ``size`` (default ``CHUNK_SIZE``) items at a time."""
    size = size or CHUNK_SIZE
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- The database's view of a chunk -----------------------------------------------------


def settings_for(job: ImportJob) -> Settings:
    lists = db.session.execute(db.select(MailingList.slug, MailingList.id)).all()
    return Settings(
        languages=list(current_app.config["LANGUAGES"]),
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


# --- Analysis (the dry run) -------------------------------------------------------------


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


def fail(job: ImportJob, code: str, line: int | None = None) -> None:
    """The job cannot go on: keep the reason, drop the file (it holds personal data)."""
    job.status = ImportStatus.FAILED
    job.error = code
    job.report = (job.report or {}) | {"fatal": {"code": code, "line": line}}
    job.finished_at = utcnow()
    remove_file(job)


def remove_file(job: ImportJob) -> None:
    file_of(job).unlink(missing_ok=True)


# --- The import (run by a worker) -------------------------------------------------------


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
    """Pending people become confirmed; a missing name is filled; nobody's language changes."""
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


def _plan_for_the_table_as_it_grows() -> None:
    """On PostgreSQL, plan each look-up for the table as it is now.

    psycopg prepares repeated statements; the server then settles on a generic plan made
    while the table was small (a sequential scan), which gets slower with every chunk an
    import adds (measured: 0.3 s per chunk at first, 3 s after 50,000 rows).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def import_chunk(job_id: int, chunk: list[Row], source: str) -> tuple[int, int, int] | None:
    """Write one chunk in one transaction; (created, updated, skipped), or None when
    another worker already wrote it."""
    _plan_for_the_table_as_it_grows()
    if not _claim_chunk(job_id, chunk[0].index, len(chunk)):
        db.session.rollback()
        return None
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
    counts = (len(new), len(known), len(chunk) - len(valid))
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


def start_import(job: ImportJob) -> None:
    """The editor confirmed the dry run: the job waits for a worker."""
    job.status = ImportStatus.QUEUED
    job.processed_rows = job.created_count = job.updated_count = job.skipped_count = 0


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
        for chunk in chunks(rows):
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


def finish(job_id: int) -> None:
    job = db.session.get(ImportJob, job_id)
    job.status = ImportStatus.DONE
    job.finished_at = utcnow()
    remove_file(job)
    db.session.commit()


def mark_failed(job_id: int, code: str = "internal") -> None:
    """After an unexpected error: the job shows it failed instead of running for ever."""
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    if job is not None:
        fail(job, code)
        db.session.commit()


# --- Export -----------------------------------------------------------------------------

EXPORT_COLUMNS = ("email", "name", "language", "status", "lists", "created_at")


def neutralized(value: str) -> str:
    """A cell no spreadsheet will run as a formula (OWASP "CSV injection")."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    """The export as text, a batch of rows at a time (for a streamed response).

    Starts with a UTF-8 BOM so that spreadsheets read accents correctly; every cell is
    quoted and neutralized.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for batch in chunks(rows, CHUNK_SIZE):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([neutralized(str(cell)) for cell in row] for row in batch)
        yield buffer.getvalue()


def count_problems(report: dict) -> int:
    return sum(Counter(report.get("counts", {})).values())
