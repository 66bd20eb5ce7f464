"""Real worker processes on one campaign: sharing, crashing, Redis restarts, the rate limit."""

import collections
import json
import urllib.request

from campaign_helpers import configured, ledger, make_issue, start
from factories import make_lists, make_subscriber
from prometheus_client.parser import text_string_to_metric_families
from smtp import free_port
from workers import wait_until

from newsletter import campaign_progress
from newsletter.extensions import db
from newsletter.mail import identifiers
from newsletter.mail.message import sender_domain
from newsletter.models import Issue, IssueStatus
from newsletter.tasks import dispatch_delivery

LANGUAGES = ("en", "es", "fr", "de")


def make_readers(count: int) -> dict:
    """``count`` confirmed readers across four languages; returns the list and addresses."""
    ids = make_lists()
    emails = []
    for number in range(count):
        email = f"reader{number}@example.org"
        make_subscriber(email, LANGUAGES[number % 4], list_ids=(ids["newsletter"],))
        emails.append(email)
    return {"list_id": ids["newsletter"], "emails": emails}


def issue_status(issue_id: int) -> IssueStatus:
    return db.session.get(Issue, issue_id).status


def prepare(in_app, readers: int) -> tuple[int, list[str]]:
    audience = in_app(make_readers, readers)
    issue_id = in_app(make_issue, [audience["list_id"]])
    in_app(start, issue_id)
    return issue_id, audience["emails"]


def received_by_address(smtp) -> dict[str, list]:
    result = collections.defaultdict(list)
    for item in smtp.received:
        for address in item.recipients:
            result[address].append(item)
    return result


def test_two_workers_share_a_campaign_without_duplicates(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 240)
    # A shared budget of 80 messages a second stretches the campaign over three seconds,
    # so both workers are surely at work before one of them could finish it alone.
    first = workers(app, "first", DELIVERY_BATCH_SIZE=10, SEND_RATE_PER_SECOND=80)
    second = workers(app, "second", DELIVERY_BATCH_SIZE=10, SEND_RATE_PER_SECOND=80)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")

    received = received_by_address(smtp)
    assert sorted(received) == sorted(emails), "nobody missed"
    assert all(len(items) == 1 for items in received.values()), "nobody doubled"
    assert len({item.peer for item in smtp.received}) >= 2, "both workers sent"
    assert first.process.poll() is None and second.process.poll() is None


def test_worker_killed_mid_campaign_another_finishes_it(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 150)
    doomed = workers(
        app, "doomed", DELIVERY_BATCH_SIZE=10, DELIVERY_LEASE_SECONDS=3, SEND_RATE_PER_SECOND=60
    )
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: len(smtp.received) >= 40, 30, "the first messages")
    doomed.kill()
    # A claimed row's Message-ID is written with its result, so derive the in-flight ones.
    in_flight = in_app(
        lambda: {
            identifiers.message_id(issue_id, row[0], sender_domain(app.config["MAIL_FROM"]))
            for row in ledger(issue_id)
            if row[1] == "sending"
        }
    )
    assert in_app(issue_status, issue_id) == IssueStatus.SENDING

    # A fresh worker with the campaign watcher (celery beat) notices the stalled issue.
    workers(
        app,
        "rescuer",
        beat=True,
        WATCH_INTERVAL=1,
        DELIVERY_LEASE_SECONDS=3,
        DELIVERY_BATCH_SIZE=10,
    )
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")

    received = received_by_address(smtp)
    assert sorted(received) == sorted(emails), "nobody missed"
    duplicates = {address: items for address, items in received.items() if len(items) > 1}
    for items in duplicates.values():
        ids = {item.message["Message-ID"] for item in items}
        assert len(ids) == 1, "a re-sent message keeps its Message-ID"
        assert ids <= in_flight, "only messages in flight at the crash are sent again"
    assert len(duplicates) <= 10, "at most one batch was in flight"


def test_worker_killed_while_writing_the_ledger_another_finishes_it(app, in_app, smtp, workers):
    """Five ledger rows a chunk: the worker is killed while most are still unwritten."""
    with configured(app, LEDGER_CHUNK_ROWS=5):
        issue_id, emails = prepare(in_app, 300)
    settings = {"LEDGER_CHUNK_ROWS": 5, "DELIVERY_BATCH_SIZE": 10, "DELIVERY_LEASE_SECONDS": 3}
    doomed = workers(app, "doomed", SEND_RATE_PER_SECOND=60, **settings)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: len(smtp.received) >= 30, 30, "the first messages")
    doomed.kill()
    assert in_app(lambda: db.session.get(Issue, issue_id).preparing), "killed while writing"

    workers(app, "rescuer", beat=True, WATCH_INTERVAL=1, **settings)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")

    rows = in_app(ledger, issue_id)
    assert len(rows) == 300 and len({row[0] for row in rows}) == 300, "each reader once"
    received = received_by_address(smtp)
    assert sorted(received) == sorted(emails), "nobody missed"
    doubled = [address for address, items in received.items() if len(items) > 1]
    assert len(doubled) <= 10, "at most the batch in flight is sent again"


