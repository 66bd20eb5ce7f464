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


def save_kind(client, kind: str, lang: str, subject: str, body: str, action: str = "save"):
    url = f"/admin/system-mails/{kind}/{lang}"
    token = csrf_token(client, url)
    return client.post(
        url, data={"csrf_token": token, "subject": subject, "body": body, "action": action}
    )


def test_event_mails_are_listed_once_there_are_events(client, in_app):
    from test_registrations import make_event

    editor(client, in_app)
    page = client.get("/admin/system-mails").get_data(as_text=True)
    assert "system-mail-waiting-de" not in page
    in_app(make_event)
    page = client.get("/admin/system-mails").get_data(as_text=True)
    for kind in ("registration_confirm", "registered", "waiting", "promoted", "full"):
        assert f"system-mail-{kind}-de" in page
    draft = client.get("/admin/system-mails/waiting/de").get_data(as_text=True)
    assert "Sie stehen auf der Warteliste: {title}" in draft, "the built-in text, translated"


def test_a_written_event_mail_reaches_registrants_of_its_language(client, in_app, smtp):
    from factories import make_subscriber
    from test_registrations import make_event, register

    editor(client, in_app)
    event_id = in_app(make_event, 1, True)
    body = (
        "Guten Tag {name},\n\n**{title}** ist voll; Sie warten.\n\n"
        "[Ihre Anmeldung]({manage_link}) · [Die Veranstaltung]({event_link})"
    )
    assert save_kind(client, "waiting", "de", "Warteliste: {title}", body).status_code == 302
    assert save_kind(client, "registered", "de", "Dabei: {title}", "Bis bald.").status_code == 302
    assert save_kind(client, "registration_confirm", "de", "Bitte", "Kein Link").status_code == 422
    assert save_kind(client, "full", "de", "Voll", "{manage_link}").status_code == 422, (
        "a mail with no place has no registration to manage"
    )

    in_app(make_subscriber, "first@example.org", "de")
    register(client, "de", event_id, "first@example.org", "Erster")
    for email, lang in (("jonas@example.org", "de"), ("lea@example.org", "fr")):
        in_app(make_subscriber, email, lang)
        register(client, lang, event_id, email, "Jo*nas" if lang == "de" else "Léa")
    mails = {item.recipients[0]: item.message for item in smtp.wait_for(3)}
    german = mails["jonas@example.org"]
    assert german["Subject"] == "Warteliste: Seminar DE"
    text = german.get_body(preferencelist=("plain",)).get_content()
    assert "Guten Tag Jo*nas," in text and "**Seminar DE** ist voll" in text
    assert re.search(r"http://newsletter\.test/de/registrations/[\w-]+", text)
    html = german.get_body(preferencelist=("html",)).get_content()
    assert "<strong>Seminar DE</strong>" in html and "Jo*nas" in html, "the name stays text"
    registered = mails["first@example.org"]
    assert registered["Subject"] == "Dabei: Seminar DE"
    assert [part.get_content_type() for part in registered.iter_attachments()] == [
        "text/calendar"
    ], "a written mail of a place still carries the event"
    french = mails["lea@example.org"]
    assert french["Subject"].startswith("Vous êtes sur la liste d’attente"), "built-in in French"


def test_the_goodbye_is_sent_only_where_written_and_only_once(client, in_app, smtp):
    from factories import make_subscriber

    editor(client, in_app)
    page = client.get("/admin/system-mails").get_data(as_text=True)
    assert "Not sent" in page, "optional: nothing goes out until it is written"
    body = "Adiós {name}.\n\n[Volver a suscribirse]({subscribe_link})"
    assert save_kind(client, "unsubscribed", "es", "Hasta pronto", body).status_code == 302

    def person(email, lang):
        return make_subscriber(email, lang, name="Lucía" if lang == "es" else None).token

    spanish = in_app(person, "lucia@example.org", "es")
    french = in_app(person, "hugo@example.org", "fr")
    one_click = {"List-Unsubscribe": "One-Click"}
    assert client.post(f"/es/unsubscribe/{spanish}", data=one_click).status_code == 200
    assert client.post(f"/fr/unsubscribe/{french}", data=one_click).status_code == 200
    [goodbye] = smtp.wait_for(1)
    assert goodbye.recipients == ["lucia@example.org"]
    assert goodbye.message["Subject"] == "Hasta pronto"
    text = goodbye.message.get_body(preferencelist=("plain",)).get_content()
    assert "Adiós Lucía." in text and "(http://newsletter.test/es/)" in text
    assert "/unsubscribe/" not in text, "no links to leave what was left"

    assert client.post(f"/es/unsubscribe/{spanish}", data=one_click).status_code == 200
    assert len(smtp.settle()) == 1, "unsubscribing again mails nothing"

    reset = "/admin/system-mails/unsubscribed/es/reset"
    answer = client.post(reset, data={"csrf_token": csrf_token(client, reset[: -len("/reset")])})
    assert "no longer sent in this language" in client.get(answer.location).get_data(as_text=True)
    assert in_app(written) == []
