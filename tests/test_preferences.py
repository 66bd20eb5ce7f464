"""Preference centre, one-click unsubscribe, data export and erasure."""

import json

from factories import make_lists, make_subscriber, row_counts, subscriber_state
from helpers import csrf_token

from newsletter.extensions import db
from newsletter.models import (
    ConfirmationRequest,
    ConsentAction,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
)
from newsletter.subscriptions import is_suppressed
from newsletter.tasks import send_confirmation


def confirmed(in_app, email="ana@example.org", language="es", lists=("newsletter",)):
    ids = in_app(make_lists)
    person = in_app(
        lambda: make_subscriber(email, language, list_ids=tuple(ids[s] for s in lists)).token
    )
    return ids, person


def test_one_click_unsubscribe_needs_no_cookie_and_is_idempotent(app, in_app, smtp):
    ids, token = confirmed(in_app)
    browserless = app.test_client(use_cookies=False)
    for _attempt in range(2):
        response = browserless.post(
            f"/es/unsubscribe/{token}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200, "no redirect, no CSRF token needed"
        assert "Set-Cookie" not in response.headers or "session" not in response.headers.get(
            "Set-Cookie", ""
        )
    state = in_app(subscriber_state, "ana@example.org")
    assert state.status == SubscriberStatus.UNSUBSCRIBED
    assert state.list_ids == set()
    actions = [c.action for c in state.consents]
    assert actions.count(ConsentAction.UNSUBSCRIBE) == 1, "the second POST changes nothing"
    assert state.consents[-1].source == "one-click"


def test_after_unsubscribing_the_address_gets_nothing(app, client, in_app, smtp):
    ids = in_app(make_lists)
    client.post(
        "/en/",
        data={
            "csrf_token": csrf_token(client, "/en/"),
            "email": "gone@example.org",
            "language": "en",
            "lists": [str(ids["events"])],
        },
    )
    assert len(smtp.wait_for(1)) == 1
    token = in_app(subscriber_state, "gone@example.org").token
    request_id = in_app(lambda: db.session.execute(db.select(ConfirmationRequest.id)).scalar_one())
    assert (
        client.post(f"/en/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    smtp.reset()
    # A confirmation still queued (or retried) after leaving must not go out.
    send_confirmation.delay(request_id)
    assert smtp.settle() == []


def test_unsubscribe_page_shows_a_button_in_the_subscribers_language(client, in_app, translated):
    _ids, token = confirmed(in_app, language="de")
    page = client.get(f"/de/unsubscribe/{token}")
    assert page.status_code == 200
    assert translated("de", "Unsubscribe") in page.get_data(as_text=True)
    assert in_app(subscriber_state, "ana@example.org").status == SubscriberStatus.CONFIRMED


def test_unknown_token_is_a_clear_404(client, translated):
    page = client.post("/fr/unsubscribe/not-a-real-token", data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 404
    assert translated("fr", "This page does not exist.") in page.get_data(as_text=True)


def test_preferences_change_name_language_and_lists(client, in_app, translated):
    ids, token = confirmed(in_app)
    url = f"/es/preferences/{token}"
    page = client.get(url).get_data(as_text=True)
    assert translated("es", "Your preferences") in page
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "name": "Ana Ruiz",
            "language": "fr",
            "lists": [str(ids["events"])],
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/fr/preferences/{token}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert translated("fr", "Your preferences have been saved.") in page
    state = in_app(subscriber_state, "ana@example.org")
    assert (state.name, state.language, state.list_ids) == ("Ana Ruiz", "fr", {ids["events"]})
    assert state.consents[-1].action == ConsentAction.PREFERENCES


def test_preferences_refuse_private_lists_and_change_nothing(client, in_app, translated):
    ids, token = confirmed(in_app)
    url = f"/es/preferences/{token}"
    before = in_app(row_counts)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "language": "es",
            "lists": [str(ids["members"])],
        },
    )
    assert response.status_code == 400
    assert translated("es", "Please choose among the topics shown.") in response.get_data(
        as_text=True
    )
    assert in_app(row_counts) == before
    assert in_app(subscriber_state, "ana@example.org").list_ids == {ids["newsletter"]}


def test_choosing_topics_after_leaving_subscribes_again(client, in_app):
    ids, token = confirmed(in_app)
    client.post(f"/es/unsubscribe/{token}")
    url = f"/es/preferences/{token}"
    client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "language": "es",
            "lists": [str(ids["events"])],
        },
    )
    state = in_app(subscriber_state, "ana@example.org")
    assert state.status == SubscriberStatus.CONFIRMED
    assert state.list_ids == {ids["events"]}


