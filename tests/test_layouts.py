"""Layouts: editors keep a few looks (colours, a header and a footer block per language),
each issue picks one, and its mail, previews and test sends show it."""

import re

import pytest
from factories import make_lists
from helpers import csrf_token
from test_admin_issues import create_issue, form_data
from test_api_v1 import ApiClient, make_token

from newsletter import campaigns, layouts
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, Layout

LANGUAGES = ("en", "es", "fr", "de")


@pytest.fixture
def lists(in_app):
    return in_app(make_lists)


def layout_data(token: str, name="Invitation", **extra) -> dict:
    data = {"csrf_token": token, "name": name, "brand_color": "", "background_color": ""}
    for code in LANGUAGES:
        data[f"header_{code}"] = ""
        data[f"footer_{code}"] = ""
    data.update(extra)
    return data


def save_layout(client, **fields) -> int:
    token = csrf_token(client, "/admin/layouts/new")
    response = client.post("/admin/layouts/new", data=layout_data(token, **fields))
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/admin/layouts/(\d+)$", response.location)[1])


def layout_rows() -> list[tuple]:
    return [
        (item.name, item.is_default, item.brand_color, item.header, item.footer)
        for item in layouts.all_layouts()
    ]


def sent_parts(smtp):
    [received] = smtp.wait_for(1)
    message = received.message
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    return html, text


def test_the_migrated_default_layout_is_the_plain_mail_and_new_issues_get_it(
    editor_client, in_app, lists, smtp
):
    assert in_app(layout_rows) == [("Newsletter", True, None, {}, {})]
    issue_id = create_issue(editor_client, [lists["newsletter"]])
    default_id = in_app(lambda: layouts.default_layout().id)
    assert in_app(lambda: db.session.get(Issue, issue_id).layout_id) == default_id

    form = {"csrf_token": csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")}
    form.update(test_address="me@example.org", test_language="en")
    editor_client.post(f"/admin/issues/{issue_id}/test", data=form)
    html, _text = sent_parts(smtp)
    assert "layout-header" not in html and "layout-footer" not in html
    assert "#0b6e4f" in html  # the organisation's colour, as before layouts


def test_an_issue_in_the_invitation_layout_shows_its_blocks_in_each_language(
    editor_client, in_app, lists, smtp
):
    layout_id = save_layout(
        editor_client,
        brand_color="#7A1F5C",
        header_en="**Invitation** to the seminar",
        header_es="**Invitación** al seminario",
        footer_en="About the network: [our site](https://example.org/about)",
        footer_es="Sobre la red: [nuestra web](https://example.org/es/about)",
    )
    page = editor_client.get(f"/admin/layouts/{layout_id}").get_data(as_text=True)
    for code in LANGUAGES:
        assert f'data-testid="layout-preview-{code}"' in page
    assert "Invitación" in page and "Invitation" in page

    token = csrf_token(editor_client, "/admin/issues/new")
    composer = editor_client.get("/admin/issues/new").get_data(as_text=True)
    assert f'<option value="{layout_id}">Invitation</option>' in composer
    data = form_data(
        token,
        [lists["newsletter"]],
        variants={"en": ("Seminar", "Please register."), "es": ("Seminario", "Inscríbete.")},
        layout=str(layout_id),
    )
    response = editor_client.post("/admin/issues/new", data=data)
    issue_id = int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])
    assert in_app(lambda: db.session.get(Issue, issue_id).layout_id) == layout_id

    form = {"csrf_token": token, "test_address": "me@example.org", "test_language": "es"}
    editor_client.post(f"/admin/issues/{issue_id}/test", data=form)
    html, text = sent_parts(smtp)
    assert "<strong>Invitación</strong> al seminario" in html and "Invitation" not in html
    assert 'href="https://example.org/es/about"' in html
    assert "#7a1f5c" in html.lower()
    assert text.replace("\r\n", "\n").startswith(
        "**Invitación** al seminario\n\nInscríbete.\n\nSobre la red:"
    )

    # The live preview renders the layout chosen in the form, saved or not.
    preview = editor_client.post(
        "/admin/issues/preview",
        data={
            "csrf_token": token,
            "language": "en",
            "subject": "Seminar",
            "body": "Text",
            "layout": str(layout_id),
        },
    ).get_json()
    assert "<strong>Invitation</strong> to the seminar" in preview["html"]


