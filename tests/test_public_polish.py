"""Details a newcomer notices on the public pages: the favicon, error pages in the right
frame and language, the organisation's name, logo and colours."""

import re

import pytest
from factories import make_user
from helpers import log_in


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
