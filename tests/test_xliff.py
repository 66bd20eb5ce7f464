"""XLIFF 2.0 for outside translators: the file an agency gets, the file it sends back, and
every file that must not come in (another issue, language or source version, segments
missing or untranslated, not XLIFF at all, hostile XML), which changes nothing."""

import io
import re

import pytest
from factories import make_lists, make_user
from helpers import csrf_token, log_in
from translate.storage.xliff2 import Xliff2File

from newsletter import campaigns, translation_status, xliff
from newsletter.accounts import create_token
from newsletter.extensions import db
from newsletter.models import Issue, IssueStatus, MailingList, TokenScope

SOURCE = "# Spring assembly\n\nWe meet on **Friday**.\n\n::button[Register](https://example.org/r)"


def make_issue_to_translate() -> int:
    ids = make_lists()
    issue = campaigns.create_issue("Spring", "en", {ids["newsletter"]})
    campaigns.set_variant(issue, "en", "Spring assembly", SOURCE, preheader="On Friday")
    db.session.commit()
    return issue.id


def export(issue_id: int, language: str = "es") -> bytes:
    return xliff.export(db.session.get(Issue, issue_id), language)


def translated(data: bytes, targets: dict[str, str]) -> bytes:
    """What a CAT tool gives back: the same file with targets."""
    store = Xliff2File.parsestring(data)
    for unit in store.units:
        if unit.getid() in targets:
            unit.target = targets[unit.getid()]
    return bytes(store)


SPANISH = {
    "subject": "Asamblea de primavera",
    "preheader": "El viernes",
    "p1": "# Asamblea de primavera",
    "p2": "Nos reunimos el **viernes**.",
    "p3": "::button[Inscribirse](https://example.org/r)",
}


def variant_text(issue_id: int, language: str = "es"):
    variant = db.session.get(Issue, issue_id).variant(language)
    return variant and (variant.subject, variant.preheader, variant.body)


def bring_in(issue_id: int, data: bytes, language: str = "es"):
    issue = db.session.get(Issue, issue_id)
    try:
        variant = xliff.import_(issue, language, data, None)
        db.session.commit()
    except xliff.XliffRefused as refused:
        db.session.rollback()
        return refused.problems
    return variant.version


def test_the_file_has_a_unit_per_field_and_paragraph_of_the_source(in_app):
    issue_id = in_app(make_issue_to_translate)
    store = Xliff2File.parsestring(in_app(export, issue_id))
    assert (store.getsourcelanguage(), store.gettargetlanguage()) == ("en", "es")
    assert store.body.get("original") == f"newsletter:issue/{issue_id}/source/en/version/1"
    assert [(unit.getid(), unit.source) for unit in store.units] == [
        ("subject", "Spring assembly"),
        ("preheader", "On Friday"),
        ("p1", "# Spring assembly"),
        ("p2", "We meet on **Friday**."),
        ("p3", "::button[Register](https://example.org/r)"),
    ]
    assert all(not unit.target for unit in store.units)


def test_a_translated_file_becomes_the_languages_text_up_to_date_with_the_source(in_app):
    issue_id = in_app(make_issue_to_translate)
    assert in_app(bring_in, issue_id, translated(in_app(export, issue_id), SPANISH)) == 1
    assert in_app(variant_text, issue_id) == (
        "Asamblea de primavera",
        "El viernes",
        "# Asamblea de primavera\n\nNos reunimos el **viernes**.\n\n"
        "::button[Inscribirse](https://example.org/r)",
    )

    def state():
        issue = db.session.get(Issue, issue_id)
        variant = issue.variant("es")
        return variant.state.value, translation_status.is_stale(issue, variant)

    assert in_app(state) == ("draft", False)
    # Exported again, the file carries the current translation as its targets.
    targets = {u.getid(): u.target for u in Xliff2File.parsestring(in_app(export, issue_id)).units}
    assert targets == SPANISH


