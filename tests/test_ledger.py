"""The delivery ledger written in chunks: the first in the request, the rest by the delivery
tasks while they send; pause, cancel and two writers at once leave it exact."""

import threading

import pytest
from campaign_helpers import configured, ledger, send_all, start
from factories import make_lists, make_subscriber, make_user
from helpers import log_in

from newsletter import campaign_control, campaigns, delivery, tasks
from newsletter import ledger as ledger_module
from newsletter.accounts import create_token
from newsletter.extensions import db
from newsletter.models import Delivery, Issue, IssueStatus, Subscriber, SubscriberStatus, TokenScope


def make_readers(count: int) -> int:
    """``count`` confirmed readers (and one unsubscribed) on one list; an issue to them."""
    ids = make_lists()
    for number in range(count):
        make_subscriber(
            f"r{number}@example.org", ("en", "es")[number % 2], list_ids=[ids["newsletter"]]
        )
    make_subscriber(
        "gone@example.org", "en", SubscriberStatus.UNSUBSCRIBED, list_ids=[ids["newsletter"]]
    )
    issue = campaigns.create_issue("Big list", "en", {ids["newsletter"]})
    campaigns.set_variant(issue, "en", "Hello", "Body")
    campaigns.set_variant(issue, "es", "Hola", "Cuerpo")
    db.session.commit()
    return issue.id


def issue_state(issue_id: int) -> dict:
    issue = db.session.get(Issue, issue_id)
    return {
        "status": issue.status,
        "written": issue.ledger_written,
        "total": issue.ledger_total,
        "ready": issue.ledger_ready_at is not None,
        "rows": db.session.execute(
            db.select(db.func.count()).where(Delivery.issue_id == issue_id)
        ).scalar(),
    }


@pytest.fixture
def small_chunks(app):
    with configured(app, LEDGER_CHUNK_ROWS=3):
        yield


def test_a_small_list_is_written_whole_when_sending_starts(in_app):
    issue_id = in_app(make_readers, 5)
    assert in_app(start, issue_id) == 5
    assert in_app(issue_state, issue_id) == {
        "status": IssueStatus.SENDING,
        "written": 5,
        "total": 5,
        "ready": True,
        "rows": 5,
    }


def test_a_large_list_starts_with_one_chunk_and_the_workers_write_the_rest(
    in_app, smtp, small_chunks
):
    issue_id = in_app(make_readers, 11)
    assert in_app(start, issue_id) == 11, "the whole audience, counted at start"
    state = in_app(issue_state, issue_id)
    assert (state["written"], state["rows"], state["ready"]) == (3, 3, False)

    in_app(send_all, issue_id)
    state = in_app(issue_state, issue_id)
    assert state == {
        "status": IssueStatus.SENT,
        "written": 11,
        "total": 11,
        "ready": True,
        "rows": 11,
    }
    received = smtp.settle()
    addresses = sorted(address for item in received for address in item.recipients)
    assert addresses == sorted(f"r{number}@example.org" for number in range(11))


def test_the_audience_is_who_is_confirmed_when_their_chunk_is_written(in_app, smtp, small_chunks):
    """Someone who unsubscribes before their chunk is written gets nothing, and nobody is
    written twice."""
    issue_id = in_app(make_readers, 8)
    in_app(start, issue_id)

    def unsubscribe_the_last_reader():
        subscriber = db.session.execute(
            db.select(Subscriber).filter_by(email="r7@example.org")
        ).scalar_one()
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        db.session.commit()

    in_app(unsubscribe_the_last_reader)
    in_app(send_all, issue_id)
    rows = in_app(ledger, issue_id)
    assert len(rows) == 7 and len({row[0] for row in rows}) == 7
    assert "r7@example.org" not in {a for item in smtp.settle() for a in item.recipients}


def test_pause_stops_the_writing_and_resume_finishes_it(in_app, smtp, small_chunks):
    issue_id = in_app(make_readers, 10)
    in_app(start, issue_id)
    in_app(campaign_control.pause, issue_id)
    assert in_app(delivery.deliver_until, issue_id, float("inf")) is None
    assert in_app(issue_state, issue_id)["rows"] == 3, "nothing written while paused"
    assert not smtp.settle(quiet=0.3)

    in_app(campaigns_resume, issue_id)
    in_app(send_all, issue_id)
    state = in_app(issue_state, issue_id)
    assert (state["status"], state["rows"], state["ready"]) == (IssueStatus.SENT, 10, True)
    assert len(smtp.settle()) == 10


