"""The editors' UI: logging in, roles, lists, settings, users and the dashboard."""

import html
import io
import re

import pytest
from babel.messages.pofile import read_po
from campaign_helpers import configured, make_issue
from factories import PASSWORD, make_list, make_subscriber, make_user
from helpers import csrf_token, log_in

from newsletter import delivery, organisation
from newsletter.cli.translate import TRANSLATIONS
from newsletter.extensions import db
from newsletter.models import (
    Issue,
    IssueStatus,
    MailingList,
    Organisation,
    SubscriberStatus,
    User,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xa1\xd1"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def list_id(slug: str) -> int:
    return make_list(slug).id


def count(model) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize("path", ["/admin/", "/admin/lists", "/admin/settings", "/admin/users"])
def test_logged_out_visitor_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/admin/login?next=")


def test_wrong_password_is_refused_in_the_visitors_language(client, in_app, translated):
    in_app(make_user, "ed@example.org")
    response = log_in(client, "ed@example.org", "wrong password")
    assert response.status_code == 401
    assert "The email address or the password is wrong." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    token = csrf_token(client, "/admin/login?lang=fr")
    page = client.post(
        "/admin/login?lang=fr",
        data={"email": "nobody@example.org", "password": "x", "csrf_token": token},
    ).get_data(as_text=True)
    assert translated("fr", "The email address or the password is wrong.") in page


def test_a_locked_account_cannot_log_in(client, in_app):
    user_id = in_app(make_user, "gone@example.org")

    def lock():
        db.session.get(User, user_id).active = False
        db.session.commit()

    in_app(lock)
    assert log_in(client, "gone@example.org").status_code == 401


def test_login_is_throttled_per_account(client, in_app):
    in_app(make_user, "target@example.org")
    answers = [log_in(client, "target@example.org", f"guess {n}").status_code for n in range(6)]
    assert answers[:5] == [401] * 5 and answers[5] == 429
    assert log_in(client, "target@example.org").status_code == 429, "even the right password"


def test_login_only_returns_to_pages_of_this_site(client, in_app):
    in_app(make_user, "ed@example.org")
    token = csrf_token(client, "/admin/login")
    form = {"email": "ed@example.org", "password": PASSWORD, "csrf_token": token}
    response = client.post("/admin/login?next=//evil.example/x", data=form)
    assert response.location == "/admin/"
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    token = csrf_token(client, "/admin/login")
    response = client.post("/admin/login?next=/admin/lists", data={**form, "csrf_token": token})
    assert response.location == "/admin/lists"


def test_logout_needs_a_post_and_ends_the_session(editor_client):
    assert editor_client.get("/admin/logout").status_code == 405
    token = csrf_token(editor_client, "/admin/")
    assert editor_client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert editor_client.get("/admin/").status_code == 302


def test_session_cookie_is_http_only(client, in_app):
    in_app(make_user, "ed@example.org")
    response = log_in(client, "ed@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("path", ["/admin/users", "/admin/settings", "/admin/tokens"])
def test_editors_cannot_reach_admin_pages(editor_client, path):
    assert editor_client.get(path).status_code == 403


def test_editors_cannot_post_to_admin_pages(editor_client, in_app):
    token = csrf_token(editor_client, "/admin/")
    response = editor_client.post(
        "/admin/users/new",
        data={"csrf_token": token, "email": "x@example.org", "role": "admin", "language": "en"},
    )
    assert response.status_code == 403
    assert in_app(count, User) == 1


def test_each_editor_sees_the_ui_in_their_language(client, in_app, translated):
    in_app(make_user, "de@example.org", language="de")
    log_in(client, "de@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in page
    assert translated("de", "Subscribers by language") in page
    token = csrf_token(client, "/admin/")
    client.post("/admin/language", data={"csrf_token": token, "language": "es", "next": "/"})
    page = client.get("/admin/lists").get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in page and translated("es", "New list") in page


def test_post_without_csrf_token_is_refused_and_changes_nothing(editor_client, in_app):
    response = editor_client.post("/admin/lists/new", data={"slug": "x", "name_en": "X"})
    assert response.status_code == 400
    assert in_app(count, MailingList) == 0


def list_form(token: str, slug: str, **names) -> dict:
    form = {"csrf_token": token, "slug": slug, "public": "y"}
    for code, name in names.items():
        form[f"name_{code}"] = name
        form[f"description_{code}"] = f"About {name}"
    return form


def test_editor_creates_and_edits_a_list_in_four_languages(editor_client, in_app):
    token = csrf_token(editor_client, "/admin/lists/new")
    names = {"en": "Campaigns", "es": "Campañas", "fr": "Campagnes", "de": "Kampagnen"}
    response = editor_client.post("/admin/lists/new", data=list_form(token, "campaigns", **names))
    assert response.status_code == 302

    def saved():
        return db.session.execute(db.select(MailingList)).scalar_one()

    item = in_app(saved)
    assert item.names == names and item.descriptions["de"] == "About Kampagnen"
    assert item.public
    page = editor_client.get("/admin/lists").get_data(as_text=True)
    assert "Campaigns" in page and "campaigns" in page
    form = list_form(token, "campaigns", en="Campaigns", es="Campañas", fr="", de="")
    del form["public"]
    editor_client.post(f"/admin/lists/{item.id}", data=form)
    item = in_app(saved)
    assert not item.public and set(item.names) == {"en", "es"}
    assert editor_client.get("/es/").get_data(as_text=True).count("Campañas") == 0, "private"


@pytest.mark.parametrize(
    ("slug", "names", "message"),
    [
        ("Bad Slug!", {"en": "X"}, "Use lower-case letters, digits and hyphens only."),
        ("ok", {"es": "Sólo español"}, "This field is required."),
        ("ok", {"en": "x" * 101}, "Field cannot be longer than 100 characters."),
    ],
)
def test_bad_list_input_gets_a_message_and_changes_nothing(
    editor_client, in_app, slug, names, message
):
    token = csrf_token(editor_client, "/admin/lists/new")
    response = editor_client.post("/admin/lists/new", data=list_form(token, slug, **names))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert in_app(count, MailingList) == 0


def test_two_lists_cannot_share_a_short_name(editor_client, in_app):
    in_app(make_list, "events")
    token = csrf_token(editor_client, "/admin/lists/new")
    response = editor_client.post("/admin/lists/new", data=list_form(token, "events", en="Two"))
    assert response.status_code == 422
    assert "Another list already uses this short name." in response.get_data(as_text=True)
    assert in_app(count, MailingList) == 1


def test_a_list_in_an_issues_audience_cannot_be_deleted(editor_client, in_app):
    used = in_app(list_id, "newsletter")
    unused = in_app(list_id, "events")
    in_app(make_issue, [used])
    token = csrf_token(editor_client, "/admin/lists")
    editor_client.post(f"/admin/lists/{used}/delete", data={"csrf_token": token})
    editor_client.post(f"/admin/lists/{unused}/delete", data={"csrf_token": token})
    remaining = in_app(lambda: db.session.execute(db.select(MailingList.slug)).scalars().all())
    assert remaining == ["newsletter"]


def test_markup_in_names_is_escaped_on_admin_pages(admin_client, in_app):
    hostile = "<script>alert(1)</script>"
    token = csrf_token(admin_client, "/admin/lists/new")
    admin_client.post("/admin/lists/new", data=list_form(token, "x", en=hostile))
    in_app(make_user, "evil@example.org", name=hostile)
    newsletter = in_app(list_id, "newsletter")
    in_app(make_subscriber, "s@example.org", list_ids=(newsletter,), name=hostile)
    for path in ("/admin/lists", "/admin/users", "/admin/"):
        page = admin_client.get(path).get_data(as_text=True)
        assert hostile not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin_client.get("/admin/lists").text


def test_dashboard_counts_subscribers_by_status_and_language(editor_client, in_app):
    for number, language in enumerate(["en", "es", "es", "de"]):
        in_app(make_subscriber, f"c{number}@example.org", language)
    in_app(make_subscriber, "p@example.org", "fr", SubscriberStatus.PENDING)
    page = editor_client.get("/admin/").get_data(as_text=True)
    by_language = page.split('id="by-language"')[1].split("</section>")[0]
    assert '>Español</td><td class="num">2<' in by_language.replace("\n", "")
    by_status = page.split('id="by-status"')[1].split("</section>")[0].replace("\n", "")
    assert '>Confirmed</td><td class="num">4<' in by_status
    growth = page.split('id="growth"')[1].split("</section>")[0]
    assert growth.count('class="bar"') == 12
    assert ">4</text>" in growth, "this week's bar is labelled with its four confirmations"


def settings_form(token: str, **changes) -> dict:
    form = {
        "csrf_token": token,
        "name": "Red Internacional",
        "brand_color": "#aa0000",
        "text_color": "#111111",
        "background_color": "#eeeeee",
        "address_en": "1 Main Street\nSpringfield",
        "address_de": "Hauptstraße 1\nBerlin",
    }
    form.update(changes)
    return form


def test_settings_appear_in_every_mail_in_its_language(admin_client, in_app, smtp):
    token = csrf_token(admin_client, "/admin/settings")
    logo = PNG + b"\0" * 100_000  # larger than the site's usual 64 KB limit on bodies
    form = settings_form(token, logo=(io.BytesIO(logo), "logo.png"))
    response = admin_client.post("/admin/settings", data=form, content_type="multipart/form-data")
    assert response.status_code == 302
    org = in_app(lambda: db.session.get(Organisation, 1))
    assert org.name == "Red Internacional" and org.logo.endswith(".png")
    assert admin_client.get(f"/media/{org.logo}").data == logo
    issue_id = in_app(make_issue, [in_app(list_id, "newsletter")])

    def send(language, address):
        delivery.send_test(db.session.get(Issue, issue_id), language, address)

    in_app(send, "de", "de@example.org")
    in_app(send, "fr", "fr@example.org")
    german, french = sorted((m.message for m in smtp.wait_for(2)), key=lambda m: m["To"])
    html = german.get_body(("html",)).get_content()
    assert "Hauptstraße 1, Berlin" in html and "Red Internacional" in html
    assert f"http://newsletter.test/media/{org.logo}" in html
    assert "#aa0000" in html.lower()
    footer = french.get_body(("html",)).get_content()
    assert "1 Main Street, Springfield" in footer, "French falls back to the default language"


def test_an_address_typed_in_a_browser_prints_cleanly_in_both_parts(admin_client, in_app, smtp):
    """Browsers send line breaks as CRLF; neither part may show stray spaces or blank lines."""
    token = csrf_token(admin_client, "/admin/settings")
    typed = " Our Network \r\n12 Example Street\r\n\r\nLondon N1 9GU\r\n"
    form = settings_form(token, address_en=typed, address_de="")
    assert admin_client.post("/admin/settings", data=form).status_code == 302
    org = in_app(lambda: db.session.get(Organisation, 1))
    assert org.postal_address == {"en": "Our Network\n12 Example Street\nLondon N1 9GU"}
    issue_id = in_app(make_issue, [in_app(list_id, "newsletter")])
    in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "de", "de@example.org"))
    (mail,) = [m.message for m in smtp.wait_for(1)]
    html_part = mail.get_body(("html",)).get_content()
    assert "Our Network, 12 Example Street, London N1 9GU" in html_part
    assert " ," not in html.unescape(re.sub(r"<[^>]+>", "", html_part))
    text = mail.get_body(("plain",)).get_content().splitlines()
    assert text[-4:] == ["Red Internacional", "Our Network", "12 Example Street", "London N1 9GU"]
    assert "Abmelden: http://newsletter.test/de/unsubscribe/" in "\n".join(text)


def test_an_address_saved_with_crlf_before_is_printed_cleanly(in_app, smtp):
    def save_old_row():
        db.session.add(Organisation(id=1, name="Red", postal_address={"en": "1 Main St\r\nTown"}))
        db.session.commit()

    in_app(save_old_row)
    issue_id = in_app(make_issue, [in_app(list_id, "newsletter")])
    in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "en", "en@example.org"))
    (mail,) = [m.message for m in smtp.wait_for(1)]
    assert "1 Main St, Town" in mail.get_body(("html",)).get_content()
    assert mail.get_body(("plain",)).get_content().splitlines()[-2:] == ["1 Main St", "Town"]


