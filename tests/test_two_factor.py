"""Two-factor sign-in: enrolment on the account page, the code step of the login, recovery
codes, the organisation-wide requirement and the lost-phone reset."""

import re
import time

import pyotp
import pytest
from factories import make_user
from helpers import csrf_token, log_in

from newsletter.extensions import db
from newsletter.models import Organisation, RecoveryCode, User, UserSession

CODE_PAGE = "/admin/login/code"


def secret_of(email: str) -> str:
    return db.session.execute(db.select(User.totp_secret).where(User.email == email)).scalar_one()


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def enrol(client, in_app, email: str) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on through the account page; returns secret and codes."""
    page = client.get("/admin/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and 'class="segno"' in page
    secret = in_app(secret_of, email)
    assert secret and " ".join(re.findall(".{1,4}", secret)) in page
    token = csrf_token(client, "/admin/account/two-factor")
    answer = client.post(
        "/admin/account/two-factor", data={"csrf_token": token, "code": code_at(secret)}
    )
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    codes = re.findall(
        r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", answer.get_data(as_text=True)
    )
    assert len(codes) == 10
    return secret, codes


def send_code(client, code: str):
    token = csrf_token(client, CODE_PAGE)
    return client.post(CODE_PAGE, data={"csrf_token": token, "code": code})


@pytest.fixture
def enrolled(app, in_app):
    """ed@example.org with two-factor sign-in on, logged out; (secret, recovery codes)."""
    in_app(make_user, "ed@example.org")
    client = app.test_client()
    log_in(client, "ed@example.org")
    secret, codes = enrol(client, in_app, "ed@example.org")
    return secret, codes


def test_enrolment_shows_an_inline_qr_code_and_ten_recovery_codes_once(app, in_app, enrolled):
    _secret, codes = enrolled
    assert in_app(lambda: db.session.execute(db.select(db.func.count(RecoveryCode.id))).scalar())
    assert len(set(codes)) == 10
    stored = in_app(lambda: list(db.session.execute(db.select(RecoveryCode.code_hash)).scalars()))
    assert not set(code.replace("-", "") for code in codes) & set(stored), "stored hashed"


def test_enrolment_needs_a_right_code(client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")
    client.get("/admin/account/two-factor")
    token = csrf_token(client, "/admin/account/two-factor")
    for bad in ["000000", "12ab56", "9" * 5000]:
        answer = client.post("/admin/account/two-factor", data={"csrf_token": token, "code": bad})
        assert answer.status_code == 422
    assert "Off" in client.get("/admin/account").get_data(as_text=True)
    assert not in_app(lambda: db.session.execute(db.select(User.totp_enabled_at)).scalar())


def test_login_takes_a_code_after_the_password(app, in_app, enrolled):
    secret, _codes = enrolled
    client = app.test_client()
    answer = log_in(client, "ed@example.org")
    assert answer.status_code == 302 and answer.location == CODE_PAGE
    assert client.get("/admin/").status_code == 302, "half logged in grants nothing"
    assert client.get("/admin/account").status_code == 302
    assert in_app(lambda: db.session.execute(db.select(db.func.count(UserSession.id))).scalar())
    answer = send_code(client, code_at(secret, 1))
    assert answer.status_code == 302 and answer.location == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_is_refused_and_counted(app, in_app, enrolled):
    secret, _codes = enrolled
    client = app.test_client()
    log_in(client, "ed@example.org")
    wrong = f"{(int(code_at(secret, 1)) + 1) % 1_000_000:06d}"
    # 5 codes a minute per account, and the one that confirmed the enrolment counts too.
    answers = [send_code(client, wrong) for _ in range(4)]
    assert [a.status_code for a in answers] == [401] * 4
    assert "This code is wrong or was already used." in answers[0].get_data(as_text=True)
    assert send_code(client, code_at(secret, 1)).status_code == 429, "even the right code"
    assert client.get("/admin/").status_code == 302


def test_a_code_cannot_be_used_twice(app, in_app, enrolled):
    secret, _codes = enrolled
    code = code_at(secret, 1)
    first = app.test_client()
    log_in(first, "ed@example.org")
    assert send_code(first, code).status_code == 302
    second = app.test_client()
    log_in(second, "ed@example.org")
    assert send_code(second, code).status_code == 401
    assert second.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(app, in_app, enrolled):
    _secret, codes = enrolled
    first = app.test_client()
    log_in(first, "ed@example.org")
    assert send_code(first, codes[3].upper().replace("-", " ")).status_code == 302
    assert "Unused recovery codes: 9" in first.get("/admin/account").get_data(as_text=True)
    second = app.test_client()
    log_in(second, "ed@example.org")
    assert send_code(second, codes[3]).status_code == 401


@pytest.mark.parametrize("bad", ["abc", "12 34 5", "<script>", "٣٣٣٣٣٣", "1" * 70_000])
def test_bad_codes_get_a_clear_message_never_a_500(app, in_app, enrolled, bad):
    client = app.test_client()
    log_in(client, "ed@example.org")
    answer = send_code(client, bad)
    if len(bad) > 60_000:
        assert answer.status_code == 413
        assert "What you sent is too large." in answer.get_data(as_text=True)
    else:
        assert answer.status_code == 422
        assert "Enter the 6-digit code from your app" in answer.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_the_code_step_expires(app, in_app, enrolled):
    secret, _codes = enrolled
    client = app.test_client()
    log_in(client, "ed@example.org")
    with client.session_transaction() as session:
        session["pending_login"] = {**session["pending_login"], "until": time.time() - 1}
    token = csrf_token(client, "/admin/login")
    answer = client.post(CODE_PAGE, data={"csrf_token": token, "code": code_at(secret, 1)})
    assert answer.status_code == 302 and answer.location == "/admin/login"
    assert client.get("/admin/").status_code == 302
    assert client.get(CODE_PAGE).status_code == 302, "no code step without the password"


def test_turning_off_needs_a_code_or_the_password(app, in_app, enrolled):
    secret, _codes = enrolled
    client = app.test_client()
    log_in(client, "ed@example.org")
    send_code(client, code_at(secret, 1))
    token = csrf_token(client, "/admin/account")
    page = client.post(
        "/admin/account/two-factor/disable",
        data={"csrf_token": token, "answer": "not my password"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "This code or password is wrong." in page
    page = client.post(
        "/admin/account/two-factor/disable",
        data={"csrf_token": token, "answer": "correct horse battery"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Two-factor sign-in is off." in page
    again = app.test_client()
    assert log_in(again, "ed@example.org").location == "/admin/"


def test_new_recovery_codes_replace_the_old_ones(app, in_app, enrolled):
    secret, codes = enrolled
    client = app.test_client()
    log_in(client, "ed@example.org")
    send_code(client, code_at(secret, 1))
    token = csrf_token(client, "/admin/account")
    answer = client.post(
        "/admin/account/two-factor/recovery-codes",
        data={"csrf_token": token, "answer": "correct horse battery"},
    )
    fresh = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", answer.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    other = app.test_client()
    log_in(other, "ed@example.org")
    assert send_code(other, codes[0]).status_code == 401
    assert send_code(other, fresh[0]).status_code == 302


def test_mandatory_two_factor_sends_users_to_set_it_up_first(app, admin_client, in_app):
    token = csrf_token(admin_client, "/admin/settings")
    form = {
        "csrf_token": token,
        "name": "Our Network",
        "brand_color": "#0b6e4f",
        "text_color": "#1f2933",
        "background_color": "#f4f5f7",
        "require_two_factor": "y",
    }
    refused = admin_client.post("/admin/settings", data=form)
    assert refused.status_code == 422
    assert "Set up two-factor sign-in for your own account first." in refused.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Organisation, 1)) is None
    enrol(admin_client, in_app, "admin@example.org")
    assert admin_client.post("/admin/settings", data=form).status_code == 302

    in_app(make_user, "ed@example.org")
    editor = app.test_client()
    assert log_in(editor, "ed@example.org").status_code == 302
    for path in ["/admin/", "/admin/lists", "/admin/account"]:
        answer = editor.get(path)
        assert answer.status_code == 302 and answer.location == "/admin/account/two-factor"
    page = editor.get("/admin/account/two-factor").get_data(as_text=True)
    assert "Two-factor sign-in is required here." in page
    enrol(editor, in_app, "ed@example.org")
    assert editor.get("/admin/lists").status_code == 200


def test_cli_reset_turns_two_factor_off_and_ends_sessions(app, runner, in_app, enrolled):
    secret, _codes = enrolled
    client = app.test_client()
    log_in(client, "ed@example.org")
    send_code(client, code_at(secret, 1))
    assert client.get("/admin/").status_code == 200
    assert runner.invoke(args=["users", "list"]).output.rstrip().endswith("2fa")
    result = runner.invoke(args=["users", "reset-2fa", "ED@example.org"])
    assert result.exit_code == 0, result.output
    assert "Two-factor sign-in is off for ed@example.org" in result.output
    assert client.get("/admin/").status_code == 302
    assert log_in(client, "ed@example.org").location == "/admin/"
    assert in_app(secret_of, "ed@example.org") is None
    assert not runner.invoke(args=["users", "list"]).output.rstrip().endswith("2fa")
    missing = runner.invoke(args=["users", "reset-2fa", "nobody@example.org"])
    assert missing.exit_code == 1 and "No account" in missing.output
