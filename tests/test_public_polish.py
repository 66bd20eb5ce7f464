"""Details a newcomer notices on the public pages: the favicon, error pages in the right
frame and language, the organisation's name, logo and colours."""

import io
import re

import pytest
from factories import make_user
from helpers import csrf_token, log_in


def test_favicon_is_an_image_at_the_address_browsers_ask_for(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype.startswith("image/")
    assert b"<svg" in response.data


def test_pages_name_their_icon(client):
    page = client.get("/en/").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon, "the page names no icon"
    response = client.get(icon.group(1))
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"


def spanish_editor(app, in_app):
    in_app(make_user, "editora@example.org", "editor", language="es", name="Elena")
    client = app.test_client()
    assert log_in(client, "editora@example.org").status_code == 302
    return client


@pytest.mark.parametrize("address", ["/admin/no-such-page", "/admin/lists/999999"])
def test_admin_404_is_in_the_admin_frame_and_the_editors_language(app, in_app, translated, address):
    client = spanish_editor(app, in_app)
    response = client.get(address)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'lang="es"' in page
    assert translated("es", "This page does not exist.") in page
    assert 'class="admin-nav"' in page, "the admin navigation is missing"
    assert translated("es", "Dashboard") in page
    assert translated("es", "Back to the dashboard") in page


def test_public_404_keeps_the_public_frame(client, translated):
    response = client.get("/fr/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert translated("fr", "This page does not exist.") in page
    assert 'class="admin-nav"' not in page


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xa1\xd1"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def save_settings(admin_client, **changes) -> None:
    form = {
        "csrf_token": csrf_token(admin_client, "/admin/settings"),
        "name": "Red Internacional",
        "brand_color": "#aa0033",
        "text_color": "#112233",
        "background_color": "#eeffee",
        "address_en": "1 Main Street",
        "logo": (io.BytesIO(PNG), "logo.png"),
    }
    form.update(changes)
    response = admin_client.post("/admin/settings", data=form, content_type="multipart/form-data")
    assert response.status_code == 302


def test_public_pages_show_the_organisations_name_logo_and_colours(admin_client, client):
    save_settings(admin_client)
    page = client.get("/en/").get_data(as_text=True)
    header = page.split('<header class="site">')[1].split("</header>")[0]
    assert "Red Internacional" in header
    logo = re.search(r'<img class="logo" src="([^"]+)" alt="Red Internacional">', header)
    assert logo, "the header shows no logo"
    assert client.get(logo.group(1)).data == PNG
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert "--accent: #aa0033" in style
    assert "--ink: #112233" in style and "--page: #eeffee" in style


def test_public_pages_without_settings_keep_the_default_frame(client):
    page = client.get("/en/").get_data(as_text=True)
    header = page.split('<header class="site">')[1].split("</header>")[0]
    assert "Stay informed" in header and "<img" not in header
    assert "--accent: #0b6e4f" in page


@pytest.fixture
def mailbox(app, monkeypatch):
    """No relay configured: mail lands in the dev mailbox."""
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    return app


def test_dev_mailbox_follows_the_browsers_language(mailbox, client, translated):
    response = client.get("/dev/mailbox/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in page
    assert translated("de", "Dev mailbox") in page
    assert translated("de", "The mailbox is empty.") in page