def test_the_address_falls_back_to_the_configured_default_language(app, in_app, smtp):
    def save_german_address():
        db.session.add(Organisation(id=1, name="Red", postal_address={"de": "Hauptstraße 1"}))
        db.session.commit()

    in_app(save_german_address)
    issue_id = in_app(make_issue, [in_app(list_id, "newsletter")])
    with configured(app, DEFAULT_LANGUAGE="de"):
        in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "fr", "fr@example.org"))
        assert in_app(organisation.languages_without_address, ["en", "fr"]) == []
    (mail,) = [m.message for m in smtp.wait_for(1)]
    assert "Hauptstraße 1" in mail.get_body(("html",)).get_content()
    assert mail.get_body(("plain",)).get_content().splitlines()[-1] == "Hauptstraße 1"


def test_view_in_browser_shows_settings_saved_after_an_earlier_view(admin_client, client, in_app):
    """A render kept from before the settings changed must not be shown afterwards."""
    issue_id = in_app(make_issue, [in_app(list_id, "newsletter")])

    def mark_sent():
        db.session.get(Issue, issue_id).status = IssueStatus.SENT
        db.session.commit()

    in_app(mark_sent)
    before = client.get(f"/de/issues/{issue_id}").get_data(as_text=True)
    assert "Hauptstraße 1" not in before
    token = csrf_token(admin_client, "/admin/settings")
    assert admin_client.post("/admin/settings", data=settings_form(token)).status_code == 302
    after = client.get(f"/de/issues/{issue_id}").get_data(as_text=True)
    assert "Hauptstraße 1, Berlin" in after and "Red Internacional" in after


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"brand_color": "red; background:url(x)"}, 422, "Use a colour like #0b6e4f."),
        ({"name": ""}, 422, "This field is required."),
        ({"logo": (b"<svg onload=alert(1)>", "logo.png")}, 422, "PNG, JPEG or GIF"),
        ({"logo": (PNG + b"0" * 530_000, "big.png")}, 422, "at most 512 KB"),
        ({"logo": (PNG + b"0" * 700_000, "huge.png")}, 413, "What you sent is too large."),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    admin_client, in_app, changes, status, message
):
    token = csrf_token(admin_client, "/admin/settings")
    if "logo" in changes:  # a fresh file for each run of the test
        data, filename = changes["logo"]
        changes = {**changes, "logo": (io.BytesIO(data), filename)}
    response = admin_client.post(
        "/admin/settings", data=settings_form(token, **changes), content_type="multipart/form-data"
    )
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Organisation, 1)) is None