def test_temporary_failures_are_retried_by_the_workers(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 20)
    smtp.refuse(emails[3], "451 4.3.0 Try later", "421 4.7.0 Busy")
    smtp.refuse(emails[5], "550 5.1.1 Unknown user")
    workers(app, "retrier", DELIVERY_RETRY_SECONDS=0.5)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")
    received = received_by_address(smtp)
    assert sorted(received) == sorted(e for e in emails if e != emails[5])
    failed = [row for row in in_app(ledger, issue_id) if row[1] == "failed"]
    assert [(row[4], row[2]) for row in failed] == [(550, 1)]


# private_redis before workers: fixtures end in reverse order, so the workers stop while
# their broker still answers, as they would in production.
def test_campaign_completes_across_a_redis_restart(app, in_app, smtp, private_redis, workers):
    redis_url, restart = private_redis
    issue_id, emails = prepare(in_app, 120)
    # The watcher in the worker (beat) starts the stalled issue, then keeps it going.
    workers(
        app,
        "steady",
        beat=True,
        REDIS_URL=redis_url,
        WATCH_INTERVAL=1,
        DELIVERY_LEASE_SECONDS=2,
        DELIVERY_BATCH_SIZE=10,
        SEND_RATE_PER_SECOND=40,
        DELIVERY_RETRY_SECONDS=0.5,
    )
    wait_until(lambda: len(smtp.received) >= 20, 30, "the first messages")
    restart()
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 90, "the campaign")
    received = received_by_address(smtp)
    assert sorted(received) == sorted(emails)


def test_rate_limit_holds_across_two_workers(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 100)
    limit = 20
    for name in ("left", "right"):
        workers(app, name, SEND_RATE_PER_SECOND=limit, DELIVERY_BATCH_SIZE=5)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")

    arrivals = sorted(item.at for item in smtp.received)
    assert len(arrivals) == len(emails)
    assert len({item.peer for item in smtp.received}) >= 2, "both workers sent"
    per_second = collections.Counter(int(at) for at in arrivals)
    # Budgets are per wall-clock second, and a batch granted late in one second can arrive
    # in the next (each worker may hold one), so the arrivals of two seconds come from at
    # most three budgets. Two workers each spending a budget of their own would send four.
    windows = [per_second[second] + per_second[second + 1] for second in per_second]
    assert max(windows) <= 3 * limit, per_second
    assert arrivals[-1] - arrivals[0] >= len(emails) / limit - 2


def test_campaign_progress_is_seen_from_outside_while_it_runs(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 60)
    workers(app, "slow", SEND_RATE_PER_SECOND=20, DELIVERY_BATCH_SIZE=5)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: len(smtp.received) >= 10, 30, "the first messages")
    midway = in_app(campaign_progress.progress, issue_id)
    assert 0 < midway.overall.sent < len(emails)
    assert midway.overall.remaining > 0
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")
    final = in_app(campaign_progress.progress, issue_id)
    assert final.overall.sent == len(emails) and final.overall.remaining == 0


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """A Prometheus page as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=5) as response:
        page = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def test_a_worker_serves_what_its_pool_processes_sent(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 60)
    smtp.refuse(emails[7], "550 5.1.1 Unknown user")
    port = free_port()
    workers(app, "counted", pool="prefork", WORKER_METRICS_PORT=port, DELIVERY_BATCH_SIZE=10)
    url = f"http://127.0.0.1:{port}/metrics"
    before = scrape(url)
    assert before[("newsletter_ledger_backlog", ())] == 60
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")

    after = scrape(url)
    assert after[("newsletter_messages_total", (("outcome", "sent"),))] == 59
    assert after[("newsletter_messages_total", (("outcome", "failed"),))] == 1
    assert after[("newsletter_batch_seconds_count", ())] >= 6
    # The issue is sent, so nothing of it is waiting any more.
    assert after[("newsletter_ledger_backlog", ())] == 0


def test_json_logs_name_issues_and_batches_and_never_an_address(app, in_app, smtp, workers):
    issue_id, emails = prepare(in_app, 30)
    worker = workers(app, "logged", LOG_FORMAT="json", DELIVERY_BATCH_SIZE=10)
    in_app(dispatch_delivery, issue_id)
    wait_until(lambda: in_app(issue_status, issue_id) == IssueStatus.SENT, 60, "the campaign")
    wait_until(
        lambda: any('"campaign_sent"' in line for line in worker.output), 10, "the last line"
    )

    # The banner is printed, not logged; every logged line is one JSON object.
    logged = [json.loads(line) for line in worker.output if line.startswith("{")]
    assert any(entry["message"].endswith(" ready.") for entry in logged)
    batches = [entry for entry in logged if entry.get("event") == "batch"]
    assert sum(entry["sent"] for entry in batches) == 30
    assert {entry["issue_id"] for entry in batches} == {issue_id}
    assert all(entry["batch_size"] <= 10 and entry["level"] == "INFO" for entry in batches)
    assert [e["issue_id"] for e in logged if e.get("event") == "campaign_sent"] == [issue_id]
    text = "".join(worker.output)
    assert not [email for email in emails if email in text]
