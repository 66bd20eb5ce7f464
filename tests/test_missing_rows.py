"""An address that names a row which does not exist: the editors' UI answers with its 404
page in the editor's language, the API with its JSON ``not_found``."""

import pytest
from factories import make_user
from helpers import csrf_token, log_in
from test_api_v1 import ApiClient, error_of, make_token


@pytest.mark.parametrize("path", ["/admin/lists/999999", "/admin/users/999999"])
def test_editor_pages_of_missing_rows_are_404_in_the_editors_language(
    app, in_app, translated, path
):
    in_app(make_user, "fr@example.org", "admin", language="fr")
    client = app.test_client()
    assert log_in(client, "fr@example.org").status_code == 302
    page = client.get(path)
    assert page.status_code == 404
    assert translated("fr", "Sorry") in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/lists/999999/delete", "/admin/tokens/999999/revoke"])
def test_actions_on_missing_rows_are_404(admin_client, path):
    token = csrf_token(admin_client, "/admin/lists")
    assert admin_client.post(path, data={"csrf_token": token}).status_code == 404


def test_api_lists_that_do_not_exist_are_not_found(client, in_app):
    api = ApiClient(client, in_app(make_token, "write"))
    error_of(api.call("GET", "/lists/999999"), 404, "not_found")
    error_of(api.call("PATCH", "/lists/999999", json={"public": False}), 404, "not_found")