def test_a_new_account_starts_as_an_editor_with_a_hint_for_a_new_password(admin_client):
    text = html.unescape(admin_client.get("/admin/users/new").get_data(as_text=True))
    assert re.search(r'<option selected value="editor">|<option value="editor" selected>', text)
    assert "At least 10 characters." in text
    assert "keep the current password" not in text


def test_admin_creates_an_editor_who_can_log_in(admin_client, app, in_app):
    token = csrf_token(admin_client, "/admin/users/new")
    form = {
        "csrf_token": token,
        "email": "New.Editor@Example.org",
        "name": "Nora",
        "role": "editor",
        "language": "fr",
        "password": "long enough password",
        "active": "y",
    }
    assert admin_client.post("/admin/users/new", data=form).status_code == 302
    again = admin_client.post("/admin/users/new", data=form)
    assert "An account with this address exists already." in again.get_data(as_text=True)
    short = admin_client.post(
        "/admin/users/new", data={**form, "email": "b@example.org", "password": "short"}
    )
    assert "at least 10 characters" in short.get_data(as_text=True)
    client = app.test_client()
    assert log_in(client, "new.editor@example.org", "long enough password").status_code == 302
    assert client.get("/admin/users").status_code == 403


def test_admins_cannot_lock_themselves_out(admin_client, in_app):
    admin_id = in_app(
        lambda: db.session.execute(db.select(User.id).where(User.email.like("admin@%"))).scalar()
    )
    token = csrf_token(admin_client, f"/admin/users/{admin_id}")
    form = {"csrf_token": token, "name": "Ada", "role": "editor", "language": "en", "active": "y"}
    page = admin_client.post(f"/admin/users/{admin_id}", data=form, follow_redirects=True)
    assert "remove your own admin rights" in page.get_data(as_text=True)
    assert in_app(lambda: db.session.get(User, admin_id).role.value) == "admin"