def test_a_file_for_another_issue_language_or_source_version_is_refused(in_app):
    issue_id = in_app(make_issue_to_translate)
    other_id = in_app(make_other_issue)
    for_spanish = translated(in_app(export, issue_id), SPANISH)

    problems = in_app(bring_in, other_id, for_spanish)
    assert problems == [
        "The file belongs to another issue (or to no issue of ours).",
        "Segments that are not in the source: p2, p3, preheader.",
    ]
    problems = in_app(bring_in, issue_id, for_spanish, "fr")
    assert problems == [
        "The file translates from en into es; this one must translate from en into fr."
    ]

    def change_the_source():
        issue = db.session.get(Issue, issue_id)
        campaigns.set_variant(issue, "en", "Spring assembly", SOURCE + "\n\nSee you.")
        db.session.commit()

    in_app(change_the_source)
    problems = in_app(bring_in, issue_id, for_spanish)
    assert problems[0].startswith("The file was made from version 1 of the source text")
    assert "Segments missing: p4." in problems
    assert in_app(variant_text, issue_id) is None, "nothing was written"


def make_other_issue() -> int:
    events = db.session.execute(db.select(MailingList).filter_by(slug="events")).scalar_one()
    issue = campaigns.create_issue("Autumn", "en", {events.id})
    campaigns.set_variant(issue, "en", "Autumn", "Text")
    db.session.commit()
    return issue.id


def test_missing_unknown_and_untranslated_segments_are_all_reported(in_app):
    issue_id = in_app(make_issue_to_translate)
    data = in_app(export, issue_id)
    partial = translated(data, {k: v for k, v in SPANISH.items() if k != "p2"})
    assert in_app(bring_in, issue_id, partial) == ["Segments not translated: p2."]

    store = Xliff2File.parsestring(translated(data, SPANISH))
    store.body.remove(next(u for u in store.units if u.getid() == "p3").getunitelement())
    extra = store.UnitClass("Extra")
    extra.setid("p9")
    extra.target = "Más"
    store.addunit(extra)
    problems = in_app(bring_in, issue_id, bytes(store))
    assert problems == ["Segments missing: p3.", "Segments that are not in the source: p9."]
    assert in_app(variant_text, issue_id) is None