def test_a_layout_change_reaches_the_next_render(editor_client, in_app, lists, smtp):
    """Workers cache a rendered variant; saving the layout must not leave it stale."""
    layout_id = save_layout(editor_client, name="Statement", header_en="Statement")
    issue_id = create_issue(editor_client, [lists["newsletter"]], layout=str(layout_id))
    form = {"csrf_token": csrf_token(editor_client, "/admin/layouts")}
    form.update(test_address="me@example.org", test_language="en")
    editor_client.post(f"/admin/issues/{issue_id}/test", data=form)
    assert ">Statement<" in sent_parts(smtp)[0]

    token = csrf_token(editor_client, f"/admin/layouts/{layout_id}")
    data = layout_data(token, name="Statement", header_en="Press statement")
    assert editor_client.post(f"/admin/layouts/{layout_id}", data=data).status_code == 302
    smtp.reset()
    editor_client.post(f"/admin/issues/{issue_id}/test", data=form)
    assert ">Press statement<" in sent_parts(smtp)[0]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"brand_color": "red"}, "Use a colour like #0b6e4f."),
        ({"brand_color": "#0b6e4f\n"}, "Use a colour like #0b6e4f."),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters."),
        ({"name": "newsletter"}, "Another layout already has this name."),
        ({"header_es": "x" * 2001}, "Field cannot be longer than 2000 characters."),
    ],
)
def test_bad_layouts_are_refused_and_change_nothing(editor_client, in_app, fields, message):
    before = in_app(layout_rows)
    token = csrf_token(editor_client, "/admin/layouts/new")
    response = editor_client.post("/admin/layouts/new", data=layout_data(token, **fields))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert in_app(layout_rows) == before


def test_errors_come_in_the_editors_language(editor_client, in_app, translated):
    token = csrf_token(editor_client, "/admin/layouts/new")
    data = layout_data(token, name="Newsletter")
    response = editor_client.post("/admin/layouts/new?lang=fr", data=data)
    html = response.get_data(as_text=True)
    assert translated("fr", "Another layout already has this name.") in html
    assert "Another layout already has this name." not in html


def test_markup_in_blocks_is_sanitised(editor_client, in_app, lists, smtp):
    layout_id = save_layout(
        editor_client,
        header_en='<script>alert(1)</script><img src=x onerror="alert(2)"> Hello',
        footer_en="[click](javascript:alert(3))",
    )
    issue_id = create_issue(editor_client, [lists["newsletter"]], layout=str(layout_id))
    form = {"csrf_token": csrf_token(editor_client, "/admin/layouts")}
    form.update(test_address="me@example.org", test_language="en")
    editor_client.post(f"/admin/issues/{issue_id}/test", data=form)
    html = sent_parts(smtp)[0]
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "Hello" in html


def test_the_default_and_layouts_in_use_cannot_be_deleted(editor_client, in_app, lists):
    default_id = in_app(lambda: layouts.default_layout().id)
    used_id = save_layout(editor_client, name="Used")
    free_id = save_layout(editor_client, name="Free")
    create_issue(editor_client, [lists["newsletter"]], layout=str(used_id))
    token = csrf_token(editor_client, "/admin/layouts")
    for layout_id in (default_id, used_id):
        response = editor_client.post(
            f"/admin/layouts/{layout_id}/delete", data={"csrf_token": token}
        )
        assert response.status_code == 302
    assert {row[0] for row in in_app(layout_rows)} == {"Newsletter", "Used", "Free"}
    editor_client.post(f"/admin/layouts/{free_id}/delete", data={"csrf_token": token})
    assert {row[0] for row in in_app(layout_rows)} == {"Newsletter", "Used"}


