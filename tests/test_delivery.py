"""Delivering an issue: languages, fallback, who gets nothing, headers, failures, control."""

import base64
import re
import subprocess
from datetime import timedelta

import dkim
import pytest
from campaign_helpers import BODIES, configured, ledger, make_audience, make_issue, send_all, start
from factories import make_lists, make_subscriber, subscriber_state

from newsletter import campaign_progress, campaigns, delivery, tasks, translation_status
from newsletter.campaigns import CampaignError
from newsletter.extensions import db
from newsletter.models import Delivery, Fallback, Issue, IssueStatus, SubscriberStatus, utcnow


def by_recipient(received) -> dict:
    result = {}
    for item in received:
        for address in item.recipients:
            result.setdefault(address, []).append(item)
    return result


def test_everyone_gets_exactly_one_mail_in_their_language(app, client, in_app, smtp, translated):
    audience = in_app(make_audience)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    # The ledger also holds the suppressed (still confirmed) address, skipped at send time.
    assert in_app(start, issue_id) == len(audience["expected"]) + 1
    in_app(send_all, issue_id)

    received = by_recipient(smtp.settle())
    assert set(received) == set(audience["expected"]), "nobody missed, nobody extra"
    for email, language in audience["expected"].items():
        [item] = received[email]
        message = item.message
        variant = language if language in BODIES else "en"  # Italian falls back to English
        subject, _body = BODIES[variant]
        assert message["Subject"] == subject
        assert message["Content-Language"] == variant
        html = message.get_body(preferencelist=("html",)).get_content()
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "<strong>" in html and BODIES[variant][1].split("**")[1] in html
        assert translated(variant, "Hello %(name)s,", name="Reader 0") in text or (
            translated(variant, "Hello %(name)s,", name="Reader 1") in text
        )
        why = translated(variant, "You receive this email because you subscribed to our news.")
        assert why in text and why in html
        assert translated(variant, "Unsubscribe") in html
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "<issues.newsletter.test>"
        assert all(len(line) <= 998 for line in item.data.split(b"\r\n"))
        assert b"\n" not in item.data.replace(b"\r\n", b"")

    progress = in_app(campaign_progress.progress, issue_id)
    assert progress.overall.sent == len(audience["expected"])
    assert progress.languages["en"].sent == 2 + 1
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.SENT


