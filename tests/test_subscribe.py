"""Subscribing in each language, the confirmation mail, and confirming."""

import re
import time

import pytest
from factories import make_lists, subscriber_state
from helpers import csrf_token, tasks_done
from itsdangerous import URLSafeTimedSerializer

from newsletter.models import ConsentAction, SubscriberStatus

LANGUAGES = ["en", "es", "fr", "de"]
CONFIRM_LINK = re.compile(r"http://newsletter\.test/(\w\w)/confirm/([\w.\-]+)")


def subscribe(
    client, lang: str, email: str, lists: list[int], name: str = "", second: str = ""
) -> object:
    token = csrf_token(client, f"/{lang}/")
    response = client.post(
        f"/{lang}/",
        data={
            "csrf_token": token,
            "email": email,
            "name": name,
            "language": lang,
            "second_language": second,
            "lists": [str(i) for i in lists],
        },
    )
    tasks_done()
    return response


def confirm_link(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    lang, token = CONFIRM_LINK.search(text).groups()
    return lang, token


def test_each_language_gets_one_confirmation_in_that_language(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    for lang in LANGUAGES:
        response = subscribe(
            client, lang, f"reader.{lang}@example.org", [lists["events"]], name=f"Reader {lang}"
        )
        assert response.status_code == 302
        assert response.headers["Location"] == f"/{lang}/thanks"

    received = smtp.wait_for(4)
    time.sleep(0.5)
    assert len(smtp.received) == 4, "exactly one confirmation per subscription"
    by_recipient = {r.recipients[0]: r for r in received}
    assert set(by_recipient) == {f"reader.{lang}@example.org" for lang in LANGUAGES}

    for lang in LANGUAGES:
        raw = by_recipient[f"reader.{lang}@example.org"].data
        message = by_recipient[f"reader.{lang}@example.org"].message
        subject = translated(lang, "Please confirm your subscription")
        if lang != "en":
            assert subject != "Please confirm your subscription", f"{lang} catalog missing"
        assert message["Subject"] == subject
        assert message["Content-Language"] == lang
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert message["Message-ID"].endswith("@newsletter.test>")
        assert message["Date"]
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        html = message.get_body(preferencelist=("html",)).get_content()
        text = message.get_body(preferencelist=("plain",)).get_content()
        button = translated(lang, "Confirm my subscription")
        assert button in html and button in text
        assert translated(lang, "Hello %(name)s,", name=f"Reader {lang}") in text
        assert translated(lang, "Unsubscribe") in html
        assert LIST_NAME[lang] in text
        assert "<link" not in html, "no external stylesheet or web font"
        assert confirm_link(message)[0] == lang


LIST_NAME = {"en": "Events", "es": "Eventos", "fr": "Événements", "de": "Veranstaltungen"}


def test_confirming_flips_status_and_records_consent(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    subscribe(client, "fr", "camille@example.org", [lists["newsletter"]])
    assert in_app(subscriber_state, "camille@example.org").status == SubscriberStatus.PENDING
    lang, token = confirm_link(smtp.wait_for(1)[0].message)

    page = client.get(f"/{lang}/confirm/{token}")
    assert page.status_code == 200
    assert translated("fr", "Confirm my subscription") in page.get_data(as_text=True)
    assert in_app(subscriber_state, "camille@example.org").status == SubscriberStatus.PENDING, (
        "opening the link (as a mail scanner would) must not confirm"
    )

    response = client.post(
        f"/{lang}/confirm/{token}",
        data={"csrf_token": csrf_token(client, f"/{lang}/confirm/{token}")},
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    assert response.status_code == 200
    assert translated("fr", "Thank you, your subscription is confirmed.") in response.get_data(
        as_text=True
    )
    person = in_app(subscriber_state, "camille@example.org")
    assert person.status == SubscriberStatus.CONFIRMED
    assert person.confirmed_at is not None
    assert person.list_ids == {lists["newsletter"]}
    actions = [(c.action, c.user_agent, c.list_ids) for c in person.consents]
    assert actions[0][0] == ConsentAction.SUBSCRIBE
    assert actions[-1] == (ConsentAction.CONFIRM, "TestBrowser/1.0", [lists["newsletter"]])
    assert all(c.ip == "127.0.0.1" and c.wording_version for c in person.consents)


def _confirm(client, lang, token):
    url = f"/{lang}/confirm/{token}"
    return client.post(url, data={"csrf_token": csrf_token(client, f"/{lang}/")})


def test_reused_link_says_so_and_changes_nothing(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    subscribe(client, "de", "jonas@example.org", [lists["events"]])
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    assert _confirm(client, lang, token).status_code == 200
    consents = len(in_app(subscriber_state, "jonas@example.org").consents)

    again = _confirm(client, lang, token)
    assert again.status_code == 200
    assert translated("de", "This link has already been used. Your subscription is active.") in (
        again.get_data(as_text=True)
    )
    assert len(in_app(subscriber_state, "jonas@example.org").consents) == consents


def test_tampered_link_is_refused_in_the_visitors_language(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    subscribe(client, "es", "lucia@example.org", [lists["events"]])
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (forged, "not-a-token", "x" * 5000):
        page = client.get(f"/es/confirm/{bad}")
        assert page.status_code == 400
        assert translated("es", "This link is not valid") in page.get_data(as_text=True)
        refused = _confirm(client, "es", bad)
        assert refused.status_code == 400
    assert in_app(subscriber_state, "lucia@example.org").status == SubscriberStatus.PENDING


def test_token_signed_with_another_key_is_refused(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    subscribe(client, "en", "mallory@example.org", [lists["events"]])
    person = in_app(subscriber_state, "mallory@example.org")
    forged = URLSafeTimedSerializer("guessed-key", salt="confirm-subscription").dumps(
        {"s": person.id, "n": person.requests[0].nonce}
    )
    assert _confirm(client, "en", forged).status_code == 400
    assert in_app(subscriber_state, "mallory@example.org").status == SubscriberStatus.PENDING


def test_expired_link_is_explained_and_changes_nothing(app, client, smtp, in_app, translated):
    lists = in_app(make_lists)
    subscribe(client, "fr", "late@example.org", [lists["events"]])
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    app.config["CONFIRM_MAX_AGE"] = -1
    try:
        response = _confirm(client, lang, token)
    finally:
        app.config["CONFIRM_MAX_AGE"] = 7 * 24 * 3600
    assert response.status_code == 400
    assert translated("fr", "This link has expired") in response.get_data(as_text=True)
    person = in_app(subscriber_state, "late@example.org")
    assert person.status == SubscriberStatus.PENDING
    assert [c.action for c in person.consents] == [ConsentAction.SUBSCRIBE]


def test_answer_does_not_reveal_known_addresses(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    first = subscribe(client, "en", "known@example.org", [lists["events"]])
    smtp.wait_for(1)
    _confirm(client, *confirm_link(smtp.received[0].message))
    again = subscribe(client, "en", "known@example.org", [lists["events"]])
    fresh = subscribe(client, "en", "unknown@example.org", [lists["events"]])
    assert first.status_code == again.status_code == fresh.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == fresh.headers["Location"]
    received = smtp.settle()
    assert [r.recipients[0] for r in received] == ["known@example.org", "unknown@example.org"], (
        "a confirmed subscriber is not mailed again"
    )


def test_a_confirmed_subscriber_asking_for_a_new_topic_confirms_just_that_topic(
    client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    subscribe(client, "de", "greta@example.org", [lists["events"]], name="Greta")
    _confirm(client, *confirm_link(smtp.wait_for(1)[0].message))
    smtp.reset()

    # Someone (the owner, or anyone who knows the address) asks for a topic more, in French.
    answer = subscribe(client, "fr", "greta@example.org", [lists["events"], lists["newsletter"]])
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/fr/thanks")
    [mail] = smtp.wait_for(1)
    assert mail.message["Subject"] == translated("de", "Please confirm your new topics")
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert (
        translated(
            "de",
            "You asked to receive more of our news. Please confirm that you want these topics too:",
        )
        in text
    )
    assert "- Rundbrief" in text and "- Veranstaltungen" not in text, "only the topic to add"
    assert "Guten Tag Greta," in text, "the subscriber's own name and language, not the form's"
    before = in_app(subscriber_state, "greta@example.org")
    assert before.list_ids == {lists["events"]}, "nothing changes before the link is used"

    lang, token = confirm_link(mail.message)
    assert lang == "de"
    assert _confirm(client, lang, token).status_code == 200
    after = in_app(subscriber_state, "greta@example.org")
    assert (after.status, after.language, after.name) == (SubscriberStatus.CONFIRMED, "de", "Greta")
    assert after.list_ids == {lists["events"], lists["newsletter"]}
    assert after.consents[-1].action == ConsentAction.CONFIRM
    assert _confirm(client, lang, token).status_code == 200
    assert len(in_app(subscriber_state, "greta@example.org").consents) == len(after.consents)

    subscribe(client, "de", "greta@example.org", [lists["newsletter"]])
    assert len(smtp.settle()) == 1, "asking for topics already held mails nothing"


def test_resubscribing_a_pending_address_resends_but_throttled(
    app, client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    subscribe(client, "en", "twice@example.org", [lists["events"]])
    smtp.wait_for(1)
    subscribe(client, "en", "twice@example.org", [lists["newsletter"]])
    smtp.wait_for(2)
    assert len(smtp.received) == 2
    first_link = confirm_link(smtp.received[0].message)

    app.config["CONFIRM_RESEND_INTERVAL"] = 3600
    try:
        subscribe(client, "en", "twice@example.org", [lists["events"]])
    finally:
        app.config["CONFIRM_RESEND_INTERVAL"] = 0
    assert len(smtp.settle()) == 2, "a third request within the interval sends nothing"
    assert in_app(subscriber_state, "twice@example.org").list_ids == {lists["events"]}
    assert _confirm(client, *first_link).status_code == 200, "the older mail's link still works"
    assert in_app(subscriber_state, "twice@example.org").status == SubscriberStatus.CONFIRMED


def test_unsubscribed_address_can_subscribe_again_with_confirmation(
    client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    subscribe(client, "en", "back@example.org", [lists["events"]])
    _confirm(client, *confirm_link(smtp.wait_for(1)[0].message))
    person = in_app(subscriber_state, "back@example.org")
    client.post(f"/en/unsubscribe/{person.token}")
    assert in_app(subscriber_state, "back@example.org").status == SubscriberStatus.UNSUBSCRIBED

    subscribe(client, "en", "back@example.org", [lists["newsletter"]])
    received = smtp.wait_for(2)
    assert len(received) == 2
    left = in_app(subscriber_state, "back@example.org")
    assert (left.status, left.list_ids) == (SubscriberStatus.UNSUBSCRIBED, set()), (
        "someone else may have typed the address: nothing changes before the link is used"
    )
    _confirm(client, *confirm_link(received[1].message))
    back = in_app(subscriber_state, "back@example.org")
    assert (back.status, back.list_ids) == (SubscriberStatus.CONFIRMED, {lists["newsletter"]})


@pytest.mark.parametrize(
    "header,expected",
    [("es-ES,es;q=0.9", "es"), ("de", "de"), ("ja", "en"), ("fr-CA, en;q=0.5", "fr")],
)
def test_language_follows_accept_language_without_prefix(client, translated, header, expected):
    page = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{expected}" dir="ltr">' in page
    assert translated(expected, "Stay informed") in page


def test_url_prefix_and_query_override_accept_language(client):
    page = client.get("/fr/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in page
    page = client.get("/?lang=es", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in page


def test_consent_is_recorded_even_before_confirmation(client, smtp, in_app):
    lists = in_app(make_lists)
    subscribe(client, "en", "consent@example.org", [lists["events"], lists["newsletter"]])
    [consent] = in_app(subscriber_state, "consent@example.org").consents
    assert consent.action == ConsentAction.SUBSCRIBE
    assert consent.source == "form"
    assert sorted(consent.list_ids) == sorted([lists["events"], lists["newsletter"]])
    assert consent.language == "en"


@pytest.mark.parametrize("used", ["older", "newer"])
def test_subscribing_a_pending_address_again_changes_it_only_through_its_own_link(
    client, smtp, in_app, translated, used
):
    lists = in_app(make_lists)
    subscribe(client, "en", "owner@example.org", [lists["events"]], name="Owner")
    subscribe(client, "de", "owner@example.org", [lists["newsletter"]], name="Someone Else")
    older, newer = sorted(smtp.wait_for(2), key=lambda r: r.message["Content-Language"] != "en")
    assert newer.message["Subject"] == translated("de", "Please confirm your subscription")
    assert (
        translated("de", "Hello %(name)s,", name="Someone Else")
        in newer.message.get_body(preferencelist=("plain",)).get_content()
    )

    person = in_app(subscriber_state, "owner@example.org")
    assert (person.status, person.name, person.language, person.list_ids) == (
        SubscriberStatus.PENDING,
        "Owner",
        "en",
        {lists["events"]},
    ), "the second request changed nothing yet"
    assert [(c.action, c.language, c.list_ids) for c in person.consents] == [
        (ConsentAction.SUBSCRIBE, "en", [lists["events"]]),
        (ConsentAction.SUBSCRIBE, "de", [lists["newsletter"]]),
    ], "each request is on record"

    first, second = (older, newer) if used == "older" else (newer, older)
    assert _confirm(client, *confirm_link(first.message)).status_code == 200
    expected = {
        "older": ("Owner", "en", {lists["events"]}),
        "newer": ("Someone Else", "de", {lists["newsletter"]}),
    }[used]
    person = in_app(subscriber_state, "owner@example.org")
    assert person.status == SubscriberStatus.CONFIRMED
    assert (person.name, person.language, person.list_ids) == expected
    assert person.requests == [], "the other link is void once one was used"

    _confirm(client, *confirm_link(second.message))
    after = in_app(subscriber_state, "owner@example.org")
    assert (after.name, after.language, after.list_ids) == expected
    assert len(after.consents) == len(person.consents)


def test_the_form_asks_for_a_second_language_which_the_confirmation_sets(
    client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    page = client.get("/de/").get_data(as_text=True)
    assert translated("de", "Second language (optional)") in page
    subscribe(client, "de", "jonas@example.org", [lists["newsletter"]], second="en")
    pending = in_app(subscriber_state, "jonas@example.org")
    assert (pending.language, pending.second_language) == ("de", "en")
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    _confirm(client, lang, token)
    person = in_app(subscriber_state, "jonas@example.org")
    assert (person.status, person.language, person.second_language) == (
        SubscriberStatus.CONFIRMED,
        "de",
        "en",
    )


@pytest.mark.parametrize(
    "second, message",
    [
        ("es", "Your second language must differ from your first."),
        ("xx", "Please choose one of the languages offered."),
        ("<script>", "Please choose one of the languages offered."),
    ],
)
def test_a_second_language_that_cannot_be_is_refused_and_nothing_is_asked(
    client, smtp, in_app, translated, second, message
):
    lists = in_app(make_lists)
    response = subscribe(client, "es", "lucia@example.org", [lists["newsletter"]], second=second)
    assert response.status_code == 400
    assert translated("es", message) in response.get_data(as_text=True)
    assert in_app(subscriber_state, "lucia@example.org") is None
    assert smtp.settle(quiet=0.3) == []


def test_a_confirmed_subscriber_adding_a_topic_keeps_their_languages(client, smtp, in_app):
    lists = in_app(make_lists)
    subscribe(client, "fr", "noe@example.org", [lists["newsletter"]], second="es")
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    _confirm(client, lang, token)
    smtp.reset()
    subscribe(client, "en", "noe@example.org", [lists["events"]], second="de")
    lang, token = confirm_link(smtp.wait_for(1)[0].message)
    _confirm(client, lang, token)
    person = in_app(subscriber_state, "noe@example.org")
    assert (person.language, person.second_language) == ("fr", "es")
    assert person.list_ids == {lists["newsletter"], lists["events"]}
