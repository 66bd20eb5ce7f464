"""Languages readers may name that the interface does not speak (READER_LANGUAGES, such
as Catalan): chosen on the form, in the API and in imports; the reader's pages and mails
are in their second language (or the default), and issues follow the language order."""

import pytest
from campaign_helpers import configured, make_issue, send_all, start
from factories import make_lists, make_subscriber, subscriber_state
from helpers import csrf_token, tasks_done
from test_api_v1 import ApiClient
from test_subscribe import _confirm, confirm_link

from newsletter.accounts import create_token
from newsletter.config import ConfigError, from_environment
from newsletter.extensions import db
from newsletter.models import SubscriberStatus, TokenScope

READERS = ["en", "es", "fr", "de", "ca", "pt"]


@pytest.fixture
def catalan(app):
    with configured(app, READER_LANGUAGES=READERS):
        yield


def test_a_reader_of_catalan_then_spanish_subscribes_and_is_answered_in_spanish(
    catalan, client, smtp, in_app
):
    lists = in_app(make_lists)
    page = client.get("/es/").get_data(as_text=True)
    assert '<option value="ca">Català</option>' in page
    token = csrf_token(client, "/es/")
    client.post(
        "/es/",
        data={
            "csrf_token": token,
            "email": "jordi@example.org",
            "language": "ca",
            "second_language": "es",
            "lists": [str(lists["newsletter"])],
        },
    )
    tasks_done()
    mail = smtp.wait_for(1)[0].message
    assert mail["Content-Language"] == "es"
    assert mail["Subject"] == "Por favor, confirme su suscripción"
    lang, token = confirm_link(mail)
    assert lang == "es"
    _confirm(client, lang, token)
    person = in_app(subscriber_state, "jordi@example.org")
    assert (person.status, person.language, person.second_language) == (
        SubscriberStatus.CONFIRMED,
        "ca",
        "es",
    )


def test_a_reader_language_without_a_second_is_answered_in_the_default(
    catalan, client, smtp, in_app
):
    lists = in_app(make_lists)
    token = csrf_token(client, "/fr/")
    client.post(
        "/fr/",
        data={
            "csrf_token": token,
            "email": "ana@example.org",
            "language": "pt",
            "lists": [str(lists["newsletter"])],
        },
    )
    tasks_done()
    mail = smtp.wait_for(1)[0].message
    assert mail["Content-Language"] == "en"
    assert confirm_link(mail)[0] == "en"


def test_a_language_not_configured_for_readers_is_refused(client, in_app):
    lists = in_app(make_lists)
    token = csrf_token(client, "/en/")
    response = client.post(
        "/en/",
        data={
            "csrf_token": token,
            "email": "x@example.org",
            "language": "ca",
            "lists": [str(lists["newsletter"])],
        },
    )
    assert "Please choose one of the languages offered." in response.get_data(as_text=True)
    assert in_app(subscriber_state, "x@example.org") is None


def test_each_reader_of_catalan_gets_the_issue_in_their_second_language(catalan, in_app, smtp):
    def prepare():
        newsletter = make_lists()["newsletter"]
        for email, second in (
            ("ca-es@example.org", "es"),
            ("ca-fr@example.org", "fr"),
            ("ca@example.org", None),
        ):
            make_subscriber(email, "ca", list_ids=(newsletter,)).second_language = second
        db.session.commit()
        return make_issue([newsletter], ("en", "es"))

    issue_id = in_app(prepare)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    languages = {m.recipients[0]: m.message["Content-Language"] for m in smtp.settle()}
    # French has no text: that reader falls back to the default, as does the one with none.
    assert languages == {
        "ca-es@example.org": "es",
        "ca-fr@example.org": "en",
        "ca@example.org": "en",
    }


def test_the_api_takes_a_reader_language_and_refuses_an_unknown_one(catalan, app, in_app):
    def prepare():
        make_lists()
        subscriber = make_subscriber("api@example.org", "en")
        _token, secret = create_token("write", TokenScope.WRITE)
        db.session.commit()
        return subscriber.id, secret

    subscriber_id, secret = in_app(prepare)
    api = ApiClient(app.test_client(), secret)
    changed = api.patch(f"/subscribers/{subscriber_id}", json={"language": "pt"})
    assert changed.status_code == 200, changed.get_json()
    refused = api.patch(f"/subscribers/{subscriber_id}", json={"language": "xx"})
    assert refused.status_code == 422
    assert in_app(subscriber_state, "api@example.org").language == "pt"


def test_reader_languages_are_checked_at_start():
    assert from_environment({"READER_LANGUAGES": "ca, pt-BR"})["READER_LANGUAGES"] == [
        "en",
        "es",
        "fr",
        "de",
        "ca",
        "pt-BR",
    ]
    with pytest.raises(ConfigError):
        from_environment({"READER_LANGUAGES": "ca,<script>"})
