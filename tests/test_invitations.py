"""Invitations: an issue with an event block carries RSVP links signed for each recipient,
in their language; the answers are recorded only by a POST; a Yes leads to the
registration questions; the people of an event are an issue's audience; reminders."""

import re
from datetime import timedelta

from campaign_helpers import send_all, start
from factories import make_lists, make_subscriber, make_user
from helpers import csrf_token, log_in, tasks_done
from test_registrations import make_event, register, statuses

from newsletter import campaigns, event_issues, invitations, subscriptions
from newsletter.extensions import db
from newsletter.models import (
    Event,
    EventGroup,
    Invitation,
    Issue,
    IssueStatus,
    Rsvp,
    Subscriber,
    SubscriberStatus,
    utcnow,
)

RSVP = re.compile(r"http://\S+/(\w\w)/rsvp/([\w.-]+)\?answer=(yes|maybe|no)")


def invitation_issue(event_id: int, list_ids) -> int:
    issue = campaigns.create_issue("Invitation", "en", set(list_ids))
    for language, intro in (("en", "Come!"), ("fr", "Venez !"), ("de", "Kommen Sie!")):
        body = f"{intro}\n\n::event[{event_id}]\n\nThanks."
        campaigns.set_variant(issue, language, f"Invitation {language}", body)
    db.session.commit()
    return issue.id


def readers() -> dict[str, int]:
    ids = make_lists()
    found = {}
    for email, language in (
        ("ana@example.org", "en"),
        ("bea@example.org", "fr"),
        ("carl@example.org", "de"),
    ):
        found[email] = make_subscriber(email, language, list_ids=(ids["newsletter"],)).id
    return {"lists": [ids["newsletter"]], **found}


