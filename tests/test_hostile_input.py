"""Hostile bytes: deep nesting, control characters, dates off the calendar, values with a
trailing newline and long non-ASCII headers get a clear 4xx (or a clean CLI error), never
a 500, and change nothing.
"""

import html
import io
import logging
import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from campaign_helpers import BODIES, make_issue
from factories import make_lists, make_subscriber, make_user, row_counts
from helpers import csrf_token
from test_admin import PNG, settings_form
from test_admin_issues import form_data
from test_api_v1 import ApiClient, error_of, make_token

from newsletter import campaigns, delivery
from newsletter.extensions import db, limiter
from newsletter.mail.issue_mail import Recipient, personalize, prepare_variant
from newsletter.models import Issue, MailingList, Organisation
from newsletter.request_limits import _address_key

CONTROLS = "The request contains control characters, such as NUL."
TOO_DEEP = "The JSON is nested too deeply (at most %(max)d levels)."
DEEP = "[" * 5000 + "]" * 5000


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def refused_page(response, translated, lang: str) -> None:
    """A 400 error page in ``lang`` saying why."""
    assert response.status_code == 400, response.status_code
    assert response.mimetype == "text/html"
    page = page_text(response)
    assert f'<html lang="{lang}" dir="ltr">' in page
    assert translated(lang, CONTROLS) in page
    assert lang == "en" or translated(lang, CONTROLS) != CONTROLS


# Item: deeply nested JSON is refused before it is parsed.


def test_deeply_nested_json_to_the_public_subscribe_endpoint_is_refused(client, in_app, translated):
    in_app(make_lists)
    before = in_app(row_counts)
    response = client.post(
        "/api/v1/subscribe",
        data=DEEP,
        content_type="application/json",
        headers={"Accept-Language": "fr"},
    )
    body = error_of(response, 400, "nested_too_deeply")
    assert body["message"] == translated("fr", TOO_DEEP, max=32) != TOO_DEEP % {"max": 32}
    assert in_app(row_counts) == before
    assert not limiter._storage_dead, "the rate limiter still counts in Redis"


@pytest.mark.parametrize("size", [5000, 40_000], ids=["small", "over-the-site-limit"])
def test_deeply_nested_json_to_the_token_api_is_refused(client, in_app, translated, size):
    api = ApiClient(client, in_app(make_token, "write"))
    before = in_app(row_counts)
    for method, path in [("POST", "/subscribers"), ("POST", "/lists")]:
        response = api.call(
            method,
            path,
            data="[" * size + "]" * size,
            content_type="application/json",
            headers={"Accept-Language": "es"},
        )
        body = error_of(response, 400, "nested_too_deeply")
        assert body["message"] == translated("es", TOO_DEEP, max=32)
    assert in_app(row_counts) == before


def test_json_nested_within_the_limit_still_gets_its_usual_answer(client, in_app):
    api = ApiClient(client, in_app(make_token, "write"))
    nested = '{"email": "a@example.org", "x": ' + "[" * 30 + "]" * 30 + "}"
    response = api.post("/subscribers", data=nested, content_type="application/json")
    error_of(response, 422, "validation_failed")


def test_subscribe_rate_limit_key_never_raises_on_a_hostile_body(app):
    for body in (DEEP, '{"email": "a\u0000@example.org"}'):
        with app.test_request_context(
            "/api/v1/subscribe", method="POST", data=body, content_type="application/json"
        ):
            assert _address_key().startswith("address:")


# Item: NUL and other control characters are refused at the edge.


@pytest.mark.parametrize(
    "method,url",
    [
        ("GET", "/en/preferences/%00"),
        ("POST", "/en/preferences/%00"),
        ("GET", "/en/unsubscribe/%00"),
        ("POST", "/en/unsubscribe/%00"),
        ("GET", "/en/confirm/%00"),
        ("GET", "/en/preferences/abc%01def/export"),
        ("GET", "/en/?lang=%00"),
    ],
)
def test_control_characters_in_the_url_are_refused(client, in_app, translated, method, url):
    in_app(make_subscriber, "reader@example.org")
    before = in_app(row_counts)
    refused_page(client.open(url, method=method), translated, "en")
    assert in_app(row_counts) == before


def test_nul_in_the_subscribe_form_is_refused_in_the_visitors_language(client, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    for fields in ({"email": "reader\x00@example.org"}, {"name": "Re\x00der"}, {"x\x00": "1"}):
        data = {
            "csrf_token": csrf_token(client, "/es/"),
            "email": "reader@example.org",
            "language": "es",
            "lists": [str(lists["events"])],
            **fields,
        }
        refused_page(client.post("/es/", data=data), translated, "es")
    assert in_app(row_counts) == before


def test_nul_in_json_strings_is_refused(client, in_app, translated):
    in_app(make_lists)
    api = ApiClient(client, in_app(make_token, "write"))
    before = in_app(row_counts)
    public = client.post(
        "/api/v1/subscribe",
        json={"email": "reader\x00@example.org"},
        headers={"Accept-Language": "de"},
    )
    body = error_of(public, 400, "control_characters")
    assert body["message"] == translated("de", CONTROLS)
    for payload in ({"email": "a@example.org", "name": "\x00"}, {"\x1b": 1}, ["\x00"]):
        error_of(api.post("/subscribers", json=payload), 400, "control_characters")
    assert in_app(row_counts) == before


def test_nul_in_the_admin_login_is_refused(client, in_app, translated):
    in_app(make_user, "admin@example.org", "admin")
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login",
        data={"email": "admin@example.org\x00", "password": "x", "csrf_token": token},
        headers={"Accept-Language": "de"},
    )
    refused_page(response, translated, "de")


