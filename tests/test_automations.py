"""Automated issues: the welcome and its follow-ups, per language, through the ledger."""

import re
from datetime import timedelta

import pytest
from campaign_helpers import send_all
from factories import make_lists, make_subscriber, make_user
from helpers import csrf_token, log_in
from test_admin_issues import form_data
from test_subscribe import _confirm, confirm_link, subscribe
from workers import WorkerProcess

from newsletter import automations, campaigns, tasks
from newsletter.extensions import db
from newsletter.models import Delivery, Issue, IssueStatus, Subscriber, utcnow

WELCOME = {
    "en": ("Welcome", "Thank you for joining us."),
    "es": ("Bienvenida", "Gracias por unirse."),
    "fr": ("Bienvenue", "Merci de nous avoir rejoints."),
    "de": ("Willkommen", "Danke, dass Sie dabei sind."),
}
FOLLOW_UP = {code: (f"{subject}: part 2", "What we do.") for code, (subject, _b) in WELCOME.items()}


def make_automation(list_ids, days: int, texts=WELCOME, switched_on=True) -> int:
    issue = campaigns.create_issue(f"After {days} days", "en", set(list_ids))
    campaigns.set_automation(issue, days)
    for language, (subject, body) in texts.items():
        campaigns.set_variant(issue, language, subject, body)
    if switched_on:
        campaigns.start_sending(issue)
    db.session.commit()
    return issue.id


def rows(issue_id: int) -> dict[str, tuple]:
    """The issue's ledger by address: (state, language, due in whole days from now)."""
    found = db.session.execute(
        db.select(Subscriber.email, Delivery.state, Delivery.language, Delivery.next_attempt_at)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.issue_id == issue_id)
    ).all()
    now = utcnow()
    return {
        email: (state.value, language, round((due - now).total_seconds() / 86400))
        for email, state, language, due in found
    }


def make_due(issue_id: int) -> None:
    """Let the days pass: the issue's waiting rows fall due."""
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.issue_id == issue_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def join(client, smtp, lang: str, email: str, list_ids) -> None:
    subscribe(client, lang, email, list_ids)
    [mail] = smtp.wait_for(1)
    assert _confirm(client, *confirm_link(mail.message)).status_code == 200
    smtp.reset()


def test_each_new_subscriber_gets_the_welcome_at_once_and_the_follow_up_days_later(
    client, smtp, in_app
):
    lists = in_app(make_lists)
    in_app(make_subscriber, "before@example.org", "en", list_ids=(lists["newsletter"],))
    welcome = in_app(make_automation, [lists["newsletter"]], 0)
    follow_up = in_app(make_automation, [lists["newsletter"]], 3, FOLLOW_UP)

    join(client, smtp, "es", "lucia@example.org", [lists["newsletter"]])
    join(client, smtp, "de", "jonas@example.org", [lists["events"]])  # not its lists

    assert in_app(rows, welcome) == {"lucia@example.org": ("queued", "es", 0)}
    assert in_app(rows, follow_up) == {"lucia@example.org": ("queued", "es", 3)}
    assert in_app(automations.due_issues) == [welcome]

    in_app(send_all, welcome)
    [mail] = smtp.wait_for(1)
    assert mail.recipients == ["lucia@example.org"]
    assert mail.message["Subject"] == "Bienvenida"
    assert mail.message["Content-Language"] == "es"
    assert "List-Unsubscribe" in mail.message
    assert in_app(lambda: db.session.get(Issue, welcome).status) == IssueStatus.SENDING

    in_app(send_all, follow_up)
    assert smtp.settle() == [mail], "the follow-up waits for its day"
    in_app(make_due, follow_up)
    assert in_app(automations.due_issues) == [follow_up]
    in_app(send_all, follow_up)
    assert [m.message["Subject"] for m in smtp.settle()] == ["Bienvenida", "Bienvenida: part 2"]


def test_nobody_gets_a_welcome_twice_or_after_leaving(client, smtp, in_app):
    lists = in_app(make_lists)
    welcome = in_app(make_automation, [lists["newsletter"]], 0)
    follow_up = in_app(make_automation, [lists["newsletter"]], 7, FOLLOW_UP)
    join(client, smtp, "fr", "chloe@example.org", [lists["newsletter"]])
    join(client, smtp, "en", "ana@example.org", [lists["newsletter"], lists["events"]])
    in_app(send_all, welcome)
    assert len(smtp.wait_for(2)) == 2
    smtp.reset()

    # Chloé leaves everything, Ana only the newsletter: neither gets the follow-up.
    def leave():
        chloe = db.session.execute(
            db.select(Subscriber).where(Subscriber.email == "chloe@example.org")
        ).scalar_one()
        from newsletter import subscriptions

        subscriptions.unsubscribe(chloe, subscriptions.RequestInfo(None, None, "test"))
        ana = db.session.execute(
            db.select(Subscriber).where(Subscriber.email == "ana@example.org")
        ).scalar_one()
        subscriptions.set_lists(ana, {lists["events"]})
        db.session.commit()

    in_app(leave)
    in_app(make_due, follow_up)
    in_app(send_all, follow_up)
    assert smtp.settle() == []
    assert {state for state, _l, _d in in_app(rows, follow_up).values()} == {"skipped"}

    # Chloé comes back: confirmed again, but the welcome is not sent a second time.
    join(client, smtp, "fr", "chloe@example.org", [lists["newsletter"]])
    in_app(send_all, welcome)
    assert smtp.settle() == []
    assert in_app(rows, welcome)["chloe@example.org"][0] == "sent"