HOSTILE = {
    "not xml": b"subject,body\nHola,Texto\n",
    "empty": b"",
    "xliff 1.2": (
        b'<?xml version="1.0"?><xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">'
        b'<file original="x" source-language="en" target-language="es" datatype="plaintext">'
        b"<body></body></file></xliff>"
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<xliff version="2.0" xmlns="urn:oasis:names:tc:xliff:document:2.0" srcLang="en" '
        b'trgLang="es"><file id="f"><unit id="subject"><segment><source>s</source>'
        b"<target>&c;</target></segment></unit></file></xliff>"
    ),
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_what_is_not_our_xliff_is_refused_and_changes_nothing(in_app, data):
    issue_id = in_app(make_issue_to_translate)
    problems = in_app(bring_in, issue_id, data)
    assert problems and all(isinstance(problem, str) for problem in problems)
    assert in_app(variant_text, issue_id) is None


def test_an_external_entity_is_never_read(in_app, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the treasurer's password")
    issue_id = in_app(make_issue_to_translate)
    data = translated(in_app(export, issue_id), SPANISH)
    hostile = data.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE xliff [<!ENTITY s SYSTEM "file://{secret}">]>'.encode(),
    ).replace(b"Asamblea de primavera</target>", b"&s;</target>", 1)
    in_app(bring_in, issue_id, hostile)
    text = in_app(variant_text, issue_id)
    assert text is None or "password" not in " ".join(text)


def test_a_file_too_large_and_an_issue_being_sent_are_refused(in_app):
    issue_id = in_app(make_issue_to_translate)
    data = translated(in_app(export, issue_id), SPANISH)
    assert in_app(bring_in, issue_id, data + b" " * xliff.MAX_BYTES) == [
        "The file is larger than 512 KB."
    ]

    def start():
        issue = db.session.get(Issue, issue_id)
        issue.status = IssueStatus.SENDING
        db.session.commit()

    in_app(start)
    with pytest.raises(campaigns.CampaignError, match="can no longer be changed"):
        in_app(bring_in, issue_id, data)


def test_editors_download_and_bring_back_a_file_in_the_composer(app, editor_client, in_app):
    issue_id = in_app(make_issue_to_translate)
    page = editor_client.get(f"/admin/issues/{issue_id}/edit").get_data(as_text=True)
    assert f'href="/admin/issues/{issue_id}/languages/es/xliff"' in page
    assert f'href="/admin/issues/{issue_id}/languages/en/xliff"' not in page, "the source"

    response = editor_client.get(f"/admin/issues/{issue_id}/languages/es/xliff")
    assert response.status_code == 200 and response.mimetype == "application/xliff+xml"
    assert f'filename="issue-{issue_id}-en-es.xlf"' in response.headers["Content-Disposition"]
    assert editor_client.get(f"/admin/issues/{issue_id}/languages/en/xliff").status_code == 404

    def post(client, data: bytes):
        return client.post(
            f"/admin/issues/{issue_id}/languages/es/xliff",
            data={
                "csrf_token": csrf_token(client, f"/admin/issues/{issue_id}/edit"),
                "file": (io.BytesIO(data), "es.xlf"),
            },
            content_type="multipart/form-data",
            follow_redirects=True,
        )

    untranslated = post(editor_client, response.data).get_data(as_text=True)
    assert "The file was not imported: Segments not translated:" in untranslated
    done = post(editor_client, translated(response.data, SPANISH)).get_data(as_text=True)
    assert "Español: the translation from the file is saved." in done
    assert in_app(variant_text, issue_id)[0] == "Asamblea de primavera"

    in_app(make_user, "redakteur@example.org", "editor", "de")
    german = app.test_client()
    log_in(german, "redakteur@example.org")
    refused = post(german, b"<nope/>").get_data(as_text=True)
    assert "Die Datei wurde nicht importiert:" in refused


def test_the_api_exports_and_imports_with_every_reason_for_a_refusal(client, in_app):
    issue_id = in_app(make_issue_to_translate)

    def token() -> str:
        _token, secret = create_token("translations", TokenScope.WRITE)
        db.session.commit()
        return secret

    headers = {"Authorization": f"Bearer {in_app(token)}"}
    url = f"/api/v1/issues/{issue_id}/xliff/es"
    response = client.get(url, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/xliff+xml"

    def put(data: bytes):
        return client.put(
            url,
            headers=headers,
            data={"file": (io.BytesIO(data), "es.xlf")},
            content_type="multipart/form-data",
        )

    refused = put(translated(response.data, {"subject": "Solo el asunto"}))
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "xliff_refused"
    assert refused.get_json()["fields"]["file"] == [
        "Segments not translated: preheader, p1, p2, p3."
    ]
    saved = put(translated(response.data, SPANISH))
    assert saved.status_code == 200 and saved.get_json()["subject"] == "Asamblea de primavera"
    assert client.get(f"/api/v1/issues/{issue_id}/xliff/en", headers=headers).status_code == 409


def test_each_translation_shows_the_source_in_the_files_segments(editor_client, in_app):
    issue_id = in_app(make_issue_to_translate)

    def hostile_source():
        issue = db.session.get(Issue, issue_id)
        body = SOURCE + "\n\n<script>x()</script>"
        campaigns.set_variant(issue, "en", "Spring <b>assembly</b>", body, "On Friday")
        db.session.commit()

    in_app(hostile_source)
    page = editor_client.get(f"/admin/issues/{issue_id}/edit").get_data(as_text=True)
    spanish = page[page.index('data-testid="source-beside-es"') :]
    spanish = spanish[: spanish.index("</details>")]
    assert "Source: English, version 2" in spanish
    assert "Spring &lt;b&gt;assembly&lt;/b&gt;" in spanish and "On Friday" in spanish
    segments = re.findall(r'<li id="source-es-p(\d+)"><pre>(.*?)</pre></li>', spanish, re.S)
    assert segments == [
        ("1", "# Spring assembly"),
        ("2", "We meet on **Friday**."),
        ("3", "::button[Register](https://example.org/r)"),
        ("4", "&lt;script&gt;x()&lt;/script&gt;"),
    ]
    assert 'data-testid="source-beside-en"' not in page, "the source is not beside itself"
