"""CSV import benchmark: analyse and import a large file against PostgreSQL.

Builds a scratch database with the app's migrations, seeds a few existing subscribers
and suppressed addresses, writes an N-row CSV (with some invalid rows, duplicates and
formula-like names), then times the dry run and the import (what the Celery tasks do, chunk
by chunk), and checks the result in the database. It also
times the subscriber list's queries and the CSV export at that size.

    .venv/bin/python benchmarks/import.py [--rows 100000]
"""

import argparse
import contextlib
import csv
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter import create_app  # noqa: E402
from newsletter.config import from_environment  # noqa: E402
from newsletter.csv_export import csv_lines  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.imports import analysis, copying, jobs, writing  # noqa: E402
from newsletter.models import (  # noqa: E402
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
)
from newsletter.subscriber_queries import (  # noqa: E402
    SubscriberFilter,
    count_matching,
    export_rows,
    subscriber_page,
)

FIRST = ["Ana", "Jürgen", "Zoë", "Amélie", "John", "María", "Léa", "=Bob"]
LAST = ["García", "Müller", "Dubois", "Smith", "Núñez"]
LANGUAGES = ["en", "es", "fr", "de", ""]
IMPORT_TARGET = 50_000
"""Rows per second the import is meant to reach on PostgreSQL."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def scratch_database(server: str, name: str):
    """Yield the SQLAlchemy URL of a new, empty database; drop it afterwards."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{server.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_csv(path: Path, rows: int) -> dict[str, int]:
    """N data rows: 1 in 200 invalid, 1 in 200 a duplicate; what each kind should become."""
    expected = {"invalid": 0, "duplicate": 0}
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,language,lists\r\n")
        for n in range(rows):
            if n % 200 == 7:
                out.write(f"broken{n}.example.org,Nobody,,\r\n")
                expected["invalid"] += 1
                continue
            if n % 200 == 11:
                out.write(f"reader{n - 1}@example.org,Again,,\r\n")
                expected["duplicate"] += 1
                continue
            name = f"{FIRST[n % len(FIRST)]} {LAST[n // 8 % len(LAST)]}"
            lists = "events" if n % 3 == 0 else ""
            out.write(f"reader{n}@example.org,{name},{LANGUAGES[n % 5]},{lists}\r\n")
    return expected


def seed(rows: int) -> tuple[int, int]:
    """Two lists; 1 in 100 addresses already pending, 1 in 1000 erased. Returns list ids."""
    news = MailingList(slug="news", names={"en": "News"})
    events = MailingList(slug="events", names={"en": "Events"})
    db.session.add_all([news, events])
    for n in range(1, rows, 100):
        db.session.add(Subscriber(email=f"reader{n}@example.org", language="en"))
    for n in range(3, rows, 1000):
        db.session.add(Suppression(email_hash=email_hash(f"reader{n}@example.org"), reason="x"))
    db.session.commit()
    return news.id, events.id


def timed(function, *args):
    began = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - began


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    """Baseline for the dry run: only parse the file with the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(row["email"], row["name"], row["language"]) for row in csv.DictReader(handle)]


def copy_rows(url: str, rows: list[tuple[str, str, str]]) -> None:
    """Baseline for the import: COPY the bare rows into a table without any checks."""
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute("CREATE TEMP TABLE copied (email text, name text, language text)")
        with conn.cursor().copy("COPY copied (email, name, language) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def analyse(path: Path, list_id: int) -> int:
    job = ImportJob(
        filename=path.name,
        path=path.name,
        status=ImportStatus.ANALYSING,
        list_ids=[list_id],
        language="en",
        report={"consent_confirmed_by": "benchmark"},
    )
    db.session.add(job)
    db.session.commit()  # as the upload does, before the worker checks the file
    analysis.analyse(job)
    return job.id


def query_timings(events_id: int) -> list[tuple[str, float]]:
    """The subscriber list's queries at this size (best of three, milliseconds)."""
    cases = {
        "first page": (SubscriberFilter(), None),
        "page 1,500 (keyset)": (SubscriberFilter(), 25_000),
        "search 'müller'": (SubscriberFilter(query="müller"), None),
        "search 'reader9999'": (SubscriberFilter(query="reader9999"), None),
        "filter list+language": (SubscriberFilter(list_id=events_id, language="es"), None),
    }
    results = []
    for label, (filters, before) in cases.items():
        best_page = best_count = float("inf")
        for _round in range(3):
            best_page = min(best_page, timed(subscriber_page, filters, before, None)[1])
            best_count = min(best_count, timed(count_matching, filters)[1])
            db.session.remove()
        results.append((label, best_page * 1000, best_count * 1000))
    return results


