"""CSV import: upload, the dry run in a worker, confirmation, a real worker importing, and
hostile files."""

import contextlib
import html
import io
import re
import time
from pathlib import Path

import pytest
from conftest import publisher
from factories import make_lists, make_subscriber, make_user, row_counts, subscriber_state
from helpers import csrf_token, log_in
from kombu.exceptions import OperationalError
from playwright.sync_api import expect
from sqlalchemy import event as sqlalchemy_event

from newsletter import subscriptions, tasks
from newsletter.extensions import db
from newsletter.imports import analysis, checks, copying, jobs, reading, writing
from newsletter.models import (
    ConsentAction,
    ImportJob,
    ImportStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
)

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The page's text without its tags, as a reader sees it."""
    return re.sub(r"<[^>]+>", "", page_text(response))


def upload(client, content: bytes, list_ids, language="en", consent=True, filename="people.csv"):
    """Post the upload form as a browser would."""
    data = {
        "csrf_token": csrf_token(client, "/admin/imports/new"),
        "file": (io.BytesIO(content), filename),
        "lists": [str(list_id) for list_id in list_ids],
        "language": language,
    }
    if consent:
        data["consent"] = "y"
    return client.post("/admin/imports/new", data=data, content_type="multipart/form-data")


def job_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/admin/imports/(\d+)$", response.location)[1])


