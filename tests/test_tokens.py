"""API tokens: the admin page (create, show the secret once, revoke) and ``flask tokens``."""

import html
import re

from factories import make_user
from helpers import csrf_token

from newsletter.extensions import db
from newsletter.models import ApiToken, TokenScope

SECRET = re.compile(r"nlt_[A-Za-z0-9_-]{43}")


def tokens_in_db() -> list[tuple[str, TokenScope, bool]]:
    rows = db.session.execute(db.select(ApiToken).order_by(ApiToken.id)).scalars()
    return [(t.name, t.scope, t.revoked_at is not None) for t in rows]


def create_on_page(client, name: str, scope: str):
    token = csrf_token(client, "/admin/tokens")
    return client.post("/admin/tokens", data={"name": name, "scope": scope, "csrf_token": token})


def test_admin_creates_a_token_and_sees_its_secret_once(admin_client, client, in_app):
    page = admin_client.get("/admin/tokens")
    assert page.status_code == 200
    assert "API tokens" in page.get_data(as_text=True)

    created = create_on_page(admin_client, "CRM sync", "write")
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    text = html.unescape(created.get_data(as_text=True))
    [secret] = SECRET.findall(text)
    assert "will not be shown again" in text
    assert in_app(tokens_in_db) == [("CRM sync", TokenScope.WRITE, False)]

    listed = html.unescape(admin_client.get("/admin/tokens").get_data(as_text=True))
    assert "CRM sync" in listed and secret[:10] in listed
    assert secret not in listed, "the secret is shown only once"

    answer = client.get("/api/v1/lists", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    listed = html.unescape(admin_client.get("/admin/tokens").get_data(as_text=True))
    assert "Never" not in listed, "last use is shown"


def test_admin_revokes_a_token(admin_client, client, in_app):
    created = create_on_page(admin_client, "Old script", "read")
    [secret] = SECRET.findall(created.get_data(as_text=True))
    token_id = in_app(lambda: db.session.execute(db.select(ApiToken.id)).scalar_one())

    no_csrf = admin_client.post(f"/admin/tokens/{token_id}/revoke")
    assert no_csrf.status_code == 400
    assert in_app(tokens_in_db) == [("Old script", TokenScope.READ, False)]

    token = csrf_token(admin_client, "/admin/tokens")
    revoked = admin_client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    assert in_app(tokens_in_db) == [("Old script", TokenScope.READ, True)]
    page = html.unescape(admin_client.get("/admin/tokens").get_data(as_text=True))
    assert "Revoked on" in page
    answer = client.get("/api/v1/lists", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401
    missing = admin_client.post("/admin/tokens/999999/revoke", data={"csrf_token": token})
    assert missing.status_code == 404


def test_creating_needs_csrf_and_a_valid_form(admin_client, in_app):
    refused = admin_client.post("/admin/tokens", data={"name": "No CSRF", "scope": "write"})
    assert refused.status_code == 400
    token = csrf_token(admin_client, "/admin/tokens")
    for data in (
        {"name": "", "scope": "read"},
        {"name": "x", "scope": "admin"},
        {"name": "Eve\r\nX-Injected: 1", "scope": "read"},
        {"name": "n" * 101, "scope": "read"},
    ):
        response = admin_client.post("/admin/tokens", data={**data, "csrf_token": token})
        assert response.status_code == 400, data
        assert not SECRET.search(response.get_data(as_text=True))
    assert in_app(tokens_in_db) == []


def test_editors_and_visitors_may_not_manage_tokens(editor_client, app, in_app):
    assert editor_client.get("/admin/tokens").status_code == 403
    token = csrf_token(editor_client, "/admin/")
    refused = editor_client.post(
        "/admin/tokens", data={"name": "Sneaky", "scope": "write", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert in_app(tokens_in_db) == []
    visitor = app.test_client().get("/admin/tokens")
    assert visitor.status_code == 302 and "/admin/login" in visitor.headers["Location"]


def test_the_page_speaks_the_admins_language(app, in_app, translated):
    from helpers import log_in

    in_app(make_user, "german.admin@example.org", "admin", language="de")
    client = app.test_client()
    log_in(client, "german.admin@example.org")
    page = html.unescape(client.get("/admin/tokens").get_data(as_text=True))
    assert '<html lang="de" dir="ltr">' in page
    assert translated("de", "API tokens") in page
    assert translated("de", "Create token") in page


def test_cli_creates_lists_and_revokes_tokens(runner, client, in_app):
    created = runner.invoke(args=["tokens", "create", "Nightly export", "--scope", "read"])
    assert created.exit_code == 0, created.output
    [secret] = SECRET.findall(created.output)
    assert "shown once" in created.output
    assert in_app(tokens_in_db) == [("Nightly export", TokenScope.READ, False)]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/lists", headers=headers).status_code == 200

    listed = runner.invoke(args=["tokens", "list"])
    assert listed.exit_code == 0
    assert "Nightly export" in listed.output and secret[:10] in listed.output
    assert secret not in listed.output and "active" in listed.output

    token_id = in_app(lambda: db.session.execute(db.select(ApiToken.id)).scalar_one())
    revoked = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    assert client.get("/api/v1/lists", headers=headers).status_code == 401

    assert runner.invoke(args=["tokens", "revoke", "999999"]).exit_code != 0
    assert runner.invoke(args=["tokens", "create", "x", "--scope", "admin"]).exit_code != 0
    assert runner.invoke(args=["tokens", "create", "a\nb"]).exit_code != 0
    default = runner.invoke(args=["tokens", "create", "Reader"])
    assert default.exit_code == 0 and "read token" in default.output