def test_personal_unsubscribe_link_works_with_one_click(app, client, in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    message = by_recipient(smtp.settle())["es0@example.org"][0].message
    https_url = re.search(r"<(http[^>]+)>", message["List-Unsubscribe"])[1]
    assert "mailto:" in message["List-Unsubscribe"]
    assert https_url.startswith("http://newsletter.test/es/unsubscribe/")
    browserless = app.test_client(use_cookies=False)
    response = browserless.post(
        https_url.removeprefix("http://newsletter.test"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert in_app(subscriber_state, "es0@example.org").status == SubscriberStatus.UNSUBSCRIBED
    html = message.get_body(preferencelist=("html",)).get_content()
    assert https_url in html.replace("&amp;", "&"), "the footer carries the same link"


def test_fallback_skip_sends_nothing_to_languages_without_a_variant(in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]], fallback=Fallback.SKIP)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    received = by_recipient(smtp.settle())
    assert "it0@example.org" not in received
    assert set(received) == {e for e, lang in audience["expected"].items() if lang != "it"}
    progress = in_app(campaign_progress.progress, issue_id)
    assert progress.languages["-"].skipped == 1, "counted as skipped, with no variant"


def test_audience_can_be_narrowed_to_languages(in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(
        make_issue, [audience["lists"]["newsletter"]], audience_languages=["es", "de"]
    )
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    assert set(by_recipient(smtp.settle())) == {"es0@example.org", "de0@example.org"}


def test_message_ids_are_deterministic_per_issue_and_subscriber(in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    rows = {row[0]: row[3] for row in in_app(ledger, issue_id) if row[1] == "sent"}
    sent_ids = {item.message["Message-ID"] for item in smtp.settle()}
    assert sent_ids == set(rows.values())
    state = in_app(subscriber_state, "fr0@example.org")
    assert rows[state.id].startswith(f"<{issue_id}.{state.id}.")


def test_unsubscribing_mid_campaign_stops_the_mail(in_app, smtp, app):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)

    def leave():
        from newsletter.models import Subscriber

        person = db.session.execute(db.select(Subscriber).filter_by(email="de0@example.org"))
        person.scalar_one().status = SubscriberStatus.UNSUBSCRIBED
        db.session.commit()

    in_app(leave)
    in_app(send_all, issue_id)
    assert "de0@example.org" not in by_recipient(smtp.settle())
    assert in_app(campaign_progress.progress, issue_id).languages["de"].skipped == 1


def test_temporary_refusals_are_retried_until_delivered(app, in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    smtp.refuse("en0@example.org", "421 4.7.0 Try again later", "451 4.3.0 Busy")
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    with configured(app, DELIVERY_RETRY_SECONDS=0.2):
        in_app(start, issue_id)
        in_app(send_all, issue_id)
    received = by_recipient(smtp.settle())
    assert set(received) == set(audience["expected"])
    assert len(received["en0@example.org"]) == 1
    state = in_app(subscriber_state, "en0@example.org")
    [row] = [r for r in in_app(ledger, issue_id) if r[0] == state.id]
    assert row[1:3] == ("sent", 3)


def test_permanent_refusal_fails_with_the_reason_and_is_not_retried(app, in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    smtp.refuse("fr0@example.org", "550 5.1.1 No such user here")
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    received = by_recipient(smtp.settle())
    assert "fr0@example.org" not in received
    state = in_app(subscriber_state, "fr0@example.org")
    [row] = [r for r in in_app(ledger, issue_id) if r[0] == state.id]
    assert row[1:3] == ("failed", 1)
    assert row[4] == 550 and "No such user" in row[5]
    progress = in_app(campaign_progress.progress, issue_id)
    assert progress.languages["fr"].failed == 1
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.SENT

    # "Resend to failed" queues only that row again; the others get no second copy.
    smtp.reset()

    def resend():
        count = campaigns.resend_failed(db.session.get(Issue, issue_id))
        db.session.commit()
        return count

    assert in_app(resend) == 1
    in_app(send_all, issue_id)
    assert [r.recipients for r in smtp.settle()] == [["fr0@example.org"]]


def test_a_message_refused_at_its_end_fails_alone_and_the_others_arrive_once(in_app, smtp):
    """The relay's verdict on a message comes with the next one's envelope (pipelining):
    it still lands on the right reader."""
    audience = in_app(make_audience, per_language=2)
    smtp.refuse_content("es1@example.org", "554 5.7.1 Message rejected as spam")
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    received = by_recipient(smtp.settle())
    assert set(received) == set(audience["expected"]) - {"es1@example.org"}
    assert all(len(items) == 1 for items in received.values())
    state = in_app(subscriber_state, "es1@example.org")
    rows = {row[0]: row for row in in_app(ledger, issue_id)}
    assert rows[state.id][1:3] == ("failed", 1)
    assert rows[state.id][4] == 554 and "rejected as spam" in rows[state.id][5]
    assert {row[1] for sid, row in rows.items() if sid != state.id} <= {"sent", "skipped"}


def test_server_down_the_campaign_waits_and_resumes(app, in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    with configured(app, SMTP_URL="smtp://127.0.0.1:9", DELIVERY_CONNECTION_RETRY_SECONDS=0.5):
        outcome = in_app(delivery.deliver_batch, issue_id)
    assert outcome.sent == 0 and outcome.retried >= len(audience["expected"])
    rows = [row for row in in_app(ledger, issue_id) if row[1] != "skipped"]
    assert {row[1] for row in rows} == {"queued"}
    assert {row[2] for row in rows} == {0}, "an unreachable server doesn't use up attempts"
    in_app(send_all, issue_id)
    assert set(by_recipient(smtp.settle())) == set(audience["expected"])


def test_pause_stops_within_a_batch_and_resume_sends_the_rest_once(app, in_app, smtp):
    audience = in_app(make_audience, per_language=2)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    with configured(app, DELIVERY_BATCH_SIZE=3):
        assert in_app(delivery.deliver_batch, issue_id).sent == 3

        def control(action):
            getattr(campaigns, action)(db.session.get(Issue, issue_id))
            db.session.commit()

        in_app(control, "pause")
        assert in_app(delivery.deliver_batch, issue_id).stop
        assert len(smtp.settle()) == 3
        in_app(control, "resume")
        in_app(send_all, issue_id)
    received = by_recipient(smtp.settle())
    assert set(received) == set(audience["expected"])
    assert all(len(items) == 1 for items in received.values())


def test_cancel_sends_nothing_more(app, in_app, smtp):
    audience = in_app(make_audience, per_language=2)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    with configured(app, DELIVERY_BATCH_SIZE=4):
        in_app(delivery.deliver_batch, issue_id)
        in_app(lambda: (campaigns.cancel(db.session.get(Issue, issue_id)), db.session.commit()))
        assert in_app(delivery.deliver_batch, issue_id).stop
    progress = in_app(campaign_progress.progress, issue_id)
    # One batch of four, claimed in no set order: the suppressed address may be among them.
    assert progress.overall.sent + progress.overall.skipped == 4
    assert len(smtp.settle()) == progress.overall.sent
    assert progress.overall.remaining == len(audience["expected"]) + 1 - 4, "left unsent"


def test_transitions_are_enforced(in_app):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])

    def attempt(action):
        try:
            getattr(campaigns, action)(db.session.get(Issue, issue_id))
            db.session.commit()
            return "ok"
        except CampaignError:
            db.session.rollback()
            return "refused"

    assert in_app(attempt, "pause") == "refused", "a draft can't be paused"
    assert in_app(attempt, "resume") == "refused"
    assert in_app(attempt, "cancel") == "ok"
    assert in_app(attempt, "start_sending") == "refused", "a cancelled issue stays cancelled"


def test_an_issue_needs_its_default_variant_and_known_lists(in_app):
    audience = in_app(make_audience, per_language=1)

    def without_default():
        issue_id = make_issue([audience["lists"]["newsletter"]], languages=("es",))
        campaigns.start_sending(db.session.get(Issue, issue_id))

    with pytest.raises(CampaignError):
        in_app(without_default)
    with pytest.raises(CampaignError):
        in_app(make_issue, [999999])


def test_view_in_browser_shows_the_sent_issue_without_personal_data(client, in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    assert client.get(f"/de/issues/{issue_id}").status_code == 404, "drafts are not public"
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    message = by_recipient(smtp.settle())["de0@example.org"][0].message
    view_url = re.search(
        r"http://newsletter\.test(/de/issues/\d+)",
        message.get_body(preferencelist=("plain",)).get_content(),
    )[1]
    page = client.get(view_url).get_data(as_text=True)
    assert BODIES["de"][0] in page
    assert "__NL_" not in page and "Reader" not in page


def test_markup_in_a_body_is_sanitized(in_app, smtp):
    ids = in_app(lambda: make_audience(per_language=1)["lists"])

    def hostile_issue():
        issue = campaigns.create_issue("Hostile", "en", {ids["newsletter"]})
        campaigns.set_variant(
            issue,
            "en",
            "Hi",
            'Text <script>alert(1)</script> <a href="javascript:x()">x</a>'
            " <img src=x onerror=alert(1)>",
        )
        db.session.commit()
        return issue.id

    issue_id = in_app(hostile_issue)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    html = smtp.settle()[0].message.get_body(preferencelist=("html",)).get_content()
    assert "<script>alert" not in html and "javascript:" not in html and "onerror" not in html


def test_progress_counts_each_state_in_one_query(in_app, smtp):
    audience = in_app(make_audience, per_language=1)
    in_app(make_subscriber, "late@example.org", "es", list_ids=(audience["lists"]["newsletter"],))
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]], fallback=Fallback.SKIP)
    in_app(start, issue_id)
    before = in_app(campaign_progress.progress, issue_id)
    assert before.languages["es"].queued == 2 and before.overall.remaining == 6
    in_app(send_all, issue_id)
    after = in_app(campaign_progress.progress, issue_id)
    assert after.languages["es"].sent == 2 and after.overall.remaining == 0
    assert after.rate > 0


@pytest.fixture
def dkim_key(tmp_path):
    key = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return key, record


def test_dkim_signature_covers_list_unsubscribe_and_verifies(app, in_app, smtp, dkim_key):
    key, record = dkim_key
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    with configured(app, DKIM_SELECTOR="news", DKIM_KEY_FILE=str(key)):
        in_app(start, issue_id)
        in_app(send_all, issue_id)
    received = smtp.settle()
    assert received

    def dns(name, timeout=5):
        return record if name == b"news._domainkey.newsletter.test." else None

    for item in received:
        signature = item.message["DKIM-Signature"]
        assert "d=newsletter.test" in signature.replace(" ", "")
        signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", ""))[1]
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(
            signed.lower().split(":")
        )
        assert dkim.verify(item.data, dnsfunc=dns)
        assert "a=rsa-sha256" in signature
        tampered = item.data.replace(b"List-Id: <issues.", b"List-Id: <other.")
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_the_watcher_tells_a_stalled_issue_from_a_slow_one(app, in_app):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)
    with configured(app, DELIVERY_BATCH_SIZE=2):
        in_app(delivery.deliver_batch, issue_id)
    assert in_app(campaigns.stalled_issues, 60) == [], "rows were just worked on"

    def age_ledger():
        db.session.execute(db.update(Delivery).values(updated_at=utcnow() - timedelta(seconds=120)))
        db.session.commit()

    in_app(age_ledger)
    assert in_app(campaigns.stalled_issues, 60) == [issue_id]