def test_making_another_layout_the_default_leaves_existing_issues_as_they_were(
    editor_client, in_app, lists
):
    old_default = in_app(lambda: layouts.default_layout().id)
    first = create_issue(editor_client, [lists["newsletter"]])
    new_default = save_layout(editor_client, name="Campaign", make_default="y")
    assert in_app(lambda: layouts.default_layout().id) == new_default
    assert [row[:2] for row in in_app(layout_rows)] == [("Campaign", True), ("Newsletter", False)]
    assert in_app(lambda: db.session.get(Issue, first).layout_id) == old_default
    second = create_issue(editor_client, [lists["newsletter"]])
    assert in_app(lambda: db.session.get(Issue, second).layout_id) == new_default


def test_the_composer_refuses_a_layout_that_does_not_exist(editor_client, in_app, lists):
    token = csrf_token(editor_client, "/admin/issues/new")
    data = form_data(token, [lists["newsletter"]], variants={"en": ("S", "B")}, layout="999999")
    response = editor_client.post("/admin/issues/new", data=data)
    assert response.status_code == 400
    assert "Choose one of the layouts." in response.get_data(as_text=True)
    assert in_app(lambda: db.session.scalar(db.select(db.func.count(Issue.id)))) == 0


def test_the_api_lists_layouts_and_sets_an_issues_layout(client, in_app, lists):
    api = ApiClient(client, in_app(make_token, "write"))
    listed = api.get("/layouts").get_json()["items"]
    assert [(item["name"], item["is_default"]) for item in listed] == [("Newsletter", True)]
    default_id = listed[0]["id"]

    created = api.post("/issues", json={"name": "Weekly", "lists": [lists["newsletter"]]})
    assert created.status_code == 201 and created.get_json()["layout_id"] == default_id
    issue_id = created.get_json()["id"]

    def add_layout():
        item = Layout(name="Statement", header={"en": "Statement"}, footer={})
        db.session.add(item)
        db.session.commit()
        return item.id

    other = in_app(add_layout)
    answer = api.patch(f"/issues/{issue_id}", json={"layout_id": other})
    assert answer.status_code == 200 and answer.get_json()["layout_id"] == other

    refused = api.patch(f"/issues/{issue_id}", json={"layout_id": 2147483647})
    assert refused.status_code == 422
    assert refused.get_json()["fields"] == {"layout_id": ["There is no such layout."]}
    assert in_app(lambda: db.session.get(Issue, issue_id).layout_id) == other


def test_the_layout_of_an_issue_that_is_sending_stays(in_app, lists):
    def attempt():
        layout = Layout(name="Late", header={}, footer={})
        db.session.add(layout)
        issue = campaigns.create_issue("Weekly", "en", {lists["newsletter"]})
        db.session.flush()
        issue.status = IssueStatus.SENDING
        with pytest.raises(campaigns.CampaignError) as refused:
            campaigns.set_layout(issue, layout.id)
        return refused.value.code, issue.layout_id == layout.id

    assert in_app(attempt) == ("issue_not_editable", False)


def test_the_checks_before_send_judge_the_layouts_colours(editor_client, in_app):
    layout_id = save_layout(editor_client, name="Pale", brand_color="#ffee88")
    token = csrf_token(editor_client, "/admin/issues/new")
    fields = {"csrf_token": token, "language": "en", "subject": "S", "body": "Text"}

    def codes(layout: str) -> set[str]:
        preview = editor_client.post("/admin/issues/preview", data={**fields, "layout": layout})
        return {finding["code"] for finding in preview.get_json()["checks"]}

    default_id = in_app(lambda: layouts.default_layout().id)
    assert "low_contrast" not in codes(str(default_id))
    assert "low_contrast" in codes(str(layout_id))


def test_a_duplicate_keeps_the_layout(editor_client, in_app, lists):
    layout_id = save_layout(editor_client, name="Invitation")
    issue_id = create_issue(editor_client, [lists["newsletter"]], layout=str(layout_id))
    token = csrf_token(editor_client, "/admin/issues")
    response = editor_client.post(f"/admin/issues/{issue_id}/duplicate", data={"csrf_token": token})
    copy_id = int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])
    assert copy_id != issue_id
    assert in_app(lambda: db.session.get(Issue, copy_id).layout_id) == layout_id