def job_state(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    db.session.expunge(job)
    return job


def wait_until_finished(client, job_id: int, timeout: float = 60) -> dict:
    """Poll the JSON endpoint the job page polls, until the worker has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = client.get(f"/admin/imports/{job_id}/progress.json").get_json()
        if progress["finished"]:
            return progress
        time.sleep(0.1)
    raise AssertionError(f"import {job_id} did not finish: {progress}")


def confirm(client, job_id: int):
    token = csrf_token(client, f"/admin/imports/{job_id}")
    return client.post(f"/admin/imports/{job_id}/start", data={"csrf_token": token})


def stored_file(app, job: ImportJob) -> Path:
    return Path(app.instance_path, "imports", job.path)


def stored_files(app) -> set[Path]:
    return set(Path(app.instance_path, "imports").glob("*"))


def subscriber_count() -> int:
    return row_counts()["subscriber"]


def erase_address(email: str) -> None:
    db.session.add(Suppression(email_hash=email_hash(email), reason="erased"))
    db.session.commit()


MIXED_FILE = (
    "email,name,language,lists,notes\r\n"
    "ana@example.org,Ana García,es,,first\r\n"
    "BOB@Example.org,Bob,,events,\r\n"
    f"{SCRIPT},Nobody,,,\r\n"
    "ana@example.org,Ana again,,,\r\n"
    "pending@example.org,Pat,fr,,\r\n"
    "left@example.org,Lee,,,\r\n"
    "erased@example.org,Erin,,,\r\n"
    f"eve@example.org,{SCRIPT},,,\r\n"
    '"crlf@example.org","Carl\r\nBcc: victim@example.org",,,\r\n'
    "formula@example.org,\"=cmd|' /C calc'!A0\",,,\r\n"
    "zoë@example.org,Zoë,,,\r\n"
    "klingon@example.org,Kor,tlh,,\r\n"
    "nolist@example.org,Nel,,podcasts,\r\n"
    f"long@example.org,{'x' * 1200},,,\r\n"
    "\r\n"
    "last@example.org,Last,de-AT,events|newsletter,\r\n"
).encode()


def test_import_end_to_end_reports_bad_rows_then_imports_the_good_ones(editor_client, in_app, app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "pending@example.org", "en", SubscriberStatus.PENDING)
    in_app(make_subscriber, "left@example.org", "en", SubscriberStatus.UNSUBSCRIBED)
    in_app(erase_address, "erased@example.org")

    job_id = job_of(upload(editor_client, MIXED_FILE, [lists["newsletter"]]))
    assert in_app(subscriber_count) == 2  # the dry run writes no subscriber
    report = editor_client.get(f"/admin/imports/{job_id}")
    body, text = report.get_data(as_text=True), page_text(report)
    assert SCRIPT not in body and ESCAPED_SCRIPT in body
    job = in_app(job_state, job_id)
    assert job.status == ImportStatus.ANALYSED
    assert job.total_rows == 15  # the blank line is not a row
    assert (job.report["new"], job.report["update"]) == (5, 1)
    assert job.report["counts"] == {
        "invalid_email": 1,
        "duplicate": 1,
        "unsubscribed": 1,
        "suppressed": 1,
        "name_control": 1,
        "non_ascii_local": 1,
        "unknown_language": 1,
        "unknown_list": 1,
        "too_long": 1,
    }
    assert job.report["ignored"] == ["notes"]
    assert job.report["formula_names"] == 1
    for line, reason in (
        (4, f"“{SCRIPT}” is not a valid email address."),
        (5, "The same address as line 2"),
        (7, "This person unsubscribed"),
        (8, "erased or complained"),
        (10, "line break or a control character"),
        # The name with a line break spans lines 10 and 11: lines are the file's own.
        (13, "non-ASCII characters before the @"),
        (14, "Unknown language “tlh”"),
        (15, "There is no list “podcasts”"),
        (16, "longer than 1000 characters"),
    ):
        assert re.search(rf">{line}</td><td[^>]*>[^<]*{re.escape(html.escape(reason))}", body), (
            line,
            reason,
        )
    assert "Already subscribed (would be updated)" in text
    assert "Import 6 subscribers" in text
    assert "erased@example.org" not in body  # an erased address is not written down again

    assert confirm(editor_client, job_id).status_code == 302
    progress = wait_until_finished(editor_client, job_id)
    assert progress["status"] == "done"
    assert (progress["created"], progress["updated"], progress["skipped"]) == (5, 1, 9)
    assert progress["processed"] == progress["total"] == 15
    done = page_text(editor_client.get(f"/admin/imports/{job_id}"))
    assert "New subscribers" in done and "Done" in done

    ana = in_app(subscriber_state, "ana@example.org")
    assert (ana.name, ana.language, ana.status) == ("Ana García", "es", SubscriberStatus.CONFIRMED)
    assert ana.list_ids == {lists["newsletter"]}
    assert [(c.action, c.source) for c in ana.consents] == [
        (ConsentAction.SUBSCRIBE, f"import:{job_id}")
    ]
    bob = in_app(subscriber_state, "bob@example.org")
    assert bob.list_ids == {lists["newsletter"], lists["events"]}
    assert set(bob.consents[0].list_ids) == {lists["newsletter"], lists["events"]}
    last = in_app(subscriber_state, "last@example.org")
    assert last.language == "de"
    assert in_app(subscriber_state, "eve@example.org").name == SCRIPT
    assert in_app(subscriber_state, "formula@example.org").name == "=cmd|' /C calc'!A0"
    pending = in_app(subscriber_state, "pending@example.org")
    assert pending.status == SubscriberStatus.CONFIRMED
    assert (pending.name, pending.language) == ("Pat", "en")  # their own language stays
    left = in_app(subscriber_state, "left@example.org")
    assert (left.status, left.list_ids) == (SubscriberStatus.UNSUBSCRIBED, set())
    for email in ("erased@example.org", "crlf@example.org", "zoë@example.org"):
        assert in_app(subscriber_state, email) is None
    assert in_app(subscriber_count) == 7
    assert not stored_file(app, job).exists(), "the file is deleted once imported"

    # Starting it again does nothing.
    assert confirm(editor_client, job_id).status_code == 302
    assert in_app(subscriber_count) == 7


def test_the_worker_re_checks_rows_at_import_time(editor_client, in_app):
    lists = in_app(make_lists)
    content = b"email\nana@example.org\nbob@example.org\n"
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    in_app(erase_address, "bob@example.org")  # erased between the check and the import
    confirm(editor_client, job_id)
    progress = wait_until_finished(editor_client, job_id)
    assert (progress["created"], progress["skipped"]) == (1, 1)
    assert in_app(subscriber_state, "bob@example.org") is None


def test_the_import_goes_in_chunks_and_resumes_where_it_stopped(editor_client, in_app, monkeypatch):
    lists = in_app(make_lists)
    content = "email\n" + "".join(f"reader{n}@example.org\n" for n in range(7))
    job_id = job_of(upload(editor_client, content.encode(), [lists["events"]]))
    monkeypatch.setattr(reading, "CHUNK_SIZE", 3)
    monkeypatch.setattr(copying, "CHUNK_SIZE", 3)

    def start() -> None:
        jobs.start_import(db.session.get(ImportJob, job_id))
        db.session.commit()

    in_app(start)
    # No time for more than one chunk per run: each run hands over, as the task does.
    assert in_app(writing.run_import, job_id, 0) is True
    assert in_app(job_state, job_id).processed_rows == 3
    assert in_app(subscriber_count) == 3
    assert in_app(writing.run_import, job_id, 0) is True
    assert in_app(writing.run_import, job_id, 0) is False
    job = in_app(job_state, job_id)
    assert (job.status, job.processed_rows, job.created_count) == (ImportStatus.DONE, 7, 7)
    assert in_app(subscriber_count) == 7
    assert in_app(writing.run_import, job_id, 0) is False  # a redelivered task does nothing


def test_the_consent_box_is_required(editor_client, in_app):
    lists = in_app(make_lists)
    response = upload(editor_client, b"email\nana@example.org\n", [lists["events"]], consent=False)
    assert response.status_code == 400
    assert "Only people who agreed may be imported." in page_text(response)
    assert in_app(row_counts)["import_job"] == 0


def test_a_list_is_required(editor_client, in_app):
    in_app(make_lists)
    response = upload(editor_client, b"email\nana@example.org\n", [])
    assert response.status_code == 400
    assert "Please choose at least one list." in page_text(response)


def test_upload_without_csrf_token_is_refused(editor_client, in_app):
    lists = in_app(make_lists)
    response = editor_client.post(
        "/admin/imports/new",
        data={
            "file": (io.BytesIO(b"email\nana@example.org\n"), "people.csv"),
            "lists": [str(lists["events"])],
            "language": "en",
            "consent": "y",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert in_app(row_counts)["import_job"] == 0


def test_confirm_without_csrf_token_is_refused(editor_client, in_app):
    lists = in_app(make_lists)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\n", [lists["events"]]))
    assert editor_client.post(f"/admin/imports/{job_id}/start").status_code == 400
    assert in_app(job_state, job_id).status == ImportStatus.ANALYSED
    assert in_app(subscriber_count) == 0


def test_semicolons_bom_and_exported_apostrophes_are_understood(editor_client, in_app):
    lists = in_app(make_lists)
    content = "\ufeffEmail;Name;Lists\r\nana@example.org;'=1+1;events;newsletter\r\n".encode()
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    job = in_app(job_state, job_id)
    assert (job.report["delimiter"], job.report["new"]) == (";", 1)
    confirm(editor_client, job_id)
    wait_until_finished(editor_client, job_id)
    ana = in_app(subscriber_state, "ana@example.org")
    assert ana.name == "=1+1"  # our own export's neutralizing apostrophe is taken off again


HOSTILE_FILES = {
    "cp1252": (
        "email,name\nana@example.org,Ana\njose@example.org,José\n".encode("cp1252"),
        "Line 3 is not UTF-8 text. Please save the file as “CSV UTF-8”",
    ),
    "utf16": ("email,name\nana@example.org,Ana\n".encode("utf-16"), "saved as UTF-16"),
    "no_email_header": (
        b"mail address,name\nana@example.org,Ana\n",
        "one of them must be “email”",
    ),
    "no_header": (b"ana@example.org,Ana\n", "one of them must be “email”"),
    "empty": (b"", "The file is empty."),
    "blank": (b"\r\n", "The file is empty."),
    "header_only": (b"email,name\r\n", "a header line but no subscribers"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "contains binary data"),
    "zip": (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "contains binary data"),
    "unclosed_quote": (
        b'email,name\nana@example.org,"Ana\nbob@example.org,Bob\n',
        "Line 2 is not valid CSV",
    ),
    "huge_field": (
        b"email,name\nana@example.org," + b"x" * 200_000 + b"\n",
        "Line 2 has a field far too long",
    ),
}


@pytest.mark.parametrize("kind", list(HOSTILE_FILES))
def test_hostile_files_get_a_clear_report_and_import_nothing(editor_client, in_app, app, kind):
    lists = in_app(make_lists)
    content, message = HOSTILE_FILES[kind]
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    page = editor_client.get(f"/admin/imports/{job_id}")
    text = page_text(page)
    assert message in text
    assert "Nothing was imported." in text
    assert "Import " not in text.split("Nothing was imported.")[1]  # no button to go on
    job = in_app(job_state, job_id)
    assert job.status == ImportStatus.FAILED
    assert in_app(subscriber_count) == 0
    assert not stored_file(app, job).exists(), "the file is deleted"
    # Even a forged confirmation imports nothing.
    token = csrf_token(editor_client, "/admin/imports/new")
    editor_client.post(f"/admin/imports/{job_id}/start", data={"csrf_token": token})
    assert in_app(subscriber_count) == 0


def test_a_file_over_the_size_limit_is_refused(editor_client, in_app, app, monkeypatch):
    lists = in_app(make_lists)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 2 * 1024 * 1024)
    files_before = stored_files(app)
    content = b"email\n" + b"".join(b"reader%d@example.org\n" % n for n in range(120_000))
    assert len(content) > 2 * 1024 * 1024
    response = upload(editor_client, content, [lists["events"]])
    assert response.status_code == 413
    assert "The file is larger than 2 MB" in page_text(response)
    assert in_app(row_counts)["import_job"] == 0
    assert stored_files(app) == files_before


def test_files_larger_than_the_site_wide_limit_are_accepted(editor_client, in_app):
    """The upload view lifts the 64 KB limit of every other form."""
    lists = in_app(make_lists)
    content = b"email,name\n" + b"".join(
        b"reader%d@example.org,Reader number %d\n" % (n, n) for n in range(3000)
    )
    assert len(content) > 64 * 1024
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    assert in_app(job_state, job_id).report["new"] == 3000


def test_discarding_a_dry_run_forgets_it_and_its_file(editor_client, in_app, app):
    lists = in_app(make_lists)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\n", [lists["events"]]))
    job = in_app(job_state, job_id)
    assert stored_file(app, job).exists()
    token = csrf_token(editor_client, f"/admin/imports/{job_id}")
    editor_client.post(f"/admin/imports/{job_id}/discard", data={"csrf_token": token})
    assert in_app(row_counts)["import_job"] == 0
    assert not stored_file(app, job).exists()


def test_upload_page_lists_recent_imports_with_escaped_file_names(editor_client, in_app):
    lists = in_app(make_lists)
    upload(editor_client, b"email\nana@example.org\n", [lists["events"]], filename=f"{SCRIPT}.csv")
    body = editor_client.get("/admin/imports/new").get_data(as_text=True)
    assert ESCAPED_SCRIPT in body and SCRIPT not in body


def test_logged_out_visitor_cannot_read_progress(client, editor_client, in_app):
    lists = in_app(make_lists)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\n", [lists["events"]]))
    response = client.get(f"/admin/imports/{job_id}/progress.json")
    assert response.status_code == 302


def all_subscribers() -> list[str]:
    return list(db.session.execute(db.select(Subscriber.email)).scalars())


TRICKY_ADDRESSES = [
    "Ana@Example.org",
    "ana.b+news@example.org",
    "ana..b@example.org",
    ".ana@example.org",
    "ana.@example.org",
    "a" * 64 + "@example.org",
    "a" * 65 + "@example.org",
    "x" * 240 + "@example.org",
    "ana@example.org.",
    "ana@EXAMPLE.ORG",
    "zoë@example.org",
    "ana@bücher.de",
    "Ana@BÜCHER.DE",
    "a b@example.org",
    "ana@localhost",
    "ana\r\n@example.org",
    "ana@@example.org",
    "@example.org",
    "ana#1@example.org",
]


def test_the_fast_address_check_agrees_with_normalize_email():
    """Each domain is checked once; the shortcut must never accept or change anything more."""
    checker = checks.AddressChecker()
    for warm_up in ("first@example.org", "first@bücher.de", "first@localhost"):
        with contextlib.suppress(subscriptions.InvalidEmail):
            checker(warm_up)

    def outcome(check, raw):
        try:
            return check(raw)
        except subscriptions.InvalidEmail:
            return "invalid"

    for raw in TRICKY_ADDRESSES:
        assert outcome(checker, raw) == outcome(subscriptions.normalize_email, raw), raw


def test_an_import_sets_the_second_language_of_new_people_only(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "known@example.org", "fr", SubscriberStatus.PENDING)
    content = (
        b"email,language,second_language\r\n"
        b"jonas@example.org,de,en\r\n"
        b"known@example.org,fr,es\r\n"
        b"same@example.org,es,es\r\n"
    )
    job_id = job_of(upload(editor_client, content, [lists["newsletter"]]))
    report = editor_client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert html.escape("The second language “es” is the same as the first.") in report
    assert confirm(editor_client, job_id).status_code == 302
    assert wait_until_finished(editor_client, job_id)["status"] == "done"
    jonas = in_app(subscriber_state, "jonas@example.org")
    assert (jonas.language, jonas.second_language) == ("de", "en")
    known = in_app(subscriber_state, "known@example.org")
    assert (known.language, known.second_language) == ("fr", None), "languages never change"
    assert in_app(subscriber_state, "same@example.org") is None


def test_someone_who_subscribes_while_a_chunk_is_written_is_updated_once(
    editor_client, in_app, app
):
    if "postgresql" not in app.config["SQLALCHEMY_DATABASE_URI"]:
        pytest.skip("the chunks are written with COPY and set-based SQL on PostgreSQL only")
    lists = in_app(make_lists)
    content = b"email,name\r\nana@example.org,Ana\r\nbob@example.org,Bob\r\n"
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    confirm_token = csrf_token(editor_client, f"/admin/imports/{job_id}")

    def subscribe_ana_first(conn, cursor, statement, parameters, context, executemany):
        """Another request commits Ana's subscription just before the new people go in."""
        if statement.lstrip().startswith("WITH created AS"):
            with db.engine.connect() as other:
                other.execute(
                    db.insert(Subscriber).values(
                        email="ana@example.org", language="es", token="t" * 43, name=None
                    )
                )
                other.commit()

    def watch() -> None:
        sqlalchemy_event.listen(db.engine, "before_cursor_execute", subscribe_ana_first)

    def unwatch() -> None:
        sqlalchemy_event.remove(db.engine, "before_cursor_execute", subscribe_ana_first)

    in_app(watch)
    try:
        editor_client.post(f"/admin/imports/{job_id}/start", data={"csrf_token": confirm_token})
        progress = wait_until_finished(editor_client, job_id)
    finally:
        in_app(unwatch)
    assert (progress["status"], progress["created"], progress["updated"]) == ("done", 1, 1)
    ana = in_app(subscriber_state, "ana@example.org")
    assert (ana.status, ana.language, ana.name) == (SubscriberStatus.CONFIRMED, "es", "Ana")
    assert ana.list_ids == {lists["events"]}
    assert [c.source for c in ana.consents] == [f"import:{job_id}"]
    assert in_app(subscriber_count) == 2


@pytest.fixture
def held_checks(app, monkeypatch):
    """Dry runs wait on the broker, in a queue no worker reads, until the test calls the
    returned function: then this thread takes them as a worker would and runs them. So the
    upload is answered before its file is checked."""
    celery = app.extensions["celery"]
    queue_name = f"{celery.conf.task_default_queue}-held"
    send = publisher(tasks.analyse_import)

    def hold(args=None, kwargs=None, **options):
        return send(args, kwargs, **(options | {"queue": queue_name}))

    monkeypatch.setattr(tasks.analyse_import, "apply_async", hold)

    def run_held() -> int:
        ran = 0
        with (
            celery.connection_for_read() as connection,
            connection.SimpleQueue(celery.amqp.queues[queue_name]) as queue,
        ):
            while True:
                try:
                    message = queue.get(timeout=1)
                except queue.Empty:
                    return ran
                args, kwargs, _embed = message.decode()
                tasks.analyse_import.apply(args, kwargs, task_id=message.headers["id"])
                message.ack()
                ran += 1

    yield run_held
    run_held()  # a test that failed half way leaves no task behind


def test_the_upload_answers_at_once_and_a_worker_checks_the_file(
    editor_client, in_app, app, held_checks
):
    lists = in_app(make_lists)
    content = b"email,name\nana@example.org,Ana\nnot-an-address,X\n"
    job_id = job_of(upload(editor_client, content, [lists["events"]]))
    job = in_app(job_state, job_id)
    assert (job.status, job.total_rows) == (ImportStatus.ANALYSING, 0)
    assert set(job.report) == {"consent_confirmed_by", "consent_confirmed_at"}
    assert stored_file(app, job).exists()

    text = words(editor_client.get(f"/admin/imports/{job_id}"))
    assert "Checking the file" in text and "Rows checked: 0" in text
    assert "Import 1 subscriber" not in text and "Discard this file" not in text
    progress = editor_client.get(f"/admin/imports/{job_id}/progress.json").get_json()
    assert (progress["status"], progress["analysing"], progress["finished"]) == (
        "analysing",
        True,
        False,
    )
    assert "Checking the file" in page_text(editor_client.get("/admin/imports/new"))

    started = confirm(editor_client, job_id)
    assert "The file is still being checked" in page_text(editor_client.get(started.location))
    token = csrf_token(editor_client, f"/admin/imports/{job_id}")
    discarded = editor_client.post(f"/admin/imports/{job_id}/discard", data={"csrf_token": token})
    assert "can be discarded once its check is done" in page_text(
        editor_client.get(discarded.location)
    )
    assert in_app(job_state, job_id).status == ImportStatus.ANALYSING
    assert stored_file(app, job).exists()

    assert held_checks() == 1  # a worker takes the task
    progress = editor_client.get(f"/admin/imports/{job_id}/progress.json").get_json()
    assert (progress["status"], progress["analysing"], progress["total"]) == ("analysed", False, 2)
    job = in_app(job_state, job_id)
    assert (job.report["new"], job.report["counts"]) == (1, {"invalid_email": 1})
    assert job.report["consent_confirmed_by"] is not None
    assert "Import 1 subscriber" in page_text(editor_client.get(f"/admin/imports/{job_id}"))


def test_the_check_in_progress_is_shown_in_the_editors_language(
    client, in_app, translated, held_checks
):
    lists = in_app(make_lists)
    in_app(make_user, "de@example.org", language="de")
    log_in(client, "de@example.org")
    job_id = job_of(upload(client, b"email\nana@example.org\n", [lists["events"]]))
    text = words(client.get(f"/admin/imports/{job_id}"))
    assert translated("de", "Checking the file") == "Datei wird geprüft"
    assert "Datei wird geprüft" in text
    assert f"{translated('de', 'Rows checked')}: 0" in text
    hint = "Nothing is imported yet. The report of the check appears here when it is done."
    assert translated("de", hint) in text
    progress = client.get(f"/admin/imports/{job_id}/progress.json").get_json()
    assert progress["label"] == "Datei wird geprüft"


def test_a_check_that_died_half_way_starts_over_and_gives_the_same_report(
    editor_client, in_app, monkeypatch, held_checks
):
    lists = in_app(make_lists)
    in_app(make_subscriber, "known@example.org", "en", SubscriberStatus.PENDING)
    content = b"email\nknown@example.org\nana@example.org\nbad\nana@example.org\nbob@example.org\n"
    whole = job_of(upload(editor_client, content, [lists["events"]]))
    interrupted = job_of(upload(editor_client, content, [lists["events"]]))
    monkeypatch.setattr(reading, "CHUNK_SIZE", 2)
    checked = analysis.classify

    def worker_killed_after_the_first_chunk(chunk):
        if chunk[0].index > 0:
            raise SystemExit("worker killed")
        return checked(chunk)

    def run(job_id: int) -> None:
        tasks.analyse_import(job_id)

    in_app(run, whole)
    monkeypatch.setattr(analysis, "classify", worker_killed_after_the_first_chunk)
    with pytest.raises(SystemExit):
        in_app(run, interrupted)
    job = in_app(job_state, interrupted)
    assert (job.status, job.total_rows) == (ImportStatus.ANALYSING, 2)  # progress was kept

    monkeypatch.setattr(analysis, "classify", checked)
    in_app(run, interrupted)  # the broker hands the task to another worker
    assert held_checks() == 2  # the tasks the uploads queued find both jobs checked
    again, once = in_app(job_state, interrupted), in_app(job_state, whole)
    assert (again.status, again.total_rows) == (once.status, once.total_rows)
    assert (again.status, again.total_rows) == (ImportStatus.ANALYSED, 5)
    again.report.pop("consent_confirmed_at"), once.report.pop("consent_confirmed_at")
    assert again.report == once.report
    assert (again.report["new"], again.report["update"]) == (2, 1)


def test_a_job_no_longer_being_checked_is_left_alone(editor_client, in_app):
    lists = in_app(make_lists)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\n", [lists["events"]]))
    confirm(editor_client, job_id)
    before = in_app(job_state, job_id)
    assert before.status == ImportStatus.DONE  # the file is gone with the import

    in_app(tasks.analyse_import, job_id)  # a copy of the task, delivered late
    in_app(tasks.analyse_import, job_id + 1000)  # and one for a job that was discarded
    after = in_app(job_state, job_id)
    assert (after.status, after.error, after.report) == (ImportStatus.DONE, None, before.report)
    assert after.total_rows == before.total_rows == 1


def test_when_the_broker_is_down_the_upload_fails_cleanly(editor_client, in_app, app, monkeypatch):
    lists = in_app(make_lists)
    files_before = stored_files(app)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.analyse_import, "delay", broker_down)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\n", [lists["events"]]))
    job = in_app(job_state, job_id)
    assert (job.status, job.error) == (ImportStatus.FAILED, "not_queued")
    assert stored_files(app) == files_before, "the file is removed"
    text = page_text(editor_client.get(f"/admin/imports/{job_id}"))
    assert "The file could not be checked. Please upload it again in a moment." in text
    assert "Nothing was imported." in text and "Upload another file" in text
    assert in_app(subscriber_count) == 0


