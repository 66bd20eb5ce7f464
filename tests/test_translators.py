"""Translators: an account that writes only the languages given to it, reads the others,
and reaches nothing else; and the mail that tells translators their source changed."""

import re
from datetime import timedelta

import pytest
from campaign_helpers import BODIES, configured, make_issue
from factories import PASSWORD, make_lists, make_user
from helpers import csrf_token, log_in
from test_admin_issues import form_data

from newsletter import campaigns, translators
from newsletter.accounts import AccountError, create_user
from newsletter.admin.auth import TRANSLATOR_ENDPOINTS, TRANSLATOR_LANGUAGE_ENDPOINTS
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Role, TranslationState, User, utcnow

TRANSLATOR = "traductrice@example.org"


def make_translator(email: str = TRANSLATOR, languages=("fr",), language: str = "fr") -> int:
    user = create_user(
        email, PASSWORD, Role.TRANSLATOR, language=language, translation_languages=list(languages)
    )
    db.session.commit()
    return user.id


@pytest.fixture
def translator_client(app, in_app):
    """A client logged in as a translator of French whose interface is in French."""
    in_app(make_translator)
    client = app.test_client()
    assert log_in(client, TRANSLATOR).status_code == 302
    return client


@pytest.fixture
def issue_id(in_app):
    return in_app(lambda: make_issue([make_lists()["newsletter"]]))


def saved_issue(issue_id: int) -> dict:
    issue = db.session.get(Issue, issue_id)
    return {
        "name": issue.name,
        "lists": sorted(issue.list_ids),
        "default_language": issue.default_language,
        "variants": {v.language: (v.subject, v.body, v.version) for v in issue.variants},
    }


def url_for_rule(rule, issue_id: int, language: str) -> str:
    values = {}
    for name in rule.arguments:
        if name in ("lang", "language"):
            values[name] = language
        elif name == "issue_id":
            values[name] = issue_id
        else:
            values[name] = 1
    return rule.build(values, append_unknown=False)[1]


def admin_rules(app):
    skipped = {"admin.login", "admin.login_code", "admin.static"}
    return [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and r.endpoint not in skipped
    ]


def test_a_translator_gets_403_on_every_admin_page_not_of_their_work(
    app, translator_client, issue_id
):
    token = csrf_token(translator_client, "/admin/account")
    reached, refused = set(), set()
    for rule in admin_rules(app):
        for method in sorted(rule.methods & {"GET", "POST"}):
            language = "fr" if rule.endpoint in TRANSLATOR_LANGUAGE_ENDPOINTS else "es"
            url = url_for_rule(rule, issue_id, language)
            if method == "GET":
                response = translator_client.get(url)
            else:
                response = translator_client.post(url, data={"csrf_token": token})
            allowed = rule.endpoint in TRANSLATOR_ENDPOINTS | TRANSLATOR_LANGUAGE_ENDPOINTS
            if rule.endpoint in ("admin.logout", "admin.end_all_sessions"):
                assert response.status_code == 302  # logged out: in again for the next
                assert log_in(translator_client, TRANSLATOR).status_code == 302
                token = csrf_token(translator_client, "/admin/account")
                continue
            if allowed:
                assert response.status_code != 403, (method, url)
                reached.add(rule.endpoint)
            elif rule.endpoint == "admin.dashboard":
                assert response.status_code == 302
                assert response.location.endswith("/admin/issues")
            else:
                assert response.status_code == 403, (method, url, response.status_code)
                refused.add(rule.endpoint)
    # The gate was really tried on both sides: sending, subscribers, users, settings, tokens.
    assert {
        "admin.send_issue",
        "admin.schedule_issue",
        "admin.subscribers",
        "admin.users",
        "admin.settings",
        "admin.tokens",
        "admin.create_token",
        "admin.translation_approve",
        "admin.translation_fallback",
        "admin.new_issue",
        "admin.issue_audience",
        "admin.upload_media",
        "admin.export_subscribers",
    } <= refused
    assert {"admin.issues", "admin.edit_issue", "admin.translation_ready"} <= reached


