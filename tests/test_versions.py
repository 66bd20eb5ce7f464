"""Versions of a variant: every saved change is numbered and kept; a save from an older
version is refused with a word diff and a choice; autosave; the versions page; the API."""

import re
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from factories import make_lists, make_user
from flask_migrate import downgrade, upgrade
from helpers import csrf_token, log_in
from sqlalchemy import text
from test_admin_issues import create_issue, form_data
from test_api_v1 import ApiClient, make_token

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, User, VariantRevision, utcnow
from newsletter.word_diff import word_diff

TEXTS = {
    "en": ("Assembly", "The assembly meets on Friday in the small hall."),
    "es": ("Asamblea", "La asamblea se reúne el viernes en la sala pequeña."),
    "fr": ("Assemblée", "L’assemblée se réunit vendredi dans la petite salle."),
}


@pytest.fixture
def lists(in_app):
    return in_app(make_lists)


@pytest.fixture
def second_client(app, in_app):
    """A second editor, logged in on their own client (Ada, an admin)."""
    in_app(make_user, "ada@example.org", "admin", name="Ada Admin")
    client = app.test_client()
    assert log_in(client, "ada@example.org").status_code == 302
    return client


def variant_state(issue_id: int) -> dict:
    issue = db.session.get(Issue, issue_id)
    return {
        v.language: {
            "version": v.version,
            "body": v.body,
            "revisions": [
                (r.version, r.body, r.saved_by.email if r.saved_by else None)
                for r in sorted(v.revisions, key=lambda r: r.version)
            ],
        }
        for v in issue.variants
    }


def loaded_form(client, issue_id: int, lists) -> dict:
    """What the composer posts when saved as it was loaded (hidden versions included)."""
    html = client.get(f"/admin/issues/{issue_id}/edit").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)[1]
    data = form_data(token, lists.values(), variants=TEXTS)
    for code, version in re.findall(r'name="variant_(\w+)-version"[^>]*value="(\d+)"', html):
        data[f"variant_{code}-version"] = version
    return data


def edit(client, issue_id: int, data: dict, **changes):
    return client.post(f"/admin/issues/{issue_id}/edit", data={**data, **changes})