def test_a_real_worker_checks_the_file_then_imports_it(editor_client, in_app, celery_worker):
    lists = in_app(make_lists)
    job_id = job_of(upload(editor_client, b"email\nana@example.org\nbad\n", [lists["events"]]))
    deadline = time.monotonic() + 30
    while in_app(job_state, job_id).status == ImportStatus.ANALYSING:
        assert time.monotonic() < deadline, "the check did not end"
        time.sleep(0.1)
    job = in_app(job_state, job_id)
    assert (job.status, job.total_rows, job.report["new"]) == (ImportStatus.ANALYSED, 2, 1)
    confirm(editor_client, job_id)
    assert wait_until_finished(editor_client, job_id)["created"] == 1


def test_the_job_page_follows_the_check_and_shows_the_report_when_it_ends(
    pages, live_server, in_app, held_checks
):
    in_app(make_user, "editor@example.org", "editor")
    in_app(make_lists)
    page, base = pages("en-GB"), live_server
    page.goto(base + "/admin/login")
    page.fill("#email", "editor@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.goto(base + "/admin/imports/new")
    content = b"email\nana@example.org\nnot-an-address\n"
    page.set_input_files(
        "#file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": content}]
    )
    page.get_by_label("Events").check()
    page.check("#consent")
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Checking the file")).to_be_visible()
    expect(page.locator("[data-field=total]")).to_have_text("0")

    held_checks()  # a worker checks the file; the page notices and shows the report
    expect(page.locator("table.problems tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Import 1 subscriber")).to_be_visible()
    expect(page.get_by_role("heading", name="Checking the file")).to_have_count(0)