@pytest.mark.parametrize("endpoint", sorted(TRANSLATOR_LANGUAGE_ENDPOINTS))
def test_a_translator_may_not_act_on_a_language_not_given_to_them(
    app, translator_client, issue_id, in_app, endpoint
):
    before = in_app(saved_issue, issue_id)
    token = csrf_token(translator_client, "/admin/account")
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    response = translator_client.post(
        url_for_rule(rule, issue_id, "es"), data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert in_app(saved_issue, issue_id) == before


def test_a_translator_saves_only_their_language_whatever_the_form_says(
    translator_client, issue_id, in_app
):
    before = in_app(saved_issue, issue_id)
    url = f"/admin/issues/{issue_id}/edit"
    page = translator_client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="translator-notice"' in text
    assert 'data-testid="read-only-es"' in text and 'data-testid="read-only-fr"' not in text
    assert 'data-testid="review-send"' not in text
    token = csrf_token(translator_client, url)
    variants = dict(BODIES)
    variants["fr"] = ("Nouvelles traduites", "# Nos nouvelles\n\nTraduit avec soin.")
    variants["es"] = ("Hackeado", "Texto cambiado por quien no debe.")
    variants["en"] = ("Hacked", "The source changed by a translator.")
    data = form_data(token, [999], name="Renamed", variants=variants, default_language="de")
    for code, version in (("en", 1), ("es", 1), ("fr", 1), ("de", 1)):
        data[f"variant_{code}-version"] = str(version)
    response = translator_client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    after = in_app(saved_issue, issue_id)
    assert after["variants"]["fr"][:2] == variants["fr"]
    assert after["variants"]["fr"][2] == 2
    for code in ("en", "es", "de"):
        assert after["variants"][code] == before["variants"][code]
    assert {k: after[k] for k in ("name", "lists", "default_language")} == {
        k: before[k] for k in ("name", "lists", "default_language")
    }


def test_a_translator_may_mark_their_language_ready_but_not_approve_it(
    translator_client, issue_id, in_app
):
    token = csrf_token(translator_client, f"/admin/issues/{issue_id}/edit")
    base = f"/admin/issues/{issue_id}/languages/fr"
    assert translator_client.post(f"{base}/ready", data={"csrf_token": token}).status_code == 302
    assert translator_client.post(f"{base}/approve", data={"csrf_token": token}).status_code == 403
    state = in_app(lambda: db.session.get(Issue, issue_id).variant("fr").state)
    assert state == TranslationState.READY


def test_a_translator_sees_the_interface_in_their_own_language(translator_client, issue_id):
    page = translator_client.get("/admin/issues").get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert 'data-testid="new-issue"' not in page
    assert "/admin/subscribers" not in page


def test_the_composer_shows_another_language_beside_when_asked(editor_client, issue_id):
    page = editor_client.get(f"/admin/issues/{issue_id}/edit?beside=de&tab=fr")
    text = page.get_data(as_text=True)
    panel = re.search(r'data-testid="beside-text-fr">(.*?)</div>', text, re.S)[1]
    assert "Neuigkeiten der Woche" in panel and 'lang="de"' in text
    assert 'data-testid="beside-preview-fr"' in text
    assert 'aria-selected="true" data-language="fr"' in text


def test_an_admin_gives_a_translator_languages(admin_client, in_app):
    token = csrf_token(admin_client, "/admin/users/new")
    base = {
        "csrf_token": token,
        "email": "t@example.org",
        "role": "translator",
        "language": "de",
        "password": PASSWORD,
        "active": "y",
    }
    refused = admin_client.post("/admin/users/new", data=base)
    assert refused.status_code == 422
    assert "Give a translator one or more languages." in refused.get_data(as_text=True)
    forged = admin_client.post("/admin/users/new", data=base | {"translation_languages": "xx"})
    assert forged.status_code == 422
    assert (
        in_app(lambda: db.session.execute(db.select(User).filter_by(email="t@example.org")).first())
        is None
    )
    made = admin_client.post(
        "/admin/users/new", data=base | {"translation_languages": ["es", "de"]}
    )
    assert made.status_code == 302
    user = in_app(
        lambda: db.session.execute(db.select(User).filter_by(email="t@example.org")).scalar_one()
    )
    assert (user.role, user.translation_languages) == (Role.TRANSLATOR, ["es", "de"])
    assert "(ES, DE)" in admin_client.get("/admin/users").get_data(as_text=True)


def test_only_translators_keep_languages(in_app):
    def run():
        editor = create_user("e2@example.org", PASSWORD, Role.EDITOR, translation_languages=["fr"])
        assert editor.translation_languages == []
        with pytest.raises(AccountError):
            create_user("t2@example.org", PASSWORD, Role.TRANSLATOR, translation_languages=[])
        db.session.rollback()

    in_app(run)


# The mail to translators


def change_source(issue_id: int, body: str) -> None:
    issue = db.session.get(Issue, issue_id)
    campaigns.set_variant(issue, "en", issue.variant("en").subject, body, "en preview")
    db.session.commit()


def due_at(issue_id: int):
    return db.session.get(Issue, issue_id).translators_due_at


def test_translators_get_one_mail_in_their_language_after_the_source_rests(
    app, in_app, issue_id, smtp
):
    in_app(make_translator)
    in_app(make_translator, "ubersetzer@example.org", ("de",), "de")
    in_app(make_translator, "other@example.org", ("es",), "es")
    in_app(make_user, "editor@example.org")
    with configured(app, TRANSLATOR_MAIL_INTERVAL=600):
        in_app(change_source, issue_id, "# Our news\n\nThe assembly meets on **Saturday**.")
        first_due = in_app(due_at, issue_id)
        assert first_due is not None
        in_app(change_source, issue_id, "# Our news\n\nThe assembly meets on **Sunday**.")
        assert in_app(due_at, issue_id) == first_due  # batched: the first change's time holds
    # Spanish is brought up to date meanwhile: its translator is not told.
    in_app(translators_mark, issue_id, "es")
    assert in_app(translators.tell_due_translators, first_due - timedelta(seconds=1)) == 0
    assert smtp.settle() == []
    assert in_app(translators.tell_due_translators, first_due) == 2
    mails = {item.recipients[0]: item.message for item in smtp.settle()}
    assert set(mails) == {TRANSLATOR, "ubersetzer@example.org"}
    french, german = mails[TRANSLATOR], mails["ubersetzer@example.org"]
    assert french["Content-Language"] == "fr" and german["Content-Language"] == "de"
    text = french.get_body(preferencelist=("plain",)).get_content()
    assert f"/admin/issues/{issue_id}/languages/fr/source-changes" in text
    assert "/languages/de/" not in text
    assert "Unsubscribe" not in text and "Se désabonner" not in text
    assert in_app(due_at, issue_id) is None
    assert in_app(translators.tell_due_translators, utcnow() + timedelta(days=1)) == 0


def translators_mark(issue_id: int, language: str) -> None:
    from newsletter import translation_status

    translation_status.mark_up_to_date(db.session.get(Issue, issue_id), language)
    db.session.commit()


def test_a_relay_that_refuses_leaves_the_mail_due(app, in_app, issue_id, smtp):
    in_app(make_translator)
    in_app(change_source, issue_id, "Changed.")
    due = in_app(due_at, issue_id)
    smtp.refuse(TRANSLATOR, "451 4.3.0 Try again later")
    assert in_app(translators.tell_due_translators, due) == 0
    assert in_app(due_at, issue_id) == due
    smtp.reset()
    assert in_app(translators.tell_due_translators, due) == 1


def test_a_sent_issue_tells_nobody(in_app, issue_id, smtp):
    in_app(make_translator)
    in_app(change_source, issue_id, "Changed.")

    def send_it():
        issue = db.session.get(Issue, issue_id)
        issue.status = IssueStatus.SENT
        db.session.commit()
        return issue.translators_due_at

    due = in_app(send_it)
    assert in_app(translators.tell_due_translators, due) == 0
    assert smtp.settle() == []
    assert in_app(due_at, issue_id) is None


def test_the_command_line_creates_a_translator_of_given_languages(runner, in_app):
    refused = runner.invoke(
        args=["users", "create", "t3@example.org", "--role", "translator", "--password", PASSWORD]
    )
    assert refused.exit_code != 0
    assert "Give a translator one or more languages." in refused.output
    made = runner.invoke(
        args=[
            "users",
            "create",
            "t3@example.org",
            "--role",
            "translator",
            "--translates",
            "de",
            "--translates",
            "es",
            "--password",
            PASSWORD,
        ]
    )
    assert made.exit_code == 0, made.output
    line = [
        row
        for row in runner.invoke(args=["users", "list"]).output.splitlines()
        if "t3@example.org" in row
    ][0]
    assert line.split()[2] == "translator" and line.endswith("es,de")


def test_an_editor_changes_the_languages_of_a_translator(editor_client, in_app):
    translator = in_app(make_translator)
    editor = in_app(
        lambda: db.session.execute(
            db.select(User.id).filter_by(email="editor@example.org")
        ).scalar_one()
    )
    page = editor_client.get("/admin/translators")
    assert page.status_code == 200 and TRANSLATOR in page.get_data(as_text=True)
    token = csrf_token(editor_client, "/admin/translators")
    field = f"translator-{translator}-translation_languages"
    url = f"/admin/translators/{translator}"
    done = editor_client.post(url, data={"csrf_token": token, field: ["de", "fr"]})
    assert done.status_code == 302
    languages = lambda: db.session.get(User, translator).translation_languages  # noqa: E731
    assert in_app(languages) == ["fr", "de"]
    editor_client.post(url, data={"csrf_token": token})  # none: refused, nothing changes
    assert in_app(languages) == ["fr", "de"]
    forged = editor_client.post(url, data={"csrf_token": token, field: ["xx"]})
    assert forged.status_code == 400 and in_app(languages) == ["fr", "de"]
    # Only translators have languages to give; the page is not the users page.
    no_translator = editor_client.post(f"/admin/translators/{editor}", data={"csrf_token": token})
    assert no_translator.status_code == 404


def test_the_database_accepts_the_translator_role_and_nothing_unknown(in_app):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    def insert(role: str) -> None:
        db.session.execute(
            text(
                "INSERT INTO user_account (email, name, password_hash, role, language, active,"
                " created_at, translation_languages)"
                " VALUES (:email, '', 'x', :role, 'en', true, :now, '[]')"
            ),
            {"email": f"{role}@example.org", "role": role, "now": utcnow()},
        )
        db.session.commit()

    in_app(insert, "translator")
    with pytest.raises(IntegrityError):
        in_app(insert, "owner")


# A token acting for a translator

TOKEN_BLUEPRINTS = (
    "issues",
    "layouts",
    "lists",
    "media",
    "subscribers",
    "translations",
    "attachments",
)


def translator_token() -> str:
    from newsletter.accounts import create_token
    from newsletter.models import TokenScope

    user = db.session.get(User, make_translator())
    _token, secret = create_token("CAT tool", TokenScope.WRITE, created_by=user)
    db.session.commit()
    return secret


def api_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in TOKEN_BLUEPRINTS]