def test_the_watcher_starts_due_issues_and_leaves_one_that_cannot_start(app, in_app):
    """A scheduled issue whose default text was removed stays scheduled; it does not stop
    the watcher from starting the due issues after it."""
    lists = in_app(make_lists)
    broken_id = in_app(make_issue, [lists["newsletter"]], ("en", "es"))
    ready_id = in_app(make_issue, [lists["newsletter"]], ("en",))
    later_id = in_app(make_issue, [lists["newsletter"]], ("en",))
    in_app(make_subscriber, "reader@example.org", "en", list_ids=(lists["newsletter"],))

    def schedule_all():
        for issue_id, when in (
            (broken_id, utcnow() - timedelta(minutes=2)),
            (ready_id, utcnow() - timedelta(minutes=1)),
            (later_id, utcnow() + timedelta(hours=1)),
        ):
            campaigns.schedule(db.session.get(Issue, issue_id), when)
        broken = db.session.get(Issue, broken_id)
        broken.variants.remove(broken.variant("en"))
        db.session.commit()

    in_app(schedule_all)
    in_app(tasks.watch_campaigns)

    def states():
        return {i: db.session.get(Issue, i).status for i in (broken_id, ready_id, later_id)}

    assert in_app(states) == {
        broken_id: IssueStatus.SCHEDULED,
        ready_id: IssueStatus.SENDING,
        later_id: IssueStatus.SCHEDULED,
    }
    assert [row[1] for row in in_app(ledger, ready_id)] == ["queued"]
    assert in_app(ledger, broken_id) == []