@pytest.mark.parametrize("url", ["/admin/subscribers?q=%00", "/admin/subscribers/export.csv?q=%00"])
def test_nul_in_the_subscriber_search_is_refused(editor_client, in_app, translated, url):
    in_app(make_subscriber, "reader@example.org")
    refused_page(editor_client.get(url), translated, "en")


def test_nul_in_the_composer_is_refused_and_no_issue_is_saved(editor_client, in_app, translated):
    lists = in_app(make_lists)
    before = in_app(row_counts)
    token = csrf_token(editor_client, "/admin/issues/new")
    variants = {**BODIES, "en": ("Sub\x00ject", "Body")}
    response = editor_client.post(
        "/admin/issues/new", data=form_data(token, [lists["newsletter"]], variants=variants)
    )
    refused_page(response, translated, "en")
    assert in_app(row_counts) == before


@pytest.mark.parametrize("logo_size", [100, 100_000], ids=["small", "over-the-site-limit"])
def test_nul_in_settings_text_is_refused_but_uploaded_bytes_are_not(
    admin_client, in_app, translated, logo_size
):
    def post(**changes):
        token = csrf_token(admin_client, "/admin/settings")
        logo = (io.BytesIO(PNG + b"\0" * logo_size), "logo.png")
        return admin_client.post(
            "/admin/settings",
            data=settings_form(token, logo=logo, **changes),
            content_type="multipart/form-data",
        )

    refused_page(post(name="Red\x00"), translated, "en")
    refused_page(post(address_en="1 Main St\x00"), translated, "en")
    assert in_app(lambda: db.session.get(Organisation, 1)) is None
    assert post(address_en="1 Main Street\r\n\tSpringfield").status_code == 302


def test_user_name_with_nul_is_refused(admin_client, in_app, translated):
    token = csrf_token(admin_client, "/admin/users/new")
    before = in_app(row_counts)
    form = {
        "csrf_token": token,
        "email": "new@example.org",
        "name": "No\x00ra",
        "role": "editor",
        "language": "fr",
        "password": "long enough password",
        "active": "y",
    }
    refused_page(admin_client.post("/admin/users/new", data=form), translated, "en")
    assert in_app(row_counts) == before


def test_refused_paths_are_logged_with_control_characters_escaped(client, caplog):
    with caplog.at_level(logging.INFO):
        client.get("/en/unsubscribe/%00%0aforged%20line")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Refused")]
    assert lines == ["Refused GET /en/unsubscribe/\\x00\\x0aforged line: control_characters"]


# Item: every regex check matches the whole value ("$" matches before a trailing newline).


def test_colour_with_a_trailing_newline_is_refused(admin_client, in_app, translated):
    token = csrf_token(admin_client, "/admin/settings")
    response = admin_client.post(
        "/admin/settings",
        data=settings_form(token, brand_color="#0b6e4f\n", logo=(io.BytesIO(b""), "")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert translated("en", "Use a colour like #0b6e4f.") in response.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Organisation, 1)) is None


def test_list_slug_with_a_trailing_newline_is_refused_by_the_api(client, in_app, translated):
    api = ApiClient(client, in_app(make_token, "write"))
    before = in_app(row_counts)
    response = api.post(
        "/lists",
        json={"slug": "news\n", "names": {"en": "News"}},
        headers={"Accept-Language": "de"},
    )
    body = error_of(response, 422, "validation_failed")
    assert body["fields"]["slug"] == [
        translated("de", "Use lower-case letters, digits and hyphens only.")
    ]
    assert in_app(row_counts) == before
    assert in_app(lambda: db.session.execute(db.select(MailingList)).first()) is None


# Item: dates whose UTC time falls outside the calendar Python and the database know.

OUT_OF_RANGE = "This date is out of range: in UTC it must fall between the years 1 and 9999."


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_schedule_outside_the_calendar_is_refused_by_the_api(client, in_app, translated, at):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]])
    api = ApiClient(client, in_app(make_token, "write"))
    response = api.post(
        f"/issues/{issue_id}/schedule", json={"at": at}, headers={"Accept-Language": "es"}
    )
    body = error_of(response, 422, "validation_failed")
    assert body["fields"] == {"at": [translated("es", OUT_OF_RANGE)]}
    assert translated("es", OUT_OF_RANGE) != OUT_OF_RANGE
    assert api.get(f"/issues/{issue_id}").get_json()["scheduled_at"] is None


