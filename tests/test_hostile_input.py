"""Hostile bytes: deep nesting, control characters, dates off the calendar, values with a
trailing newline and long non-ASCII headers get a clear 4xx (or a clean CLI error), never
a 500, and change nothing.
"""

import io

from conftest import csrf_token
from factories import make_lists, row_counts
from test_admin import settings_form
from test_api_v1 import ApiClient, error_of, make_token

from newsletter.extensions import db
from newsletter.models import MailingList, Organisation

# Item: every regex check matches the whole value ("$" matches before a trailing newline).


def test_colour_with_a_trailing_newline_is_refused(admin_client, in_app, translated):
    token = csrf_token(admin_client, "/admin/settings")
    response = admin_client.post(
        "/admin/settings",
        data=settings_form(token, brand_color="#0b6e4f\n", logo=(io.BytesIO(b""), "")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert translated("en", "Use a colour like #0b6e4f.") in response.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Organisation, 1)) is None


def test_list_slug_with_a_trailing_newline_is_refused_by_the_api(client, in_app, translated):
    api = ApiClient(client, in_app(make_token, "write"))
    before = in_app(row_counts)
    response = api.post(
        "/lists",
        json={"slug": "news\n", "names": {"en": "News"}},
        headers={"Accept-Language": "de"},
    )
    body = error_of(response, 422, "validation_failed")
    assert body["fields"]["slug"] == [
        translated("de", "Use lower-case letters, digits and hyphens only.")
    ]
    assert in_app(row_counts) == before
    assert in_app(lambda: db.session.execute(db.select(MailingList)).first()) is None
