"""Editors schedule and read times in their own zone (else the organisation's); UTC is kept."""

from html import unescape

from campaign_helpers import make_issue
from factories import make_lists, make_user
from helpers import csrf_token, log_in

from newsletter.extensions import db
from newsletter.models import Issue, Organisation, User


def issue_scheduled_at(issue_id: int):
    return db.session.get(Issue, issue_id).scheduled_at


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_an_editor_schedules_in_their_own_zone_and_utc_is_stored(app, in_app):
    in_app(make_user, "berlin@example.org")
    client = app.test_client()
    assert log_in(client, "berlin@example.org").status_code == 302
    token = csrf_token(client, "/admin/account")
    saved = client.post(
        "/admin/account/time-zone",
        data={"csrf_token": token, "time_zone": "Europe/Berlin"},
        follow_redirects=True,
    )
    assert "Times are now shown in Europe/Berlin." in text(saved)
    issue_id = in_app(make_issue, [in_app(make_lists)["newsletter"]])

    review = text(client.get(f"/admin/issues/{issue_id}/send"))
    assert "Type the time in Europe/Berlin. It is now" in review
    summer = client.post(
        f"/admin/issues/{issue_id}/schedule",
        data={"csrf_token": token, "scheduled_at": "2030-07-01T10:30"},
        follow_redirects=True,
    )
    assert "The issue is scheduled for Jul 1, 2030 10:30 Europe/Berlin." in text(summer)
    assert in_app(issue_scheduled_at, issue_id).isoformat() == "2030-07-01T08:30:00"
    review = text(client.get(f"/admin/issues/{issue_id}/send"))
    assert 'value="2030-07-01T10:30"' in review, "the form shows the time as it was typed"

    client.post(
        f"/admin/issues/{issue_id}/schedule",
        data={"csrf_token": token, "scheduled_at": "2030-12-01T10:30"},
    )
    assert in_app(issue_scheduled_at, issue_id).isoformat() == "2030-12-01T09:30:00", "winter"


def test_without_a_zone_of_their_own_editors_use_the_organisations(admin_client, app, in_app):
    token = csrf_token(admin_client, "/admin/settings")
    form = {
        "csrf_token": token,
        "name": "Red",
        "brand_color": "#0b6e4f",
        "text_color": "#1f2933",
        "background_color": "#f4f5f7",
        "time_zone": "America/New_York",
    }
    assert admin_client.post("/admin/settings", data=form).status_code == 302
    in_app(make_user, "editor2@example.org")
    client = app.test_client()
    assert log_in(client, "editor2@example.org").status_code == 302
    account = text(client.get("/admin/account"))
    assert "The organisation's (America/New_York)" in account
    issue_id = in_app(make_issue, [in_app(make_lists)["newsletter"]])
    client.post(
        f"/admin/issues/{issue_id}/schedule",
        data={
            "csrf_token": csrf_token(client, "/admin/account"),
            "scheduled_at": "2099-12-01T09:30",
        },
    )
    assert in_app(issue_scheduled_at, issue_id).isoformat() == "2099-12-01T14:30:00"


def test_an_unknown_zone_is_refused_and_changes_nothing(admin_client, in_app):
    token = csrf_token(admin_client, "/admin/account")
    response = admin_client.post(
        "/admin/account/time-zone", data={"csrf_token": token, "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 400
    assert in_app(lambda: db.session.execute(db.select(User.time_zone)).scalars().all()) == [None]
    settings = admin_client.post(
        "/admin/settings",
        data={
            "csrf_token": csrf_token(admin_client, "/admin/settings"),
            "name": "Red",
            "brand_color": "#0b6e4f",
            "text_color": "#1f2933",
            "background_color": "#f4f5f7",
            "time_zone": "Europe/Atlantis",
        },
    )
    assert settings.status_code == 422
    assert "Not a valid choice" in text(settings)
    assert in_app(lambda: db.session.get(Organisation, 1)) is None