def test_schedule_at_the_end_of_the_calendar_in_the_composer(editor_client, in_app):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]])
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    url = f"/admin/issues/{issue_id}/schedule"
    refused = editor_client.post(
        url, data={"csrf_token": token, "scheduled_at": "10000-01-01T00:00"}
    )
    assert refused.status_code == 400
    assert "Not a valid datetime value." in page_text(refused)
    accepted = editor_client.post(
        url, data={"csrf_token": token, "scheduled_at": "9999-12-31T23:59"}, follow_redirects=True
    )
    assert accepted.status_code == 200
    assert "The issue is scheduled for Dec 31, 9999 23:59 UTC." in page_text(accepted)


def test_schedule_outside_the_calendar_is_a_clean_cli_error(runner, in_app):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]])
    result = runner.invoke(args=["issues", "send", str(issue_id), "--at", "10000-01-01"])
    assert result.exit_code == 2
    assert "Invalid value for '--at'" in result.output
    assert "Traceback" not in result.output


# Item: long non-ASCII names and subjects are folded into encoded words of at most 75.

LONG_NAME = " ".join(["Asociación Cultural «Ñandú» de Éditions Internationales"] * 2)[:100]
ENCODED_WORD = re.compile(rb"=\?[^?]+\?[qQbB]\?[^?]*\?=")


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def unfolded(data: bytes, name: str) -> str:
    """The header ``name`` of the raw message, unfolded and decoded as RFC 2047 says."""
    lines = header_lines(data)
    start = next(i for i, line in enumerate(lines) if line.startswith(name.encode() + b": "))
    value = lines[start][len(name) + 2 :]
    for line in lines[start + 1 :]:
        if not line[:1].isspace():
            break
        value += line
    return str(make_header(decode_header(value.decode("ascii"))))


def assert_folded_for_smtp(data: bytes) -> None:
    """Lines of at most 998 octets, and of 78 where they hold encoded words of at most 75."""
    for line in header_lines(data):
        assert len(line) <= 998, line
        words = ENCODED_WORD.findall(line)
        assert not words or len(line) <= 78, line
        for word in words:
            assert len(word) <= 75, word


def test_confirmation_mail_folds_a_long_non_ascii_name(app, client, smtp, in_app):
    lists = in_app(make_lists)
    saved = app.config["MAIL_FROM"]
    app.config["MAIL_FROM"] = f"{LONG_NAME} <news@newsletter.test>"
    try:
        data = {
            "csrf_token": csrf_token(client, "/es/"),
            "email": "reader@example.org",
            "name": LONG_NAME,
            "language": "es",
            "lists": [str(lists["events"])],
        }
        assert client.post("/es/", data=data).status_code == 302
        [received] = smtp.wait_for(1)
    finally:
        app.config["MAIL_FROM"] = saved
    assert_folded_for_smtp(received.data)
    assert unfolded(received.data, "From") == f"{LONG_NAME} <news@newsletter.test>"
    assert unfolded(received.data, "To") == f"{LONG_NAME} <reader@example.org>"
    assert received.recipients == ["reader@example.org"]


def test_campaign_mail_folds_a_long_non_ascii_subject_sender_and_name(app, smtp, in_app):
    lists = in_app(make_lists)
    subject = "Boletín de diciembre: «Ñandú» " * 10
    subject = " ".join(subject.split())[:100]

    def prepare():
        issue_id = make_issue([lists["newsletter"]], ("en", "es"))
        issue = db.session.get(Issue, issue_id)
        variant = issue.variant("es")
        campaigns.set_variant(issue, "es", subject, variant.body, variant.preheader)
        db.session.commit()
        delivery.send_test(issue, "es", "test@example.org")
        prepared = prepare_variant(issue, issue.variant("es"), "http://newsletter.test/view")
        recipient = Recipient("reader@example.org", LONG_NAME, "token", "<id@newsletter.test>")
        links = {"unsubscribe_url": "http://u.test/x", "preferences_url": "http://p.test/x"}
        return personalize(prepared, recipient, links)

    saved = app.config["MAIL_FROM"]
    app.config["MAIL_FROM"] = f"{LONG_NAME} <news@newsletter.test>"
    try:
        personal = in_app(prepare)
        [received] = smtp.wait_for(1)
    finally:
        app.config["MAIL_FROM"] = saved
    for data, shown in ((received.data, f"[Prueba] {subject}"), (personal, subject)):
        assert_folded_for_smtp(data)
        assert unfolded(data, "Subject") == shown
        assert unfolded(data, "From") == f"{LONG_NAME} <news@newsletter.test>"
        assert str(message_from_bytes(data, policy=policy.default)["Subject"]) == shown
    assert unfolded(personal, "To") == f"{LONG_NAME} <reader@example.org>"


def test_api_preview_shows_a_long_non_ascii_sender_as_written(app, client, in_app):
    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]], ("en", "es"))
    api = ApiClient(client, in_app(make_token, "read"))
    saved = app.config["MAIL_FROM"]
    app.config["MAIL_FROM"] = f"{LONG_NAME} <news@newsletter.test>"
    try:
        preview = api.get(f"/issues/{issue_id}/preview/es").get_json()
    finally:
        app.config["MAIL_FROM"] = saved
    assert preview["from"] == f"{LONG_NAME} <news@newsletter.test>"
