"""Form errors as readers and screen readers meet them: beside the field, in the page's
language, and named by the field's ``aria-describedby`` while it is ``aria-invalid``."""

import lxml.html
from factories import make_lists, make_subscriber, make_user
from helpers import csrf_token, log_in
from test_subscribe import subscribe

from newsletter.extensions import db
from newsletter.models import Subscriber


def described(page: str, control_id: str) -> tuple:
    """The control, and the elements its aria-describedby names, in that order."""
    tree = lxml.html.fromstring(page)
    control = tree.get_element_by_id(control_id)
    ids = (control.get("aria-describedby") or "").split()
    return control, [tree.get_element_by_id(name) for name in ids]


def error_beside(page: str, control_id: str) -> str:
    """The text of the one error of the control, checked to be marked up as one."""
    control, described_by = described(page, control_id)
    assert control.get("aria-invalid") == "true"
    errors = [element for element in described_by if "field-error" in element.classes]
    assert len(errors) == 1, f"one error named by #{control_id}"
    error = errors[0]
    assert error.getparent() is control.getparent(), "the error stands beside its field"
    following = list(control.itersiblings())
    assert error in following, "the error comes after its field"
    return error.text_content().strip()


def test_spanish_subscribe_form_names_the_wrong_address_beside_it(client, in_app, translated):
    lists = in_app(make_lists)
    page = subscribe(client, "es", "not an address", [lists["newsletter"]]).get_data(as_text=True)
    assert error_beside(page, "email") == translated("es", "Please enter a valid email address.")
    name, described_by = described(page, "name")
    assert name.get("aria-invalid") is None and described_by == [], "a good field is unmarked"


def test_spanish_topics_without_a_choice_are_marked_as_a_group(client, in_app, translated):
    in_app(make_lists)
    page = subscribe(client, "es", "ana@example.org", []).get_data(as_text=True)
    tree = lxml.html.fromstring(page)
    (group,) = tree.xpath("//fieldset[.//input[@name='lists']]")
    (error,) = [tree.get_element_by_id(name) for name in group.get("aria-describedby").split()]
    assert error.text_content() == translated("es", "Please choose at least one topic.")
    assert error.getparent() is group
    boxes = group.xpath(".//input[@name='lists']")
    assert boxes and all(box.get("aria-invalid") == "true" for box in boxes)


def test_german_list_form_names_hint_and_error_of_the_slug(app, in_app, translated):
    in_app(make_user, "de@example.org", "admin", language="de")
    client = app.test_client()
    assert log_in(client, "de@example.org").status_code == 302
    page = client.post(
        "/admin/lists/new",
        data={
            "csrf_token": csrf_token(client, "/admin/lists/new"),
            "slug": "Not A Slug",
            "name_en": "",
        },
    ).get_data(as_text=True)
    assert error_beside(page, "slug") == translated(
        "de", "Use lower-case letters, digits and hyphens only."
    )
    _control, (hint, _error) = described(page, "slug")
    assert hint.text_content() == translated(
        "de", "Lower-case letters, digits and hyphens, e.g. “weekly-news”."
    )
    # WTForms' own message, in its own German catalogue.
    assert error_beside(page, "name_en") == "Dieses Feld wird benötigt."


def test_french_schedule_time_in_the_past_is_named_beside_the_field(
    admin_client, in_app, translated
):
    from campaign_helpers import make_issue

    lists = in_app(make_lists)
    issue_id = in_app(make_issue, [lists["newsletter"]])
    url = f"/admin/issues/{issue_id}/send"
    admin_client.post(
        "/admin/language",
        data={"csrf_token": csrf_token(admin_client, "/admin/"), "language": "fr", "next": url},
    )
    page = admin_client.post(
        f"/admin/issues/{issue_id}/schedule",
        data={"csrf_token": csrf_token(admin_client, url), "scheduled_at": "2001-01-01T00:00"},
    ).get_data(as_text=True)
    assert error_beside(page, "scheduled_at") == translated(
        "fr", "Please choose a time in the future."
    )


def test_a_refused_language_is_explained_beside_the_language_field(admin_client, in_app):
    """The language select of the subscriber page used to fail without saying why."""
    in_app(make_subscriber, "ana@example.org")
    subscriber_id = in_app(lambda: db.session.execute(db.select(Subscriber.id)).scalar_one())
    url = f"/admin/subscribers/{subscriber_id}"
    response = admin_client.post(
        url, data={"csrf_token": csrf_token(admin_client, url), "name": "Ana", "language": "xx"}
    )
    assert response.status_code != 302, "nothing is saved"
    assert error_beside(response.get_data(as_text=True), "language")
    assert in_app(lambda: db.session.get(Subscriber, subscriber_id).language) == "en"
