"""Duplicating an issue: a new draft with every text, the audience and the language rules,
from the issues list, the campaign page, the composer and the API."""

import hashlib
import re

import pytest
from factories import make_lists, make_user
from helpers import csrf_token, log_in
from sqlalchemy import inspect
from test_api_v1 import ApiClient, make_token

from newsletter import campaigns, issue_copies
from newsletter.extensions import db
from newsletter.models import Attachment, Fallback, Issue, IssueStatus, IssueVariant

TEXTS = {
    "es": ("Asamblea", "Prévia", "La asamblea se reúne el **viernes**."),
    "fr": ("Assemblée", "", "L’assemblée se réunit vendredi."),
}


@pytest.fixture
def sent_issue(in_app):
    """A sent issue in Spanish (default) and French for two lists, French and Spanish
    readers only, others skipped."""

    def make():
        ids = make_lists()
        issue = campaigns.create_issue(
            "Assembly call",
            "es",
            {ids["newsletter"], ids["members"]},
            Fallback.SKIP,
            ["es", "fr"],
        )
        for language, (subject, preheader, body) in TEXTS.items():
            campaigns.set_variant(issue, language, subject, body, preheader)
        db.session.flush()
        issue.status = IssueStatus.SENT
        db.session.commit()
        return issue.id, {ids["newsletter"], ids["members"]}

    return in_app(make)


def described(issue_id: int) -> dict:
    issue = db.session.get(Issue, issue_id)
    return {
        "name": issue.name,
        "status": issue.status,
        "default_language": issue.default_language,
        "fallback": issue.fallback,
        "lists": issue.list_ids,
        "audience_languages": issue.audience_languages,
        "texts": {v.language: (v.subject, v.preheader, v.body) for v in issue.variants},
        "versions": {
            v.language: [(r.version, r.saved_by.email if r.saved_by else None) for r in v.revisions]
            for v in issue.variants
        },
    }


def test_the_list_duplicates_a_sent_issue_into_a_draft_opened_in_the_composer(
    editor_client, in_app, sent_issue
):
    issue_id, list_ids = sent_issue
    listing = editor_client.get("/admin/issues").get_data(as_text=True)
    assert f'data-testid="duplicate-{issue_id}"' in listing
    token = csrf_token(editor_client, "/admin/issues")

    response = editor_client.post(f"/admin/issues/{issue_id}/duplicate", data={"csrf_token": token})

    assert response.status_code == 302
    copy_id = int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])
    assert copy_id != issue_id
    composer = editor_client.get(response.location).get_data(as_text=True)
    assert "This is a new draft copied from “Assembly call”." in composer
    assert "La asamblea se reúne el **viernes**." in composer
    copy = in_app(described, copy_id)
    assert copy == {
        "name": "Copy of Assembly call",
        "status": IssueStatus.DRAFT,
        "default_language": "es",
        "fallback": Fallback.SKIP,
        "lists": list_ids,
        "audience_languages": ["es", "fr"],
        "texts": {code: text for code, text in TEXTS.items()},
        "versions": {"es": [(1, "editor@example.org")], "fr": [(1, "editor@example.org")]},
    }
    assert in_app(described, issue_id)["status"] == IssueStatus.SENT


def test_the_copy_is_named_in_the_editors_language(app, in_app, sent_issue):
    issue_id, _lists = sent_issue
    in_app(make_user, "rosa@example.org", "editor", language="es")
    client = app.test_client()
    log_in(client, "rosa@example.org")
    token = csrf_token(client, f"/admin/issues/{issue_id}")

    response = client.post(f"/admin/issues/{issue_id}/duplicate", data={"csrf_token": token})

    copy_id = int(re.search(r"/admin/issues/(\d+)/edit", response.location)[1])
    assert in_app(described, copy_id)["name"] == "Copia de Assembly call"


def test_the_campaign_page_and_the_composer_offer_it(editor_client, in_app, sent_issue):
    issue_id, _lists = sent_issue
    campaign = editor_client.get(f"/admin/issues/{issue_id}").get_data(as_text=True)
    assert f'action="/admin/issues/{issue_id}/duplicate"' in campaign

    def draft():
        db.session.get(Issue, issue_id).status = IssueStatus.DRAFT
        db.session.commit()

    in_app(draft)
    composer = editor_client.get(f"/admin/issues/{issue_id}/edit").get_data(as_text=True)
    assert f'action="/admin/issues/{issue_id}/duplicate"' in composer


def test_without_a_token_or_for_an_unknown_issue_nothing_is_created(
    editor_client, in_app, sent_issue
):
    issue_id, _lists = sent_issue
    assert editor_client.post(f"/admin/issues/{issue_id}/duplicate", data={}).status_code == 400
    token = csrf_token(editor_client, "/admin/issues")
    missing = editor_client.post("/admin/issues/999999/duplicate", data={"csrf_token": token})
    assert missing.status_code == 404
    assert in_app(lambda: len(db.session.execute(db.select(Issue)).all())) == 1


def test_the_api_duplicates_and_documents_it(client, in_app, sent_issue):
    issue_id, list_ids = sent_issue
    api = ApiClient(client, in_app(make_token, "write"))

    response = api.post(f"/issues/{issue_id}/duplicate")

    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Copy of Assembly call" and body["status"] == "draft"
    assert body["lists"] == sorted(list_ids)
    assert {v["language"]: v["version"] for v in body["variants"]} == {"es": 1, "fr": 1}
    assert api.post("/issues/999999/duplicate").status_code == 404
    reader = ApiClient(client, in_app(make_token, "read"))
    assert reader.post(f"/issues/{issue_id}/duplicate").status_code == 403
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/api/v1/issues/{issue_id}/duplicate"]


@pytest.mark.parametrize(
    ("model", "copied", "not_copied"),
    [
        (
            Issue,
            issue_copies.COPIED_ISSUE_FIELDS + issue_copies.COPIED_ISSUE_RELATIONSHIPS,
            issue_copies.NOT_COPIED_ISSUE_FIELDS,
        ),
        (
            IssueVariant,
            issue_copies.COPIED_VARIANT_FIELDS + issue_copies.COPIED_VARIANT_RELATIONSHIPS,
            issue_copies.NOT_COPIED_VARIANT_FIELDS,
        ),
    ],
)
def test_every_field_is_either_copied_or_deliberately_not(model, copied, not_copied):
    """A field added later (attachments, a template) fails here until the copy decides."""
    mapper = inspect(model)
    fields = {column.key for column in mapper.column_attrs} | set(mapper.relationships.keys())
    assert set(copied) | set(not_copied) == fields
    assert not set(copied) & set(not_copied)


def test_the_copy_has_the_same_files_with_links_of_its_own(in_app, sent_issue):
    def copy_with_files():
        original = db.session.get(Issue, sent_issue[0])
        variant = original.variants[0]
        pdf = b"%PDF-1.4\n" + b"0" * 100
        variant.attachments.append(
            Attachment(
                filename="programme.pdf",
                content_type="application/pdf",
                size=len(pdf),
                sha256=hashlib.sha256(pdf).hexdigest(),
                data=pdf,
                link_only=True,
            )
        )
        db.session.flush()
        copy = issue_copies.duplicate_issue(original)
        db.session.commit()
        before = variant.attachments[0]
        after = copy.variant(variant.language).attachments[0]
        return (
            (before.filename, before.data, before.link_only),
            (after.filename, after.data, after.link_only),
            before.token != after.token,
        )

    original, copied, new_token = in_app(copy_with_files)
    assert copied == original and new_token