def campaigns_resume(issue_id: int) -> None:
    issue = db.session.get(Issue, issue_id)
    campaigns.resume(issue)
    db.session.commit()


def test_cancel_while_writing_writes_and_sends_nothing_more(in_app, smtp, small_chunks):
    issue_id = in_app(make_readers, 10)
    in_app(start, issue_id)
    in_app(campaign_control.cancel, issue_id)
    assert in_app(delivery.deliver_until, issue_id, float("inf")) is None
    state = in_app(issue_state, issue_id)
    assert (state["status"], state["rows"], state["ready"]) == (IssueStatus.CANCELLED, 3, False)
    assert not smtp.settle(quiet=0.3)


def test_an_issue_is_not_sent_before_its_ledger_is_complete(in_app, smtp, small_chunks):
    """The first chunk sent while the rest is unwritten: the issue goes on sending."""
    issue_id = in_app(make_readers, 7)
    in_app(start, issue_id)
    in_app(delivery.deliver_batch, issue_id)
    assert in_app(campaigns.finish_if_done, issue_id) is False
    assert in_app(issue_state, issue_id)["status"] == IssueStatus.SENDING


def test_the_watcher_resumes_an_issue_whose_writing_stalled(app, in_app, small_chunks):
    issue_id = in_app(make_readers, 7)
    in_app(start, issue_id)
    in_app(delivery.deliver_batch, issue_id)  # the first chunk is sent; nobody writes on
    assert in_app(campaigns.stalled_issues, 0) == [issue_id]
    with configured(app, DELIVERY_LEASE_SECONDS=3600):
        assert in_app(campaigns.stalled_issues, 3600) == [], "it was active a moment ago"


def test_progress_shows_how_far_the_list_is_written(app, editor_client, in_app, small_chunks):
    issue_id = in_app(make_readers, 10)
    in_app(start, issue_id)
    page = editor_client.get(f"/admin/issues/{issue_id}").get_data(as_text=True)
    assert "Writing the list of recipients: 3 of 10." in page
    payload = editor_client.get(f"/admin/issues/{issue_id}/progress.json").get_json()
    assert (payload["preparing"]["written"], payload["preparing"]["total"]) == (3, 10)

    in_app(make_user, "redakteurin@example.org", "editor", "de")
    german = app.test_client()
    log_in(german, "redakteurin@example.org")
    text = german.get(f"/admin/issues/{issue_id}/progress.json").get_json()["preparing"]["text"]
    assert text == "Die Empfängerliste wird geschrieben: 3 von 10."

    in_app(send_all, issue_id)
    assert (
        editor_client.get(f"/admin/issues/{issue_id}/progress.json").get_json()["preparing"] is None
    )
    page = editor_client.get(f"/admin/issues/{issue_id}").get_data(as_text=True)
    assert "Writing the list of recipients" not in page


def test_the_api_and_the_cli_show_the_preparation(app, client, in_app, small_chunks):
    issue_id = in_app(make_readers, 10)
    in_app(start, issue_id)
    secret = in_app(read_token)
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.get(f"/api/v1/issues/{issue_id}/progress", headers=headers)
    assert response.get_json()["preparing"] == {"written": 3, "total": 10}
    output = app.test_cli_runner().invoke(args=["issues", "status", str(issue_id)]).output
    assert "preparing: 3 of 10 recipients written" in output
    in_app(send_all, issue_id)
    response = client.get(f"/api/v1/issues/{issue_id}/progress", headers=headers)
    assert response.get_json()["preparing"] is None


def read_token() -> str:
    _token, secret = create_token("progress reader", TokenScope.READ)
    db.session.commit()
    return secret


def test_two_writers_at_once_write_each_reader_once(app, in_app, small_chunks):
    """Delivery tasks on several workers all try to write the next chunk: on PostgreSQL
    one takes the issue's row and the others skip it; SQLite takes turns."""
    issue_id = in_app(make_readers, 40)
    in_app(start, issue_id)
    errors = []

    def writer():
        try:
            for _ in range(20):
                in_app(ledger_module.write_next_chunk, issue_id)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    state = in_app(issue_state, issue_id)
    assert (state["rows"], state["written"], state["ready"]) == (40, 40, True)


def test_the_delivery_task_writes_and_sends_the_whole_list(in_app, smtp, small_chunks):
    issue_id = in_app(make_readers, 9)
    in_app(start, issue_id)
    in_app(tasks.deliver_issue.run, issue_id)
    assert in_app(issue_state, issue_id)["status"] == IssueStatus.SENT
    assert len(smtp.settle()) == 9