def test_a_translators_token_gets_403_on_every_operation_not_of_their_work(app, in_app, issue_id):
    from newsletter.api.auth import TRANSLATOR_LANGUAGE_OPERATIONS, TRANSLATOR_OPERATIONS

    secret = in_app(translator_token)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    reached, refused = set(), set()
    for rule in api_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            language = "fr" if rule.endpoint in TRANSLATOR_LANGUAGE_OPERATIONS else "es"
            url = url_for_rule(rule, issue_id, language)
            response = client.open(url, method=method, headers=headers, json={})
            if rule.endpoint in TRANSLATOR_OPERATIONS | TRANSLATOR_LANGUAGE_OPERATIONS:
                assert response.status_code != 403, (method, url, response.get_json())
                reached.add(rule.endpoint)
            else:
                assert response.status_code == 403, (method, url, response.status_code)
                assert response.get_json()["code"] == "translator_forbidden"
                refused.add(rule.endpoint)
    assert {
        "issues.send",
        "issues.update",
        "issues.create",
        "subscribers.list_subscribers",
        "translations.approve",
        "translations.choose_fallback",
        "lists.create",
        "issues.deliveries",
    } <= refused
    assert {"issues.read", "translations.export_xliff", "issues.put_variant"} <= reached


def test_a_translators_token_writes_their_language_only(app, in_app, issue_id):
    secret = in_app(translator_token)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    before = in_app(saved_issue, issue_id)
    text = {"subject": "Sujet", "preheader": "", "body": "Corps du texte."}
    spanish = client.put(f"/api/v1/issues/{issue_id}/variants/es", headers=headers, json=text)
    assert spanish.status_code == 403
    assert in_app(saved_issue, issue_id) == before
    french = client.put(f"/api/v1/issues/{issue_id}/variants/fr", headers=headers, json=text)
    assert french.status_code == 200, french.get_json()
    assert in_app(saved_issue, issue_id)["variants"]["fr"][:2] == ("Sujet", "Corps du texte.")


def test_an_admin_makes_a_token_that_acts_for_a_translator(admin_client, in_app):
    from newsletter.models import ApiToken

    translator = in_app(make_translator)
    token = csrf_token(admin_client, "/admin/tokens")
    made = admin_client.post(
        "/admin/tokens",
        data={"csrf_token": token, "name": "OmegaT", "scope": "write", "acts_as": translator},
    )
    assert made.status_code == 201
    assert TRANSLATOR in made.get_data(as_text=True)
    owner = in_app(
        lambda: db.session.execute(
            db.select(ApiToken.created_by_id).filter_by(name="OmegaT")
        ).scalar_one()
    )
    assert owner == translator
    forged = admin_client.post(
        "/admin/tokens",
        data={"csrf_token": token, "name": "Forged", "scope": "write", "acts_as": 999999},
    )
    assert forged.status_code == 400