def test_export_is_a_json_download_of_everything_held(client, in_app):
    ids, token = confirmed(in_app)
    response = client.get(f"/es/preferences/{token}/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["email"] == "ana@example.org"
    assert data["language"] == "es"
    assert [item["slug"] for item in data["lists"]] == ["newsletter"]


def test_erase_deletes_everything_and_suppresses_the_hash(client, in_app, translated):
    _ids, token = confirmed(in_app)
    url = f"/es/preferences/{token}"
    refused = client.post(f"{url}/erase", data={"csrf_token": csrf_token(client, url)})
    assert refused.status_code == 400, "erasure needs the box ticked"
    assert in_app(subscriber_state, "ana@example.org") is not None

    response = client.post(
        f"{url}/erase", data={"csrf_token": csrf_token(client, url), "confirm": "y"}
    )
    assert response.status_code == 200
    assert translated("es", "Your data has been erased") in response.get_data(as_text=True)
    counts = in_app(row_counts)
    assert counts["subscriber"] == counts["subscription"] == counts["consent"] == 0

    def suppression():
        row = db.session.get(Suppression, email_hash("ana@example.org"))
        return row.reason, row.email_hash, is_suppressed("ANA@example.org ")

    reason, digest, suppressed = in_app(suppression)
    assert (reason, suppressed) == ("erased", True)
    assert "ana" not in digest
    assert client.get(f"{url}").status_code == 404, "the old link leads nowhere"


def test_erased_address_that_subscribes_again_is_lifted_only_on_confirmation(client, in_app, smtp):
    ids, token = confirmed(in_app)
    url = f"/es/preferences/{token}"
    client.post(f"{url}/erase", data={"csrf_token": csrf_token(client, url), "confirm": "y"})
    client.post(
        "/es/",
        data={
            "csrf_token": csrf_token(client, "/es/"),
            "email": "ana@example.org",
            "language": "es",
            "lists": [str(ids["events"])],
        },
    )
    smtp.wait_for(1)
    assert in_app(is_suppressed, "ana@example.org"), "still blocked while unconfirmed"

    def confirm_directly():
        from newsletter.subscriptions import RequestInfo, confirm, confirmation_token

        request = db.session.execute(db.select(ConfirmationRequest)).scalar_one()
        confirm(confirmation_token(request), RequestInfo(None, None, "test"))
        db.session.commit()

    in_app(confirm_directly)
    assert not in_app(is_suppressed, "ana@example.org")


def _second_language(email):
    return db.session.execute(
        db.select(Subscriber.second_language).filter_by(email=email)
    ).scalar_one()


def test_the_preference_centre_sets_and_clears_the_second_language(client, in_app, translated):
    ids, token = confirmed(in_app)
    url = f"/es/preferences/{token}"

    def post(second):
        return client.post(
            url,
            data={
                "csrf_token": csrf_token(client, url),
                "language": "es",
                "second_language": second,
                "lists": [str(ids["newsletter"])],
            },
        )

    assert post("en").status_code == 302
    assert in_app(_second_language, "ana@example.org") == "en"
    for bad, message in [
        ("es", "Your second language must differ from your first."),
        ("xx", "Please choose one of the languages offered."),
        ("e" * 500, "Please choose one of the languages offered."),
        ("en\r\nBcc: x", None),  # control characters: refused before the form, in Spanish
        ("e\x00n", None),
    ]:
        response = post(bad)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert translated("es", message) in page if message else 'lang="es"' in page
        assert in_app(_second_language, "ana@example.org") == "en", "nothing changed"
    assert post("").status_code == 302
    assert in_app(_second_language, "ana@example.org") is None