def export_all() -> int:
    size = 0
    for chunk in csv_lines(export_rows(SubscriberFilter())):
        size += len(chunk)
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-import-{run_id}-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        url = stack.enter_context(scratch_database(args.postgres, f"newsletter_bench_{run_id}"))
        env = {"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance")}
        app = create_app(from_environment(env))
        with app.app_context():
            upgrade()
            news_id, events_id = seed(args.rows)
            path = jobs.new_file_path()
            expected, write_seconds = timed(write_csv, path, args.rows)
            megabytes = path.stat().st_size / 1e6
            log(f"wrote {args.rows:,} rows ({megabytes:.1f} MB) in {write_seconds:.1f} s")

            rows, parse_seconds = timed(read_rows, path)
            _nothing, copy_seconds = timed(copy_rows, url, rows)
            job_id, analyse_seconds = timed(analyse, path, news_id)
            job = db.session.get(ImportJob, job_id)
            log(f"analysed in {analyse_seconds:.1f} s: new {job.report['new']:,}, "
                f"update {job.report['update']:,}, problems {job.report['counts']}")  # fmt: skip
            jobs.start_import(job)
            db.session.commit()
            more, import_seconds = timed(writing.run_import, job_id)
            db.session.remove()
            job = db.session.get(ImportJob, job_id)
            problems = check(job, args.rows, expected)
            timings = query_timings(events_id)
            size, export_seconds = timed(export_all)
            subscribers = db.session.execute(db.select(db.func.count(Subscriber.id))).scalar()
            db.engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"CSV import of {args.rows:,} rows ({megabytes:.1f} MB), PostgreSQL, one process")
    print(f"  dry run (worker):          {analyse_seconds:6.1f} s  "
          f"{args.rows / analyse_seconds:9,.0f} rows/s")  # fmt: skip
    print(f"    baseline, csv parse only: {parse_seconds:6.1f} s  "
          f"{args.rows / parse_seconds:9,.0f} rows/s")  # fmt: skip
    import_rate = args.rows / import_seconds
    print(f"  import (worker, COPY chunks of {copying.CHUNK_SIZE:,}): {import_seconds:6.1f} s  "
          f"{import_rate:9,.0f} rows/s")  # fmt: skip
    print(f"    baseline, bare COPY of the rows: {copy_seconds:6.1f} s  "
          f"{args.rows / copy_seconds:9,.0f} rows/s")  # fmt: skip
    print(f"    target >= {IMPORT_TARGET:,} rows/s: "
          f"{'met' if import_rate >= IMPORT_TARGET else 'NOT met'}")  # fmt: skip
    print(f"  created {job.created_count:,}, updated {job.updated_count:,}, "
          f"skipped {job.skipped_count:,}; peak RSS {rss:.0f} MB")  # fmt: skip
    print(f"Subscriber list at {subscribers:,} subscribers (best of 3):")
    for label, page_ms, count_ms in timings:
        print(f"  {label:<24} page {page_ms:7.1f} ms   count {count_ms:7.1f} ms")
    print(f"  export of everything: {export_seconds:.1f} s "
          f"({subscribers / export_seconds:,.0f} rows/s, {size / 1e6:.1f} MB)")  # fmt: skip
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems or more else 0


def check(job: ImportJob, rows: int, expected: dict[str, int]) -> list[str]:
    """The job's counts add up, and the database holds what they say."""
    problems = []
    if job.status != ImportStatus.DONE:
        problems.append(f"job ended {job.status}: {job.error}")
    if job.processed_rows != rows:
        problems.append(f"processed {job.processed_rows} of {rows} rows")
    if job.created_count + job.updated_count + job.skipped_count != rows:
        problems.append("created + updated + skipped != rows")
    counts = job.report["counts"]
    if counts.get("invalid_email") != expected["invalid"]:
        problems.append(f"invalid rows: {counts.get('invalid_email')} != {expected['invalid']}")
    confirmed = db.session.execute(
        db.select(db.func.count())
        .select_from(Subscriber)
        .where(Subscriber.status == SubscriberStatus.CONFIRMED)
    ).scalar()
    if confirmed != job.created_count + job.updated_count:
        problems.append(f"{confirmed} confirmed subscribers, expected created + updated")
    return problems


if __name__ == "__main__":
    sys.exit(main())