def test_each_saved_change_of_a_text_is_a_version_with_who_saved_it(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    data = loaded_form(editor_client, issue_id, lists)
    assert data["variant_es-version"] == "1" and data["variant_de-version"] == "0"

    assert edit(editor_client, issue_id, data).status_code == 302  # nothing changed
    changed = {**data, "variant_es-body": "La asamblea se reúne el sábado."}
    assert edit(editor_client, issue_id, changed).status_code == 302

    state = in_app(variant_state, issue_id)
    assert state["en"]["version"] == 1
    assert state["es"]["version"] == 2
    assert state["es"]["revisions"] == [
        (1, TEXTS["es"][1], "editor@example.org"),
        (2, "La asamblea se reúne el sábado.", "editor@example.org"),
    ]
    assert "de" not in state


def test_a_stale_save_is_refused_whole_with_a_word_diff_and_the_choice(
    editor_client, second_client, in_app, lists
):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    mine = loaded_form(editor_client, issue_id, lists)
    theirs = loaded_form(second_client, issue_id, lists)
    their_body = "La asamblea se reúne el sábado en la sala pequeña."
    assert (
        edit(second_client, issue_id, theirs, **{"variant_es-body": their_body}).status_code == 302
    )

    my_body = "La asamblea se reúne el viernes en la sala <b>grande</b>."
    response = edit(editor_client, issue_id, mine, name="Renamed", **{"variant_es-body": my_body})

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    conflict = re.search(r'<section[^>]*data-testid="conflict-es".*?</section>', html, re.S)[0]
    assert "Ada Admin" in conflict
    assert "Nothing was saved." in conflict
    diff = re.search(r'data-testid="diff-es">(.*?)</div>', conflict, re.S)[1]
    assert "<del>sábado</del><ins>viernes</ins>" in diff
    assert "<del>pequeña</del><ins>&lt;b&gt;grande&lt;/b&gt;</ins>" in diff, "escaped"
    assert 'name="keep_own" value="es:2"' in conflict
    assert 'name="take_saved" value="es"' in conflict
    assert "data-autosave-url" not in html, "no autosave while the conflict is open"

    def saved():
        issue = db.session.get(Issue, issue_id)
        return issue.name, issue.variant("es").body, issue.variant("es").version

    assert in_app(saved) == ("Weekly", their_body, 2), "nothing of the refused save is written"

    # "Keep my text": the same form again, with the version just seen as its base.
    kept = edit(
        editor_client,
        issue_id,
        mine,
        name="Renamed",
        keep_own="es:2",
        **{"variant_es-body": my_body},
    )
    assert kept.status_code == 302
    assert in_app(saved) == ("Renamed", my_body, 3)


def test_take_their_text_fills_the_form_and_saves_nothing(
    editor_client, second_client, in_app, lists
):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    mine = loaded_form(editor_client, issue_id, lists)
    theirs = loaded_form(second_client, issue_id, lists)
    edit(second_client, issue_id, theirs, **{"variant_es-body": "Texto de Ada."})
    my_edits = {"variant_es-body": "Mi texto.", "variant_fr-body": "Mon texte à moi."}
    assert edit(editor_client, issue_id, mine, **my_edits).status_code == 409

    response = edit(editor_client, issue_id, mine, take_saved="es", **my_edits)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The saved text is in the form now. Nothing is saved yet." in html
    es_body = re.search(r'name="variant_es-body"[^>]*>(.*?)</textarea>', html, re.S)[1]
    assert unescape(es_body).strip() == "Texto de Ada."
    assert re.search(r'name="variant_es-version"[^>]*value="2"', html)
    fr_body = re.search(r'name="variant_fr-body"[^>]*>(.*?)</textarea>', html, re.S)[1]
    assert unescape(fr_body).strip() == "Mon texte à moi.", "other languages keep the typing"
    assert 'data-testid="conflict-es"' not in html
    state = in_app(variant_state, issue_id)
    assert (state["es"]["body"], state["fr"]["body"]) == ("Texto de Ada.", TEXTS["fr"][1])


def test_a_language_only_the_other_editor_changed_keeps_their_text(
    editor_client, second_client, in_app, lists
):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    mine = loaded_form(editor_client, issue_id, lists)
    theirs = loaded_form(second_client, issue_id, lists)
    edit(second_client, issue_id, theirs, **{"variant_fr-body": "Traduction revue par Ada."})

    response = edit(editor_client, issue_id, mine, **{"variant_es-body": "Texto nuevo."})

    assert response.status_code == 302
    page = editor_client.get(response.location).get_data(as_text=True)
    assert "Someone else saved Français in the meantime" in page
    state = in_app(variant_state, issue_id)
    assert state["fr"]["body"] == "Traduction revue par Ada."
    assert state["es"]["body"] == "Texto nuevo."


def test_the_refusal_is_in_the_editors_language(app, in_app, lists, second_client, translated):
    in_app(make_user, "rosa@example.org", "editor", language="es", name="Rosa")
    client = app.test_client()
    log_in(client, "rosa@example.org")
    issue_id = create_issue(client, lists.values(), variants=TEXTS)
    mine = loaded_form(client, issue_id, lists)
    theirs = loaded_form(second_client, issue_id, lists)
    edit(second_client, issue_id, theirs, **{"variant_en-body": "Ada's text."})

    response = edit(client, issue_id, mine, **{"variant_en-body": "Rosa's text."})

    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    for phrase in ("Keep my text", "Take their text"):
        assert translated("es", phrase) in html
        assert phrase not in html


def autosave(client, issue_id, data):
    url = f"/admin/issues/{issue_id}/autosave" if issue_id else "/admin/issues/autosave"
    return client.post(url, data=data, headers={"Accept": "application/json"})


def test_autosave_answers_the_new_versions_and_the_time_in_the_editors_zone(
    editor_client, in_app, lists
):
    def madrid_editor():
        db.session.execute(db.update(User).values(time_zone="Europe/Madrid"))
        db.session.commit()

    in_app(madrid_editor)
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    data = loaded_form(editor_client, issue_id, lists)
    before = datetime.now(ZoneInfo("Europe/Madrid")).strftime("%H:%M")

    response = autosave(editor_client, issue_id, {**data, "variant_en-body": "Typed text."})

    after = datetime.now(ZoneInfo("Europe/Madrid")).strftime("%H:%M")
    assert response.status_code == 200
    result = response.get_json()
    assert result["saved_at"] in (f"Saved at {before}", f"Saved at {after}")
    assert result["versions"] == {"en": 2, "es": 1, "fr": 1, "de": 0}
    assert result["edit_url"] == f"/admin/issues/{issue_id}/edit"
    assert in_app(variant_state, issue_id)["en"]["body"] == "Typed text."


def test_the_first_autosave_of_a_new_issue_creates_the_draft(editor_client, in_app, lists):
    token = csrf_token(editor_client, "/admin/issues/new")
    data = form_data(token, lists.values(), variants={"en": TEXTS["en"]})

    unnamed = autosave(editor_client, None, {**data, "name": ""})
    assert unnamed.status_code == 422
    assert unnamed.get_json()["error"].startswith("Not saved yet")
    assert in_app(lambda: db.session.execute(db.select(Issue)).all()) == []

    response = autosave(editor_client, None, data)

    assert response.status_code == 200
    result = response.get_json()
    issue_id = result["issue_id"]
    assert result["autosave_url"] == f"/admin/issues/{issue_id}/autosave"
    assert in_app(variant_state, issue_id)["en"]["version"] == 1


def test_autosave_stops_on_someone_elses_save_and_never_touches_a_scheduled_issue(
    editor_client, second_client, in_app, lists
):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    mine = loaded_form(editor_client, issue_id, lists)
    theirs = loaded_form(second_client, issue_id, lists)
    edit(second_client, issue_id, theirs, **{"variant_en-body": "Ada's text."})

    stale = autosave(editor_client, issue_id, {**mine, "variant_en-body": "Mine."})
    assert stale.status_code == 409
    assert stale.get_json()["stop"] is True
    assert "someone else saved this issue" in stale.get_json()["error"]

    def schedule():
        issue = db.session.get(Issue, issue_id)
        issue.status = IssueStatus.SCHEDULED
        db.session.commit()

    in_app(schedule)
    fresh = loaded_form(editor_client, issue_id, lists)
    scheduled = autosave(editor_client, issue_id, {**fresh, "variant_en-body": "Mine."})
    assert scheduled.status_code == 409
    assert scheduled.get_json()["error"] == (
        "Only drafts are saved automatically: press “Save” to change it."
    )
    assert in_app(variant_state, issue_id)["en"]["body"] == "Ada's text."

    assert in_app(variant_state, issue_id)["en"]["version"] == 2


def test_autosave_without_a_valid_token_changes_nothing(editor_client, in_app, lists):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    data = loaded_form(editor_client, issue_id, lists)

    response = autosave(
        editor_client, issue_id, {**data, "csrf_token": "x", "variant_en-body": "X"}
    )

    assert response.status_code == 400, "the page reads a 400 as an expired form"
    assert in_app(variant_state, issue_id)["en"]["version"] == 1


def test_the_versions_page_lists_shows_and_restores(editor_client, second_client, in_app, lists):
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    data = loaded_form(second_client, issue_id, lists)
    edit(second_client, issue_id, data, **{"variant_es-body": "Segunda versión."})
    base = f"/admin/issues/{issue_id}/variants/es/versions"

    listing = editor_client.get(base).get_data(as_text=True)
    rows = re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', listing, re.S)
    assert [number for number, _row in rows] == ["2", "1"]
    assert "Ada Admin" in rows[0][1] and "current" in rows[0][1]
    assert "Eddie Editor" in rows[1][1] and 'data-testid="restore-1"' in rows[1][1]

    shown = editor_client.get(f"{base}/1").get_data(as_text=True)
    assert TEXTS["es"][1] in unescape(shown)
    assert "<del>La</del><ins>Segunda</ins> <del>asamblea se reúne" in shown

    token = csrf_token(editor_client, base)
    restored = editor_client.post(f"{base}/1/restore", data={"csrf_token": token})
    assert restored.status_code == 302
    state = in_app(variant_state, issue_id)["es"]
    assert state["version"] == 3 and state["body"] == TEXTS["es"][1]
    assert state["revisions"][-1] == (3, TEXTS["es"][1], "editor@example.org")

    assert editor_client.get(f"{base}/9").status_code == 404
    assert editor_client.get(f"/admin/issues/{issue_id}/variants/de/versions").status_code == 404
    assert editor_client.post(f"{base}/1/restore", data={}).status_code == 400

    def start_sending():
        db.session.get(Issue, issue_id).status = IssueStatus.SENDING
        db.session.commit()

    in_app(start_sending)
    refused = editor_client.post(
        f"{base}/2/restore", data={"csrf_token": token}, follow_redirects=True
    )
    assert "This issue can no longer be changed: sending has started." in refused.get_data(
        as_text=True
    )
    assert in_app(variant_state, issue_id)["es"]["version"] == 3


def test_the_api_refuses_a_stale_version_with_409_conflict(client, in_app, lists):
    api = ApiClient(client, in_app(make_token, "write"))
    created = api.post(
        "/issues",
        json={
            "name": "API",
            "lists": [lists["newsletter"]],
            "variants": {"en": {"subject": "A", "body": "One"}},
        },
    )
    issue_id = created.get_json()["id"]
    assert created.get_json()["variants"][0]["version"] == 1
    url = f"/issues/{issue_id}/variants/en"

    second = api.put(url, json={"subject": "A", "body": "Two", "version": 1})
    assert second.status_code == 200 and second.get_json()["version"] == 2

    stale = api.put(url, json={"subject": "A", "body": "Three", "version": 1})
    assert stale.status_code == 409
    assert stale.get_json()["code"] == "conflict"
    assert api.get(url).get_json()["body"] == "Two"

    assert api.put(url, json={"subject": "A", "body": "Three"}).get_json()["version"] == 3
    bad = api.put(url, json={"subject": "A", "body": "Four", "version": -1})
    assert bad.status_code == 422


def test_simultaneous_saves_of_one_version_cannot_both_be_stored(in_app, lists):
    def make():
        issue = campaigns.create_issue("Race", "en", {lists["newsletter"]})
        campaigns.set_variant(issue, "en", "Subject", "One")
        db.session.commit()
        return issue.id

    issue_id = in_app(make)

    def second_version_again():
        db.session.add(
            VariantRevision(
                variant_id=db.session.get(Issue, issue_id).variant("en").id,
                version=1,
                subject="S",
                body="B",
            )
        )
        db.session.commit()

    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        in_app(second_version_again)


def test_the_word_diff_marks_words_and_escapes_html():
    assert word_diff("a big cat", "a small cat") == "a <del>big</del><ins>small</ins> cat"
    assert word_diff("x", "x <script>") == "x<ins> &lt;script&gt;</ins>"
    assert word_diff("same", "same") == "same"


def test_migration_gives_existing_variants_version_one_and_a_revision(app, in_app, lists):
    def migrate_existing_variant():
        config = app.extensions["migrate"].migrate.get_config()
        downgrade(revision=ScriptDirectory.from_config(config).get_revision("0012").down_revision)
        now = utcnow()
        db.session.execute(
            text(
                "INSERT INTO issue (id, name, default_language, fallback, status, created_at,"
                " updated_at) VALUES (900, 'Old', 'en', 'default', 'draft', :now, :now)"
            ),
            {"now": now},
        )
        db.session.execute(
            text(
                "INSERT INTO issue_variant (issue_id, language, subject, preheader, body,"
                " updated_at) VALUES (900, 'en', 'Old subject', '', 'Old body', :now)"
            ),
            {"now": now},
        )
        db.session.commit()
        upgrade()
        db.session.expire_all()
        return variant_state(900)

    state = in_app(migrate_existing_variant)
    assert state == {"en": {"version": 1, "body": "Old body", "revisions": [(1, "Old body", None)]}}


@pytest.mark.parametrize("version", ["²", "١", "9" * 12, "-1", " 1x"])
def test_a_version_that_is_not_plain_digits_is_no_version(editor_client, in_app, lists, version):
    """``"²".isdigit()`` is true yet int() refuses it: such a version means "not said"
    (nothing is checked), and "Keep my text" with one is ignored; never a server error."""
    issue_id = create_issue(editor_client, lists.values(), variants=TEXTS)
    data = loaded_form(editor_client, issue_id, lists)
    changed = {**data, "variant_es-version": version, "variant_es-body": "Texto nuevo."}
    assert edit(editor_client, issue_id, changed).status_code == 302
    # The form still names version 1, and version 2 is saved: the junk can't lift that.
    kept = {**data, "keep_own": f"es:{version}", "variant_es-body": "Otro texto."}
    assert edit(editor_client, issue_id, kept).status_code == 409
    assert in_app(variant_state, issue_id)["es"]["body"] == "Texto nuevo."