def test_adding_a_list_in_the_preference_centre_starts_its_welcome(client, smtp, in_app):
    lists = in_app(make_lists)
    welcome = in_app(make_automation, [lists["events"]], 0)
    token = in_app(
        lambda: make_subscriber("greta@example.org", "de", list_ids=(lists["newsletter"],)).token
    )
    url = f"/de/preferences/{token}"
    data = {
        "csrf_token": csrf_token(client, url),
        "name": "Greta",
        "language": "de",
        "second_language": "",
        "lists": [str(lists["newsletter"]), str(lists["events"])],
    }
    assert client.post(url, data=data).status_code == 302
    assert in_app(rows, welcome) == {"greta@example.org": ("queued", "de", 0)}
    in_app(send_all, welcome)
    assert smtp.wait_for(1)[0].message["Subject"] == "Willkommen"
    # Saving the same lists again adds nothing.
    data["csrf_token"] = csrf_token(client, url)
    assert client.post(url, data=data).status_code == 302
    assert len(in_app(rows, welcome)) == 1


def test_a_switched_off_or_paused_welcome_is_not_sent(client, smtp, in_app):
    lists = in_app(make_lists)
    draft = in_app(make_automation, [lists["newsletter"]], 0, switched_on=False)
    paused = in_app(make_automation, [lists["newsletter"]], 0)
    in_app(lambda: (campaigns.pause(db.session.get(Issue, paused)), db.session.commit()))
    cancelled = in_app(make_automation, [lists["newsletter"]], 0)
    in_app(lambda: (campaigns.cancel(db.session.get(Issue, cancelled)), db.session.commit()))

    join(client, smtp, "en", "ana@example.org", [lists["newsletter"]])
    assert in_app(rows, draft) == {} and in_app(rows, cancelled) == {}
    assert in_app(rows, paused) == {"ana@example.org": ("queued", "en", 0)}, "kept for resuming"
    assert in_app(automations.due_issues) == []
    in_app(send_all, paused)
    assert smtp.settle() == []


def test_a_confirmation_queues_its_welcome_and_the_watcher_what_falls_due(
    client, smtp, in_app, monkeypatch
):
    lists = in_app(make_lists)
    welcome = in_app(make_automation, [lists["newsletter"]], 0)
    follow_up = in_app(make_automation, [lists["newsletter"]], 2, FOLLOW_UP)
    asked, queued = [], []
    monkeypatch.setattr(tasks.send_automations, "delay", lambda: asked.append(1))
    monkeypatch.setattr(tasks.deliver_issue, "delay", queued.append)
    join(client, smtp, "en", "ana@example.org", [lists["newsletter"]])
    assert asked == [1], "the confirmation asks for the welcome at once"
    join(client, smtp, "en", "ben@example.org", [lists["events"]])
    assert asked == [1], "nothing due: nothing asked"

    in_app(tasks.watch_campaigns)
    assert queued == [welcome]
    in_app(send_all, welcome)
    in_app(tasks.watch_campaigns)
    assert queued == [welcome], "nothing is due any more"
    in_app(make_due, follow_up)
    in_app(tasks.watch_campaigns)
    assert queued == [welcome, follow_up]


@pytest.mark.integration
def test_a_worker_sends_the_welcome_right_after_the_confirmation(app, client, smtp, in_app):
    lists = in_app(make_lists)
    in_app(make_automation, [lists["newsletter"]], 0)
    worker = WorkerProcess(app, "automations").wait_ready()
    try:
        subscribe(client, "fr", "chloe@example.org", [lists["newsletter"]])
        [mail] = smtp.wait_for(1)
        smtp.reset()
        assert _confirm(client, *confirm_link(mail.message)).status_code == 200
        [welcome] = smtp.wait_for(1, timeout=30)
    finally:
        worker.stop()
    assert welcome.recipients == ["chloe@example.org"]
    assert welcome.message["Subject"] == "Bienvenue"