ADMIN_PAGES = [
    "/admin/",
    "/admin/lists",
    "/admin/lists/new",
    "/admin/subscribers",
    "/admin/imports/new",
    "/admin/issues",
    "/admin/issues/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/tokens",
    "/admin/settings",
    "/admin/account",
    "/admin/account/two-factor",
]


def english_sentences(lang: str) -> list[str]:
    """Source strings the catalog of ``lang`` translates differently, long enough to spot."""
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    return [
        m.id
        for m in catalog
        if isinstance(m.id, str) and len(m.id) >= 12 and "%(" not in m.id and m.string != m.id
    ]


@pytest.mark.parametrize("lang", ["es", "fr", "de"])
def test_no_english_is_left_on_admin_pages(app, in_app, lang):
    newsletter = in_app(list_id, "newsletter")
    subscriber = in_app(
        lambda: make_subscriber("reader@example.org", "es", list_ids=(newsletter,)).id
    )
    issue_id = in_app(make_issue, [newsletter])
    in_app(make_user, f"{lang}@example.org", "admin", language=lang)
    client = app.test_client()
    log_in(client, f"{lang}@example.org")
    sentences = english_sentences(lang)
    pages = [*ADMIN_PAGES, f"/admin/subscribers/{subscriber}", f"/admin/issues/{issue_id}/edit"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}" dir="ltr">' in page, path
        # The mail previews show an issue in its own language (English here), not the UI's.
        page = re.sub(r'srcdoc="[^"]*"|<pre id="preview-text".*?</pre>', "", page, flags=re.S)
        text = html.unescape(page)
        left = [sentence for sentence in sentences if sentence in text]
        assert left == [], f"English on {path}"


def test_locking_an_account_or_changing_its_password_ends_its_sessions(app, in_app):
    user_id = in_app(make_user, "ed@example.org")
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        log_in(client, "ed@example.org")
        assert client.get("/admin/").status_code == 200

    def change(**values):
        user = db.session.get(User, user_id)
        for name, value in values.items():
            if name == "password":
                user.set_password(value)
            else:
                setattr(user, name, value)
        db.session.commit()

    in_app(change, password="a brand new password")
    assert first.get("/admin/").status_code == 302, "the old password's session is over"
    assert log_in(first, "ed@example.org", "a brand new password").status_code == 302
    assert first.get("/admin/").status_code == 200
    in_app(change, active=False)
    assert first.get("/admin/").status_code == 302, "a locked account's session is over"
    assert second.get("/admin/").status_code == 302
