"""Sessions of the editors' UI live on the server: logout, "log out everywhere", a lock or
a new password end them, whatever copy of the cookie is still around."""

from datetime import timedelta

from factories import make_user
from helpers import csrf_token, log_in

from newsletter.extensions import db
from newsletter.models import User, UserSession

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Mobile Safari/537.36"
)


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def client_with_cookie(app, value: str):
    """A second browser that holds a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value, domain="localhost")
    return thief


def open_count(user_email: str) -> int:
    return db.session.execute(
        db.select(db.func.count())
        .select_from(UserSession)
        .join(User)
        .where(User.email == user_email, UserSession.revoked_at.is_(None))
    ).scalar_one()


def log_out(client):
    return client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def test_a_cookie_copied_before_logout_stops_working(app, client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")
    copied = session_cookie(client)
    assert client_with_cookie(app, copied).get("/admin/").status_code == 200
    assert log_out(client).status_code == 302
    assert client_with_cookie(app, copied).get("/admin/").status_code == 302
    assert in_app(open_count, "ed@example.org") == 0


def test_account_page_lists_open_sessions_with_browser_and_ip(app, in_app):
    in_app(make_user, "ed@example.org")
    laptop = app.test_client()
    phone = app.test_client()
    laptop.environ_base.update(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.7")
    phone.environ_base.update(HTTP_USER_AGENT=CHROME_ANDROID, REMOTE_ADDR="198.51.100.9")
    log_in(laptop, "ed@example.org")
    log_in(phone, "ed@example.org")
    page = laptop.get("/admin/account").get_data(as_text=True)
    assert "Firefox 120 on Linux" in page and "203.0.113.7" in page
    assert "Chrome 121 on Android" in page and "198.51.100.9" in page
    assert page.count("This browser") == 1
    assert 'href="/admin/account"' in laptop.get("/admin/").get_data(as_text=True)


def test_log_out_everywhere_else_keeps_this_browser(app, in_app):
    in_app(make_user, "ed@example.org")
    here, there = app.test_client(), app.test_client()
    log_in(here, "ed@example.org")
    log_in(there, "ed@example.org")
    token = csrf_token(here, "/admin/account")
    answer = here.post(
        "/admin/account/sessions/end-others", data={"csrf_token": token}, follow_redirects=True
    )
    assert "You are logged out everywhere else." in answer.get_data(as_text=True)
    assert here.get("/admin/").status_code == 200
    assert there.get("/admin/").status_code == 302


def test_log_out_everywhere_ends_this_browser_too(app, in_app):
    in_app(make_user, "ed@example.org")
    here, there = app.test_client(), app.test_client()
    log_in(here, "ed@example.org")
    log_in(there, "ed@example.org")
    copied = session_cookie(here)
    token = csrf_token(here, "/admin/account")
    answer = here.post("/admin/account/sessions/end-all", data={"csrf_token": token})
    assert answer.status_code == 302 and answer.location == "/admin/login"
    for client in (here, there, client_with_cookie(app, copied)):
        assert client.get("/admin/").status_code == 302
    assert in_app(open_count, "ed@example.org") == 0


def test_session_actions_need_the_csrf_token(app, client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")
    assert client.post("/admin/account/sessions/end-all").status_code == 400
    assert client.get("/admin/").status_code == 200


def test_locking_or_a_new_password_from_the_users_page_revokes_every_session(
    admin_client, app, in_app
):
    user_id = in_app(make_user, "ed@example.org")
    editor = app.test_client()
    log_in(editor, "ed@example.org")
    form = {"name": "Ed", "role": "editor", "language": "en", "active": "y"}

    def save(**changes):
        token = csrf_token(admin_client, f"/admin/users/{user_id}")
        data = {**form, **changes, "csrf_token": token}
        return admin_client.post(f"/admin/users/{user_id}", data=data)

    assert save(name="Edward").status_code == 302
    assert editor.get("/admin/").status_code == 200, "a new name ends nothing"
    assert save(password="a brand new password").status_code == 302
    assert in_app(open_count, "ed@example.org") == 0
    assert editor.get("/admin/").status_code == 302
    log_in(editor, "ed@example.org", "a brand new password")
    assert in_app(open_count, "ed@example.org") == 1
    locked = {key: value for key, value in form.items() if key != "active"}
    token = csrf_token(admin_client, f"/admin/users/{user_id}")
    admin_client.post(f"/admin/users/{user_id}", data={**locked, "csrf_token": token})
    assert in_app(open_count, "ed@example.org") == 0
    assert editor.get("/admin/").status_code == 302


def test_a_session_ends_on_the_server_after_its_lifetime(app, client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")

    def age(hours: float):
        for row in db.session.execute(db.select(UserSession)).scalars():
            row.created_at -= timedelta(hours=hours)
        db.session.commit()

    in_app(age, 11.9)
    assert client.get("/admin/").status_code == 200
    in_app(age, 0.2)
    assert client.get("/admin/").status_code == 302, "12 hours after login, whatever the cookie"


def test_last_seen_is_written_at_most_once_a_minute(client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")

    def last_seen():
        return db.session.execute(db.select(UserSession.last_seen_at)).scalar_one()

    def rewind(minutes: float):
        row = db.session.execute(db.select(UserSession)).scalar_one()
        row.last_seen_at -= timedelta(minutes=minutes)
        db.session.commit()
        return row.last_seen_at

    seen = in_app(rewind, 0.5)
    client.get("/admin/")
    assert in_app(last_seen) == seen, "within the minute: no write"
    seen = in_app(rewind, 2)
    client.get("/admin/")
    assert in_app(last_seen) > seen


def test_a_forged_or_oversized_session_key_is_just_logged_out(app, client, in_app):
    in_app(make_user, "ed@example.org")
    log_in(client, "ed@example.org")
    with client.session_transaction() as session:
        session["_user_id"] = "x" * 5000
    assert client.get("/admin/").status_code == 302
    with client.session_transaction() as session:
        session["_user_id"] = "1"
    assert client.get("/admin/").status_code == 302