def test_the_composer_makes_an_automated_issue_and_refuses_bad_days(app, in_app):
    lists = in_app(make_lists)
    in_app(make_user, "editor@example.org", "editor")
    client = app.test_client()
    log_in(client, "editor@example.org")

    def post(**fields):
        token = csrf_token(client, "/admin/issues/new")
        data = form_data(token, [lists["newsletter"]], variants=WELCOME, **fields)
        return client.post("/admin/issues/new", data=data)

    def issue_count():
        return db.session.execute(db.select(db.func.count(Issue.id))).scalar()

    for days in ("-1", "366", "abc", "1e3"):
        response = post(automatic="y", sent_after_days=days)
        assert response.status_code == 400, days
    assert in_app(issue_count) == 0

    response = post(automatic="y", sent_after_days="2")
    issue_id = int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])
    assert in_app(lambda: db.session.get(Issue, issue_id).sent_after_days) == 2
    page = client.get(f"/admin/issues/{issue_id}/send").get_data(as_text=True)
    assert "Switch on" in page and "2 days after joining" in page
    assert client.get("/admin/issues").get_data(as_text=True).count("2 days after joining") == 1

    token = csrf_token(client, f"/admin/issues/{issue_id}/send")
    assert client.post(
        f"/admin/issues/{issue_id}/send", data={"csrf_token": token}
    ).status_code in (
        302,
        303,
    )
    issue = in_app(lambda: db.session.get(Issue, issue_id))
    assert issue.status == IssueStatus.SENDING and issue.ledger_total == 0
    page = client.get(f"/admin/issues/{issue_id}").get_data(as_text=True)
    assert 'data-testid="automation"' in page
    page = client.get("/admin/system-mails").get_data(as_text=True)
    assert "2 days after joining" in page, "the welcome and follow-ups are listed there"


def test_a_paused_automation_can_be_edited_and_its_next_readers_get_the_new_text(
    app, client, smtp, in_app
):
    lists = in_app(make_lists)
    welcome = in_app(make_automation, [lists["newsletter"]], 0)
    in_app(make_user, "editor@example.org", "editor")
    editor = app.test_client()
    log_in(editor, "editor@example.org")

    edit = f"/admin/issues/{welcome}/edit"
    changed = {**WELCOME, "en": ("Welcome aboard", "New text.")}
    data = form_data(
        csrf_token(editor, "/admin/issues/new"), [lists["newsletter"]], variants=changed
    )
    data |= {"automatic": "y", "sent_after_days": "0"}
    for code in WELCOME:
        data[f"variant_{code}-version"] = "1"

    def saved():
        issue = db.session.get(Issue, welcome)
        return issue.variant("en").subject, issue.sent_after_days

    refused = editor.post(edit, data=data)
    assert refused.location.endswith(f"/admin/issues/{welcome}"), "running: pause it first"
    assert in_app(saved) == ("Welcome", 0)

    in_app(lambda: (campaigns.pause(db.session.get(Issue, welcome)), db.session.commit()))
    data["csrf_token"] = csrf_token(editor, edit)
    response = editor.post(edit, data=data)
    assert response.location.endswith(edit), response.get_data(as_text=True)
    assert in_app(saved) == ("Welcome aboard", 0)
    changed = {**changed, "en": ("Welcome again", "New text.")}
    data = form_data(csrf_token(editor, edit), [lists["newsletter"]], variants=changed)
    data |= {"automatic": "y", "sent_after_days": "5"}
    data |= {f"variant_{code}-version": "2" if code == "en" else "1" for code in WELCOME}
    refused = editor.post(edit, data=data)
    assert refused.location.endswith(f"/admin/issues/{welcome}"), "its days stay as switched on"
    assert in_app(saved) == ("Welcome aboard", 0)

    in_app(lambda: (campaigns.resume(db.session.get(Issue, welcome)), db.session.commit()))
    join(client, smtp, "en", "ana@example.org", [lists["newsletter"]])
    in_app(send_all, welcome)
    assert smtp.wait_for(1)[0].message["Subject"] == "Welcome aboard"


def test_an_automation_goes_to_lists_not_to_an_event(in_app):
    from test_events import make_event

    lists = in_app(make_lists)
    event_id = in_app(make_event)

    def try_start():
        issue = campaigns.create_issue(
            "Welcome",
            "en",
            {lists["newsletter"]},
            event_audience=campaigns.EventAudience(event_id, campaigns.EventGroup.REGISTERED),
        )
        campaigns.set_automation(issue, 0)
        campaigns.set_variant(issue, "en", "Hello", "Text")
        with pytest.raises(campaigns.CampaignError, match="not to an event"):
            campaigns.start_sending(issue)
        with pytest.raises(campaigns.CampaignError, match="0 to 365"):
            campaigns.set_automation(issue, 400)
        db.session.rollback()

    in_app(try_start)


def test_the_api_creates_and_reports_automated_issues(app, client, in_app):
    from test_api_v1 import make_token

    lists = in_app(make_lists)
    headers = {"Authorization": f"Bearer {in_app(make_token)}"}
    base = {"name": "Welcome", "lists": [lists["newsletter"]]}
    for bad in (-1, 366, "3", True, 2.5):
        response = client.post(
            "/api/v1/issues", json=base | {"sent_after_days": bad}, headers=headers
        )
        assert response.status_code == 422, bad
    response = client.post("/api/v1/issues", json=base | {"sent_after_days": 0}, headers=headers)
    assert response.status_code == 201
    issue = response.get_json()
    assert issue["sent_after_days"] == 0
    response = client.patch(
        f"/api/v1/issues/{issue['id']}", json={"sent_after_days": None}, headers=headers
    )
    assert response.get_json()["sent_after_days"] is None