def test_long_non_ascii_subject_is_encoded_and_folded_with_crlf(in_app, smtp):
    ids = in_app(lambda: make_audience(per_language=1)["lists"])
    subject = "Última convocatoria: asamblea internacional de primavera — ¡participe! " * 2

    def issue():
        created = campaigns.create_issue("Long", "en", {ids["newsletter"]})
        campaigns.set_variant(created, "en", subject, "Body")
        db.session.commit()
        return created.id

    issue_id = in_app(issue)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    item = smtp.settle()[0]
    header = item.data.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header
    assert b"\n" not in header.replace(b"\r\n", b"")
    assert item.message["Subject"] == " ".join(subject.split())


def test_an_issue_can_not_be_changed_once_sending_started(in_app):
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    in_app(start, issue_id)

    def edit():
        campaigns.set_variant(db.session.get(Issue, issue_id), "en", "Changed", "Changed body")

    with pytest.raises(CampaignError):
        in_app(edit)
    with pytest.raises(CampaignError):
        in_app(lambda: campaigns.set_audience(db.session.get(Issue, issue_id), {999}))
    subject = in_app(lambda: db.session.get(Issue, issue_id).variant("en").subject)
    assert subject == BODIES["en"][0]


def _language_order_audience() -> int:
    ids = make_lists()
    for email, language, second in [
        ("ca-es@example.org", "ca", "es"),
        ("de-en@example.org", "de", "en"),
        ("de@example.org", "de", None),
    ]:
        subscriber = make_subscriber(email, language, list_ids=(ids["newsletter"],))
        subscriber.second_language = second
    db.session.commit()
    return ids["newsletter"]


@pytest.mark.parametrize("fallback", [Fallback.SKIP, Fallback.DEFAULT])
def test_the_second_language_comes_before_the_fallback_rule(in_app, smtp, fallback):
    newsletter = in_app(_language_order_audience)
    issue_id = in_app(make_issue, [newsletter], languages=("en", "es"), fallback=fallback)
    counts = in_app(lambda: campaigns.issue_audience_counts(db.session.get(Issue, issue_id)))
    plan = in_app(
        lambda: {
            (item.language, item.outcome): item.readers
            for item in translation_status.send_plan(db.session.get(Issue, issue_id))
        }
    )
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    received = {email: items[0].message for email, items in by_recipient(smtp.settle()).items()}
    # The review page's plan tells the same story as the mail that arrived.
    assert plan[("ca", "second_language")] == 1 and plan[("de", "second_language")] == 1
    assert plan[("de", "skipped" if fallback == Fallback.SKIP else "fallback")] == 1
    assert received["ca-es@example.org"]["Subject"] == BODIES["es"][0]
    assert received["de-en@example.org"]["Subject"] == BODIES["en"][0]
    if fallback == Fallback.SKIP:
        assert "de@example.org" not in received
        assert counts.skipped == 1
    else:
        assert received["de@example.org"]["Subject"] == BODIES["en"][0]
        assert counts.via_fallback["en"] == 1
    delivered = {"en": 0, "es": 0}
    for message in received.values():
        delivered[message["Content-Language"]] += 1
    assert {code: counts.per_variant[code] for code in delivered} == delivered
