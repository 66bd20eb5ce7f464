"""Details a newcomer notices on the public pages: the favicon, error pages in the right
frame and language, the organisation's name, logo and colours."""

import re


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
