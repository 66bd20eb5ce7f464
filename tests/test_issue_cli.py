"""``flask issues``: drive a campaign from the command line, with a real worker process."""

from datetime import timedelta

import pytest
from factories import make_lists, make_subscriber
from workers import WorkerProcess, wait_until

from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, utcnow


@pytest.fixture
def issue_files(tmp_path):
    (tmp_path / "en.md").write_text(
        "Subject: Spring assembly\nPreheader: Join us\n\n# Spring\n\nWe meet in **May**.\n"
    )
    (tmp_path / "es.md").write_text("Subject: Asamblea de primavera\n\n# Primavera\n\nMayo.\n")
    return tmp_path


def readers(in_app) -> None:
    def create():
        ids = make_lists()
        for number, language in enumerate(["en", "es", "fr", "de"] * 3):
            make_subscriber(f"cli{number}@example.org", language, list_ids=(ids["newsletter"],))

    in_app(create)


def run(runner, *args) -> str:
    result = runner.invoke(args=["issues", *args])
    assert result.exit_code == 0, result.output
    return result.output


def status_of(issue_id: int) -> IssueStatus:
    return db.session.get(Issue, issue_id).status


@pytest.mark.integration  # a worker process
def test_create_test_send_and_follow_an_issue(app, runner, in_app, smtp, issue_files):
    readers(in_app)
    output = run(
        runner,
        "create",
        "--name",
        "Spring",
        "--lists",
        "newsletter",
        str(issue_files / "en.md"),
        str(issue_files / "es.md"),
    )
    issue_id = int(output.split()[2])
    assert "draft" in run(runner, "list")

    run(runner, "test", str(issue_id), "--to", "editor@example.org", "--language", "es")
    [test_mail] = smtp.wait_for(1)
    assert test_mail.recipients == ["editor@example.org"]
    assert test_mail.message["Subject"] == "[Prueba] Asamblea de primavera"
    smtp.reset()

    worker = WorkerProcess(app, "cli").wait_ready()
    try:
        assert "12 subscribers" in run(runner, "send", str(issue_id))
        wait_until(lambda: in_app(status_of, issue_id) == IssueStatus.SENT, 60, "the issue")
    finally:
        worker.stop()
    assert len(smtp.settle()) == 12
    subjects = {item.message["Subject"] for item in smtp.received}
    assert subjects == {"Spring assembly", "Asamblea de primavera"}, "fr and de get English"
    report = run(runner, "status", str(issue_id))
    assert "sent" in report and "es" in report
    assert report.splitlines()[-2].split()[-4:] == ["12", "0", "0", "0"]


def test_control_commands_and_their_errors(app, runner, in_app, issue_files):
    readers(in_app)
    issue_id = int(
        run(
            runner, "create", "--name", "X", "--lists", "newsletter", str(issue_files / "en.md")
        ).split()[2]
    )
    refused = runner.invoke(args=["issues", "pause", str(issue_id)])
    assert (
        refused.exit_code != 0
        and "Only an issue that is being sent can be paused." in refused.output
    )

    later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert "scheduled" in run(runner, "send", str(issue_id), "--at", later)
    assert in_app(status_of, issue_id) == IssueStatus.SCHEDULED
    assert "cancelled" in run(runner, "cancel", str(issue_id))

    unknown = runner.invoke(
        args=["issues", "create", "--name", "Y", "--lists", "nope", str(issue_files / "en.md")]
    )
    assert unknown.exit_code != 0 and "Unknown lists: nope" in unknown.output
    (issue_files / "xx.md").write_text("Subject: ?\n\nBody\n")
    bad_language = runner.invoke(
        args=[
            "issues",
            "create",
            "--name",
            "Z",
            "--lists",
            "newsletter",
            str(issue_files / "xx.md"),
        ]
    )
    assert bad_language.exit_code != 0 and "Unknown language 'xx'" in bad_language.output
    assert runner.invoke(args=["issues", "status", "999999"]).exit_code != 0
    counts = in_app(lambda: db.session.execute(db.select(db.func.count(Issue.id))).scalar())
    assert counts == 1, "failed commands create nothing"


@pytest.mark.integration  # a worker process
def test_a_scheduled_issue_is_started_by_the_watcher(app, runner, in_app, smtp, issue_files):
    readers(in_app)
    issue_id = int(
        run(
            runner, "create", "--name", "Soon", "--lists", "newsletter", str(issue_files / "en.md")
        ).split()[2]
    )
    due = (utcnow() - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    run(runner, "send", str(issue_id), "--at", due)
    worker = WorkerProcess(app, "watcher", beat=True, WATCH_INTERVAL=1).wait_ready()
    try:
        wait_until(lambda: in_app(status_of, issue_id) == IssueStatus.SENT, 60, "the issue")
    finally:
        worker.stop()
    assert len(smtp.settle()) == 12