def rsvp_links(message) -> dict[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return {
        answer: f"/{lang}/rsvp/{token}?answer={answer}"
        for lang, token, answer in RSVP.findall(text)
    }


def invite_everyone(in_app, smtp) -> tuple[int, dict, dict]:
    event_id = in_app(make_event, 3, True)
    people = in_app(readers)
    issue_id = in_app(invitation_issue, event_id, people["lists"])
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    mails = {item.recipients[0]: item.message for item in smtp.wait_for(3)}
    return event_id, people, mails


def rows(model, **where) -> list:
    return list(db.session.execute(db.select(model).filter_by(**where)).scalars())


def test_each_recipient_gets_rsvp_links_of_their_own_in_their_language(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    tokens = set()
    for email, language in (
        ("ana@example.org", "en"),
        ("bea@example.org", "fr"),
        ("carl@example.org", "de"),
    ):
        message = mails[email]
        links = rsvp_links(message)
        assert set(links) == {"yes", "maybe", "no"}
        assert all(link.startswith(f"/{language}/rsvp/") for link in links.values())
        html = message.get_body(preferencelist=("html",)).get_content()
        assert 'data-rsvp="yes"' in html and f"/{language}/events/{event_id}" in html
        tokens.add(links["yes"].split("/")[3].split("?")[0])
        if language == "fr":
            assert "Séminaire" in html and "Viendrez-vous" in html
    assert len(tokens) == 3, "each recipient's links are their own"
    assert in_app(lambda: [(i.issue_id, i.event_id) for i in rows(Invitation)])[0][1] == event_id
    # The archive's copy has no one's token: its buttons lead to the event page.
    issue_id = in_app(lambda: rows(Issue)[0].id)
    archived = client.get(f"/en/issues/{issue_id}").get_data(as_text=True)
    assert "/rsvp/" not in archived and f"/en/events/{event_id}" in archived


def test_opening_a_link_records_nothing_and_the_button_records_the_answer(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    maybe = rsvp_links(mails["bea@example.org"])["maybe"]
    page = client.get(maybe)
    assert page.status_code == 200
    assert 'data-testid="rsvp-maybe"' in page.get_data(as_text=True)
    assert in_app(rows, Rsvp) == []
    token = csrf_token(client, maybe)
    answered = client.post(maybe.split("?")[0], data={"csrf_token": token, "answer": "maybe"})
    assert answered.status_code == 302
    [rsvp] = in_app(rows, Rsvp)
    assert (rsvp.subscriber_id, rsvp.answer.value) == (people["bea@example.org"], "maybe")
    page = client.get(answered.location).get_data(as_text=True)
    assert "Votre réponse" in page and "Peut-être" in page
    # Answering again changes the answer; there is still one row.
    client.post(maybe.split("?")[0], data={"csrf_token": token, "answer": "no"})
    assert [r.answer.value for r in in_app(rows, Rsvp)] == ["no"]
    counts = in_app(invitations.answer_counts, event_id)
    assert counts["invited"] == {"all": 3, "en": 1, "fr": 1, "de": 1}
    assert counts["no"] == {"all": 1, "fr": 1} and counts["maybe"]["all"] == 0


def test_a_yes_leads_to_the_questions_with_the_name_filled_in(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)

    def name_ana():
        db.session.get(Subscriber, people["ana@example.org"]).name = "Ana"
        db.session.commit()

    in_app(name_ana)
    yes = rsvp_links(mails["ana@example.org"])["yes"]
    token = csrf_token(client, yes)
    answered = client.post(yes.split("?")[0], data={"csrf_token": token, "answer": "yes"})
    assert answered.location.endswith("/register")
    form = client.get(answered.location).get_data(as_text=True)
    assert 'value="Ana"' in form and "ana@example.org" in form
    smtp.reset()
    # A forged address in the POST is ignored: the invitation's address registers.
    done = client.post(
        answered.location,
        data={"csrf_token": token, "name": "Ana B", "email": "mallory@example.org"},
    )
    tasks_done()
    assert done.status_code == 302 and "/registrations/" in done.location
    assert in_app(statuses, event_id) == {"ana@example.org": "registered"}
    [mail] = [item.message for item in smtp.wait_for(1)]
    assert mail["To"].endswith("<ana@example.org>")


def test_forged_and_foreign_tokens_are_refused_and_write_nothing(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    yes = rsvp_links(mails["ana@example.org"])["yes"].split("?")[0]
    good = yes.rsplit("/", 1)[1]
    other_event = in_app(make_event)
    forged = [
        "test",
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # the signature broken
        # Signed with another key: what someone without the secret could make.
        invitations._serializer("not-the-key").dumps([people["bea@example.org"], event_id, "x"]),
        "x" * 300,
    ]
    token = csrf_token(client, f"/en/events/{event_id}")
    for bad in forged:
        page = client.post(f"/en/rsvp/{bad}", data={"csrf_token": token, "answer": "yes"})
        assert page.status_code == 404, bad
        assert "not valid" in page.get_data(as_text=True)

    # A link for one person is theirs alone: another subscriber's row with a reused id (a
    # new token) does not accept it.
    def replace_ana():
        ana = db.session.get(Subscriber, people["ana@example.org"])
        ana.token = "rotated-token-of-another-person"
        db.session.commit()

    in_app(replace_ana)
    page = client.post(yes, data={"csrf_token": token, "answer": "yes"})
    assert page.status_code == 404
    assert in_app(rows, Rsvp) == []
    # A bad answer is refused clearly.
    bea = rsvp_links(mails["bea@example.org"])["yes"].split("?")[0]
    bad_answer = client.post(bea, data={"csrf_token": token, "answer": "perhaps"})
    assert bad_answer.status_code == 400
    assert in_app(rows, Rsvp) == []
    assert other_event != event_id


def test_links_expire_when_registration_closes(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    link = rsvp_links(mails["carl@example.org"])["yes"]

    def close():
        db.session.get(Event, event_id).registration_deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()

    in_app(close)
    assert client.get(link).status_code == 409
    token = csrf_token(client, "/de/")
    refused = client.post(link.split("?")[0], data={"csrf_token": token, "answer": "yes"})
    assert refused.status_code == 409
    assert "abgelaufen" in refused.get_data(as_text=True)
    assert in_app(rows, Rsvp) == []


def test_a_no_gives_up_the_place_and_the_waiting_person_moves_up(client, in_app, smtp):
    event_id = in_app(make_event, 1, True)
    people = in_app(readers)
    register(client, "en", event_id, "ana@example.org")  # a confirmed subscriber: a place
    register(client, "fr", event_id, "bea@example.org")  # the waiting list
    assert in_app(statuses, event_id) == {
        "ana@example.org": "registered",
        "bea@example.org": "waiting",
    }
    token = in_app(
        invitations.rsvp_token,
        people["ana@example.org"],
        in_app(lambda: db.session.get(Subscriber, people["ana@example.org"]).token),
        event_id,
    )
    smtp.reset()
    client.post(
        f"/en/rsvp/{token}",
        data={"csrf_token": csrf_token(client, f"/en/rsvp/{token}"), "answer": "no"},
    )
    tasks_done()
    assert in_app(statuses, event_id) == {
        "ana@example.org": "cancelled",
        "bea@example.org": "registered",
    }
    [mail] = [item.message for item in smtp.wait_for(1)]
    assert mail["Content-Language"] == "fr" and "place" in mail["Subject"]


def test_the_people_of_an_event_are_an_audience(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    maybe = rsvp_links(mails["bea@example.org"])["maybe"].split("?")[0]
    client.post(maybe, data={"csrf_token": csrf_token(client, maybe), "answer": "maybe"})
    register(client, "en", event_id, "ana@example.org")
    # Someone who was not a subscriber registers on the page and confirms by mail.
    smtp.reset()
    register(client, "de", event_id, "dora@example.org", "Dora")
    [confirmation] = [item.message for item in smtp.wait_for(1)]
    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    confirm = "/" + re.search(r"http://\S+/registrations/[\w-]+/confirm", text)[0].split("/", 3)[3]
    client.post(confirm, data={"csrf_token": csrf_token(client, confirm)})
    tasks_done()
    dora = in_app(subscriptions.find_subscriber, "dora@example.org")
    assert dora.status == SubscriberStatus.CONFIRMED and dora.language == "de"
    assert in_app(
        lambda: [c.source for c in subscriptions.find_subscriber("dora@example.org").consents]
    ) == ["event-registration"]

    def reached(group: EventGroup) -> set[str]:
        audience = campaigns.EventAudience(event_id, group)
        return {
            language
            for language, _second, _count in campaigns.reader_language_orders(set(), None, audience)
        }, campaigns.reader_languages(set(), None, audience)

    assert in_app(reached, EventGroup.REGISTERED)[1] == {"en": 1, "de": 1}
    assert in_app(reached, EventGroup.MAYBE)[1] == {"fr": 1}
    assert in_app(reached, EventGroup.NO_ANSWER)[1] == {"de": 1}  # Carl
    assert in_app(reached, EventGroup.YES)[1] == {}

    # The reminders go only to the registered, through the ledger, in their language.
    def remind() -> list[int]:
        written = event_issues.write_reminders(db.session.get(Event, event_id))
        db.session.commit()
        return [issue.id for issue in written]

    reminder_ids = in_app(remind)
    assert len(reminder_ids) == 2
    assert in_app(lambda: [db.session.get(Issue, i).status for i in reminder_ids]) == [
        IssueStatus.SCHEDULED,
        IssueStatus.SCHEDULED,
    ]
    smtp.reset()
    in_app(start, reminder_ids[1])
    in_app(send_all, reminder_ids[1])
    received = {item.recipients[0]: item.message for item in smtp.settle()}
    assert set(received) == {"ana@example.org", "dora@example.org"}
    assert received["dora@example.org"]["Content-Language"] == "de"
    assert "Erinnerung" in received["dora@example.org"]["Subject"]


def test_an_event_audience_is_chosen_in_the_composer_and_the_api(client, in_app, smtp):
    event_id, people, mails = invite_everyone(in_app, smtp)
    in_app(make_user, "editor@example.org")
    log_in(client, "editor@example.org")
    page = client.get("/admin/issues/new").get_data(as_text=True)
    assert f'value="{event_id}:registered"' in page
    token = csrf_token(client, "/admin/issues/new")
    saved = client.post(
        "/admin/issues/new",
        data={
            "csrf_token": token,
            "name": "Change of venue",
            "default_language": "en",
            "fallback": "default",
            "audience_event": f"{event_id}:no_answer",
            "variant_en-subject": "New place",
            "variant_en-body": "We moved.",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    issue = in_app(lambda: rows(Issue, name="Change of venue")[0])
    assert (issue.audience_event_id, issue.audience_event_group) == (event_id, EventGroup.NO_ANSWER)
    confirm = client.get(f"/admin/issues/{issue.id}/send").get_data(as_text=True)
    assert "Invited to Seminar, no answer yet" in confirm
    assert 'data-testid="audience-total">3<' in confirm  # nobody answered yet
    # A forged group or event is refused and nothing is saved.
    for forged in (f"{event_id}:everyone", "999999:registered", "x"):
        refused = client.post(
            "/admin/issues/new",
            data={
                "csrf_token": token,
                "name": "Forged",
                "default_language": "en",
                "fallback": "default",
                "audience_event": forged,
                "variant_en-subject": "S",
                "variant_en-body": "B",
            },
        )
        assert refused.status_code in (400, 422), forged
    assert in_app(rows, Issue, name="Forged") == []


def test_a_block_for_an_event_nobody_can_see_is_flagged_before_sending(in_app):
    from newsletter.mail.checks import source_findings

    def findings(body: str) -> list[str]:
        return [finding.code for finding in source_findings(body)]

    event_id = in_app(make_event)
    assert in_app(findings, f"Come!\n\n::event[{event_id}]") == []
    assert in_app(findings, "Come!\n\n::event[999999]") == ["event_not_shown"]

    def unpublish():
        db.session.get(Event, event_id).published = False
        db.session.commit()

    in_app(unpublish)
    assert in_app(findings, f"::event[{event_id}]") == ["event_not_shown"]
