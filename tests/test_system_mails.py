"""System mails written by editors: the confirmation mail per language, with a preview, a
check of its placeholders, the text actually sent, and a reset to the built-in text."""

import re

from factories import make_lists, make_user, subscriber_state
from helpers import csrf_token, log_in
from test_subscribe import _confirm, confirm_link, subscribe

from newsletter import system_mails
from newsletter.extensions import db
from newsletter.models import SubscriberStatus, SystemMail

FRENCH = (
    "Bonjour {name},\n\nMerci ! Confirmez pour recevoir : {lists}.\n\n"
    "::button[Je confirme]({confirm_link})\n\nÀ bientôt."
)


def editor(client, in_app) -> None:
    in_app(make_user, "editor@example.org")
    log_in(client, "editor@example.org")


def written() -> list[tuple[str, str, str]]:
    return [
        (mail.kind, mail.language, mail.subject)
        for mail in db.session.execute(db.select(SystemMail)).scalars()
    ]


def save(client, lang: str, subject: str, body: str, action: str = "save"):
    url = f"/admin/system-mails/confirm/{lang}"
    token = csrf_token(client, url)
    return client.post(
        url, data={"csrf_token": token, "subject": subject, "body": body, "action": action}
    )


def test_a_written_confirmation_is_sent_in_its_language_only(client, in_app, smtp):
    lists = in_app(make_lists)
    editor(client, in_app)
    assert save(client, "fr", "Confirmez, {name}", FRENCH).status_code == 302
    assert in_app(written) == [("confirm", "fr", "Confirmez, {name}")]

    subscribe(client, "fr", "zoe@example.org", [lists["newsletter"]], name="Zoé_*")
    [french] = [item.message for item in smtp.wait_for(1)]
    assert french["Subject"] == "Confirmez, Zoé_*"
    html = french.get_body(preferencelist=("html",)).get_content()
    text = french.get_body(preferencelist=("plain",)).get_content()
    assert "Bonjour Zoé_*," in text and "Lettre d'information" in text
    assert "Je confirme" in html and "Zoé_*" in html, "the name is shown as typed"
    lang, token = confirm_link(french)
    assert f"/fr/confirm/{token}" in html
    assert "/unsubscribe/" in html, "the common footer stays"
    # The link it carries confirms, as the built-in one does.
    _confirm(client, lang, token)
    assert in_app(subscriber_state, "zoe@example.org").status == SubscriberStatus.CONFIRMED
    # Other languages keep the built-in text.
    smtp.reset()
    subscribe(client, "de", "dora@example.org", [lists["newsletter"]])
    [german] = [item.message for item in smtp.wait_for(1)]
    assert german["Subject"] == "Bitte bestätigen Sie Ihre Anmeldung"


def test_a_mail_without_its_link_or_with_unknown_placeholders_is_refused(client, in_app):
    editor(client, in_app)
    for subject, body, message in (
        ("Confirm", "Please confirm.", "{confirm_link}"),
        ("Confirm", "Go: {confirm_link} {password}", "{password}"),
        ("Confirm {email}", "Go: {confirm_link}", "{email}"),
        ("", "Go: {confirm_link}", "subject"),
        ("Line\nbreak", "x" * 20_001 + "{confirm_link}", "20,000"),
    ):
        refused = save(client, "en", subject, body)
        assert refused.status_code == 422, body
        assert message in refused.get_data(as_text=True)
    assert in_app(written) == []
    assert client.get("/admin/system-mails/welcome/en").status_code == 404
    assert client.get("/admin/system-mails/confirm/xx").status_code == 404


def test_the_preview_shows_the_mail_with_sample_values_and_saves_nothing(client, in_app):
    editor(client, in_app)
    page = client.get("/admin/system-mails/confirm/de").get_data(as_text=True)
    assert "Bitte bestätigen Sie Ihre Anmeldung" in page, "a first draft from the built-in text"
    assert "{confirm_link}" in page
    shown = save(client, "de", "Hallo {name}", FRENCH, action="preview")
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "Hallo Ana" in page and 'data-testid="system-mail-preview-frame"' in page
    assert "https://example.org/confirm/sample" in page
    assert in_app(written) == []


def test_reset_sends_the_built_in_text_again(client, in_app, smtp):
    lists = in_app(make_lists)
    editor(client, in_app)
    save(client, "en", "Our own subject", "Click {confirm_link}")
    url = "/admin/system-mails/confirm/en"
    token = csrf_token(client, url)
    assert client.post(f"{url}/reset", data={"csrf_token": token}).status_code == 302
    assert in_app(written) == []
    subscribe(client, "en", "new@example.org", [lists["newsletter"]])
    [mail] = [item.message for item in smtp.wait_for(1)]
    assert mail["Subject"] == "Please confirm your subscription"
    index = client.get("/admin/system-mails").get_data(as_text=True)
    assert re.search(r'data-testid="system-mail-confirm-en"><span class="badge">', index)


def test_values_cannot_inject_markdown_or_html(in_app):
    def render() -> str:
        mail = SystemMail(kind="confirm", language="en", subject="Hi {name}", body=FRENCH)
        values = {
            "confirm_link": "https://example.org/c",
            "name": "<script>x</script> [evil](https://evil.example)",
            "lists": "**A**",
        }
        return system_mails.render(mail, values).html

    html = in_app(render)
    assert "<script>" not in html and 'href="https://evil.example"' not in html
    assert "**A**" in html
