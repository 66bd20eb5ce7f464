"""Bad input on the public form: a clear answer in the visitor's language, nothing written.

Every refusal is checked in Spanish (the URL prefix is the visitor's language), against the
catalog and against the English text, so a missing translation fails too.
"""

import html
import re

import pytest
from factories import make_lists, row_counts, subscriber_state
from helpers import csrf_token, tasks_done

from newsletter.models import SubscriberStatus

LANG = "es"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def text_of(response) -> str:
    """The page as a visitor reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def localized(translated, text: str, **variables) -> str:
    """The Spanish text, checked to really be a translation."""
    message = translated(LANG, text, **variables)
    english = text % variables if variables else text
    assert message != english, f"{LANG} catalog has no translation for {text!r}"
    return message


def valid_fields(list_ids: dict[str, int], /, **overrides) -> dict:
    """A subscription that would be accepted, with ``overrides`` spoiling it."""
    fields = {"email": "reader@example.org", "name": "Reader", "language": LANG}
    fields["lists"] = [str(list_ids["events"])]
    fields.update(overrides)
    return fields


def post_form(client, fields: dict, lang: str = LANG, token: str | None = None, **kwargs):
    """Post the subscribe form as a browser would, with the CSRF token of the page."""
    data = {"csrf_token": token or csrf_token(client, f"/{lang}/"), **fields}
    response = client.post(f"/{lang}/", data=data, **kwargs)
    tasks_done()  # the subscription itself is decided by the worker
    return response


def assert_nothing_sent(smtp) -> None:
    assert smtp.settle() == [], "no mail for refused input"


BAD_EMAILS = [
    "reader.example.org",
    "read er@example.org",
    "reader@@example.org",
    "reader@home@example.org",
    "reader@example.org.",
    "a@b",
    "x@example.org\r\nBcc: victim@example.org",
    "x@example.org\nBcc: victim@example.org",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_malformed_email_is_refused_in_the_visitors_language(
    client, smtp, in_app, translated, email
):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, email=email))
    assert response.status_code == 400
    page = text_of(response)
    assert localized(translated, "Please enter a valid email address.") in page
    assert localized(translated, "Please correct the errors below.") in page
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


LIMITS = [
    pytest.param(
        {"email": "a" * 288 + "@example.org"}, "This email address is too long.", {}, id="email"
    ),
    pytest.param(
        {"name": "n" * 101}, "A name can be at most %(max)d characters.", {"max": 100}, id="name"
    ),
    pytest.param(
        {"name": "Eve\r\nBcc: victim@example.org"},
        "A name must fit on one line, without control characters.",
        {},
        id="name-crlf",
    ),
    pytest.param(
        {"name": "Eve\nBcc: victim@example.org"},
        "A name must fit on one line, without control characters.",
        {},
        id="name-lf",
    ),
    pytest.param(
        {"language": "xx"}, "Please choose one of the languages offered.", {}, id="language"
    ),
]


@pytest.mark.parametrize("overrides,message,variables", LIMITS)
def test_oversized_or_unsafe_field_is_refused(
    client, smtp, in_app, translated, overrides, message, variables
):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, **overrides))
    assert response.status_code == 400
    assert localized(translated, message, **variables) in text_of(response)
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


def test_exactly_100_character_name_is_accepted(client, smtp, in_app):
    lists = in_app(make_lists)
    response = post_form(client, valid_fields(lists, name="n" * 100))
    assert response.status_code == 302
    assert in_app(subscriber_state, "reader@example.org").name == "n" * 100


LIST_CHOICES = [
    pytest.param(lambda lists: ["999999"], "Please choose among the topics shown.", id="unknown"),
    pytest.param(
        lambda lists: [str(lists["members"])], "Please choose among the topics shown.", id="private"
    ),
    pytest.param(
        lambda lists: [str(lists["events"]), str(lists["members"])],
        "Please choose among the topics shown.",
        id="public-and-private",
    ),
    pytest.param(lambda lists: ["abc"], "Please choose among the topics shown.", id="non-numeric"),
    pytest.param(lambda lists: [], "Please choose at least one topic.", id="none"),
]


@pytest.mark.parametrize("choose,message", LIST_CHOICES)
def test_list_outside_the_public_ones_is_refused(client, smtp, in_app, translated, choose, message):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, lists=choose(lists)))
    assert response.status_code == 400
    assert localized(translated, message) in text_of(response)
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


def test_missing_email_is_asked_for(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, email=""))
    assert response.status_code == 400
    assert localized(translated, "Please enter your email address.") in text_of(response)
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_form_without_valid_csrf_token_has_expired(client, smtp, in_app, translated, token):
    lists = in_app(make_lists)
    csrf_token(client, f"/{LANG}/")  # the visitor has a session, as after opening the page
    fields = valid_fields(lists)
    if token:
        fields["csrf_token"] = token
    before = in_app(row_counts)
    response = client.post(f"/{LANG}/", data=fields)
    assert response.status_code == 400
    page = text_of(response)
    assert f'<html lang="{LANG}" dir="ltr">' in page
    assert (
        localized(translated, "This form has expired. Please reload the page and try again.")
        in page
    )
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


def test_body_over_64_kib_is_refused_as_too_large(app, client, smtp, in_app, translated):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, name="n" * (64 * 1024)))
    assert response.status_code == 413
    page = text_of(response)
    assert f'<html lang="{LANG}" dir="ltr">' in page
    assert localized(translated, "What you sent is too large.") in page
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


# The rate-limit tests post back to back: another test run sharing the Redis database
# clears every counter between its tests (conftest's ``limiter.reset()``).


def test_too_many_requests_from_one_ip(app, client, smtp, in_app, translated):
    lists = in_app(make_lists)
    token = csrf_token(client, f"/{LANG}/")
    app.config["SUBSCRIBE_LIMIT_PER_IP"] = "2/minute"
    try:
        allowed = [
            post_form(client, valid_fields(lists, email=f"ip{n}@example.org"), token=token)
            for n in (1, 2)
        ]
        before = in_app(row_counts)
        refused = post_form(client, valid_fields(lists, email="ip3@example.org"), token=token)
        after = in_app(row_counts)
        other_ip = post_form(
            client,
            valid_fields(lists, email="ip4@example.org"),
            token=token,
            environ_overrides={"REMOTE_ADDR": "192.0.2.7"},
        )
    finally:
        app.config["SUBSCRIBE_LIMIT_PER_IP"] = "1000/minute"
    assert [r.status_code for r in allowed] == [302, 302]
    assert refused.status_code == 429
    page = text_of(refused)
    assert f'<html lang="{LANG}" dir="ltr">' in page
    assert localized(translated, "Too many attempts. Please wait a while and try again.") in page
    assert after == before
    assert in_app(subscriber_state, "ip3@example.org") is None
    assert other_ip.status_code == 302, "the limit is per IP address"
    assert sorted(r.recipients[0] for r in smtp.settle()) == [
        "ip1@example.org",
        "ip2@example.org",
        "ip4@example.org",
    ]


def test_mistakes_do_not_count_towards_the_limit_and_a_refusal_keeps_what_was_typed(
    app, client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    token = csrf_token(client, f"/{LANG}/")
    app.config["SUBSCRIBE_LIMIT_PER_IP"] = "2/minute"
    try:
        typos = [
            post_form(client, valid_fields(lists, email="ana@example"), token=token)
            for _ in range(3)
        ]
        office = [
            post_form(client, valid_fields(lists, email=f"colleague{n}@example.org"), token=token)
            for n in (1, 2)
        ]
        refused = post_form(
            client, valid_fields(lists, email="third@example.org", name="Zoë Tercera"), token=token
        )
    finally:
        app.config["SUBSCRIBE_LIMIT_PER_IP"] = "1000/minute"
    assert [r.status_code for r in typos] == [400, 400, 400]
    assert [r.status_code for r in office] == [302, 302], "typos spent none of the budget"
    assert refused.status_code == 429
    page = text_of(refused)
    assert localized(translated, "Too many attempts. Please wait a while and try again.") in page
    assert 'value="third@example.org"' in page and 'value="Zoë Tercera"' in page
    assert re.search(
        rf'value="{lists["events"]}"[^>]*checked|checked[^>]*value="{lists["events"]}"', page
    )
    assert in_app(subscriber_state, "third@example.org") is None
    mailed = sorted(r.recipients[0] for r in smtp.settle())
    assert mailed == ["colleague1@example.org", "colleague2@example.org"]


def test_too_many_requests_for_one_address_even_from_many_ips(
    app, client, smtp, in_app, translated
):
    lists = in_app(make_lists)
    token = csrf_token(client, f"/{LANG}/")

    def from_ip(n: int, email: str):
        return post_form(
            client,
            valid_fields(lists, email=email),
            token=token,
            environ_overrides={"REMOTE_ADDR": f"192.0.2.{n}"},
        )

    app.config["SUBSCRIBE_LIMIT_PER_ADDRESS"] = "2/minute"
    try:
        allowed = [from_ip(1, "target@example.org"), from_ip(2, "Target@Example.org")]
        before = in_app(row_counts)
        refused = from_ip(3, " TARGET@example.org ")
        after = in_app(row_counts)
        other_address = from_ip(3, "someone.else@example.org")
    finally:
        app.config["SUBSCRIBE_LIMIT_PER_ADDRESS"] = "1000/minute"
    assert [r.status_code for r in allowed] == [302, 302]
    assert refused.status_code == 429
    page = text_of(refused)
    assert f'<html lang="{LANG}" dir="ltr">' in page
    assert localized(translated, "Too many attempts. Please wait a while and try again.") in page
    assert after == before
    assert len(in_app(subscriber_state, "target@example.org").consents) == 2
    assert other_address.status_code == 302, "the limit is per address"
    recipients = [r.recipients[0] for r in smtp.settle()]
    assert recipients.count("target@example.org") == 2
    assert len(recipients) == 3


def test_honeypot_gets_the_same_thanks_but_nothing_happens(client, smtp, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    bot = post_form(
        client, valid_fields(lists, email="bot@example.org", website="http://spam.example")
    )
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)

    human = post_form(client, valid_fields(lists, email="human@example.org"))
    assert bot.status_code == human.status_code == 302
    assert bot.headers["Location"] == human.headers["Location"] == f"/{LANG}/thanks"
    thanks = client.get(bot.headers["Location"])
    assert localized(
        translated, "Thank you. Please check your inbox to confirm your subscription."
    ) in text_of(thanks)
    assert in_app(subscriber_state, "bot@example.org") is None
    assert in_app(subscriber_state, "human@example.org") is not None


def test_markup_in_a_name_is_stored_as_typed_and_escaped_where_shown(client, smtp, in_app):
    lists = in_app(make_lists)
    response = post_form(client, valid_fields(lists, name=SCRIPT, language="en"), lang="en")
    assert response.status_code == 302
    person = in_app(subscriber_state, "reader@example.org")
    assert person.name == SCRIPT

    preferences = client.get(f"/en/preferences/{person.token}")
    assert preferences.status_code == 200
    page = preferences.get_data(as_text=True)
    assert SCRIPT not in page
    assert "<script" not in page.lower()
    assert ESCAPED_SCRIPT in page

    [received] = smtp.wait_for(1)
    mail_html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "<script" not in mail_html.lower()
    assert ESCAPED_SCRIPT in mail_html
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    assert f"Hello {SCRIPT}," in text, "the plain-text part shows the name as typed"


def test_idn_address_is_normalized_and_mailed_in_punycode(client, smtp, in_app):
    lists = in_app(make_lists)
    response = post_form(client, valid_fields(lists, email="Jose.Garcia@Bücher.Example"))
    assert response.status_code == 302
    person = in_app(subscriber_state, "jose.garcia@bücher.example")
    assert person is not None, "stored lower-cased, domain in Unicode"
    assert person.status == SubscriberStatus.PENDING

    [received] = smtp.wait_for(1)
    assert received.recipients == ["jose.garcia@xn--bcher-kva.example"]
    assert "xn--bcher-kva.example" in received.message["To"]


def test_non_ascii_local_part_is_refused_rather_than_never_mailed(client, smtp, in_app, translated):
    """Outgoing mail does not use SMTPUTF8, so "josé@" could never get its confirmation."""
    lists = in_app(make_lists)
    before = in_app(row_counts)
    response = post_form(client, valid_fields(lists, email="José@Bücher.example"))
    assert response.status_code == 400
    assert localized(translated, "Please enter a valid email address.") in text_of(response)
    assert in_app(row_counts) == before
    assert_nothing_sent(smtp)


def test_same_idn_address_in_punycode_is_the_same_subscriber(client, smtp, in_app):
    lists = in_app(make_lists)
    post_form(client, valid_fields(lists, email="jose@bücher.example"))
    post_form(client, valid_fields(lists, email="JOSE@xn--bcher-kva.example"))
    person = in_app(subscriber_state, "jose@bücher.example")
    assert len(person.consents) == 2
    assert in_app(row_counts)["subscriber"] == 1


NOT_FOUND = "This page does not exist."
NOT_ALLOWED = "This address does not accept that kind of request."
EXPIRED_FORM = "This form has expired. Please reload the page and try again."
BAD_LINK = "This link is not valid"

# method, URL, expected status, message on the page (None: a JSON answer)
ODD_REQUESTS = [
    ("GET", "/xx/", 404, NOT_FOUND),
    ("POST", "/xx/", 404, NOT_FOUND),
    ("GET", "/es/no-such-page", 404, NOT_FOUND),
    ("GET", "/es/%00", 400, "The request contains control characters, such as NUL."),
    ("GET", "/es/confirm/" + "x" * 5000, 400, BAD_LINK),
    ("POST", "/es/confirm/" + "x" * 5000, 400, EXPIRED_FORM),
    ("GET", "/es/preferences/unknown-token", 404, NOT_FOUND),
    ("GET", "/es/preferences/" + "t" * 5000, 404, NOT_FOUND),
    ("POST", "/es/preferences/unknown-token", 400, EXPIRED_FORM),
    ("GET", "/es/preferences/unknown-token/export", 404, NOT_FOUND),
    ("POST", "/es/preferences/unknown-token/erase", 400, EXPIRED_FORM),
    ("GET", "/es/unsubscribe/unknown", 404, NOT_FOUND),
    ("POST", "/es/unsubscribe/unknown", 404, NOT_FOUND),
    ("GET", "/dev/mailbox/../etc", 404, NOT_FOUND),
    ("GET", "/dev/mailbox/", 404, NOT_FOUND),
    ("POST", "/es/thanks", 405, NOT_ALLOWED),
    ("POST", "/es/embed", 405, NOT_ALLOWED),
    ("PUT", "/es/", 405, NOT_ALLOWED),
    ("DELETE", "/es/thanks", 405, NOT_ALLOWED),
    ("GET", "/api/v1/subscribe", 405, None),
    ("PATCH", "/api/v1/subscribe", 405, None),
]


def test_odd_requests_never_answer_500_and_explain_in_the_visitors_language(
    client, in_app, translated
):
    """The URL prefix sets the language; without one, Accept-Language (here German) does."""
    in_app(make_lists)
    for method, url, status, message in ODD_REQUESTS:
        where = (method, url[:60])
        response = client.open(url, method=method, headers={"Accept-Language": "de"})
        assert response.status_code < 500, where
        assert response.status_code == status, where
        if message is None:
            assert response.is_json, where
            assert response.get_json()["message"] == translated("de", NOT_ALLOWED), where
            continue
        assert response.mimetype == "text/html", where
        page = text_of(response)
        lang = LANG if url.startswith(f"/{LANG}/") else "de"
        assert f'<html lang="{lang}" dir="ltr">' in page, where
        assert translated(lang, message) in page, where
        assert translated(lang, message) != message, where
