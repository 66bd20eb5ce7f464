"""Files per language variant: accepted by content, attached once per variant or offered as a
download link, within the size limits, refused with a clear message (nothing stored), in
the composer and the API."""

import io
import random
import re
import zipfile
from email import message_from_bytes, policy

import pytest
from campaign_helpers import configured, make_audience, make_issue, send_all, start
from factories import make_lists
from flask_babel import force_locale
from helpers import csrf_token
from test_api_v1 import ApiClient, error_of, make_token

from newsletter import attachments, delivery
from newsletter.attachments import AttachmentError, detect_type, safe_filename
from newsletter.campaigns import CampaignError
from newsletter.extensions import db
from newsletter.i18n import file_size
from newsletter.mail import issue_mail
from newsletter.models import Attachment, Issue, User

SPANISH_NAME = "Inscripción – programa provisional del encuentro.pdf"


def pdf(size: int = 20_000, seed: int = 1) -> bytes:
    """A PDF's signature, then bytes of every value (CR, LF, NUL included)."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    return head + random.Random(seed).randbytes(size - len(head) - len(tail)) + tail


def office_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
ODS = office_zip(
    {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}
)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
DOC = OLE2 + "WordDocument".encode("utf-16-le") + b"\x00" * 100
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x90" * 400
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def test_files_are_known_by_their_content_never_their_name():
    assert detect_type(pdf()) == "application/pdf"
    assert detect_type(ICS) == "text/calendar"
    assert detect_type(b"\xef\xbb\xbf" + ICS) == "text/calendar"
    assert detect_type(PNG) == "image/png"
    assert detect_type(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == "image/jpeg"
    assert detect_type(b"GIF89a" + b"\x00" * 20) == "image/gif"
    assert detect_type(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert detect_type(DOCX) == attachments.DOCX
    assert detect_type(ODS) == attachments.ODS
    assert detect_type(DOC) == attachments.DOC
    # A program, a plain ZIP, an OLE2 file that is no Office document (an .msi), HTML.
    assert detect_type(EXE) is None
    assert detect_type(office_zip({"setup.exe": EXE})) is None
    assert detect_type(OLE2) is None
    assert detect_type(b"<html><script>alert(1)</script>") is None
    assert detect_type(b"PK\x03\x04 not really a zip") is None


def test_file_names_are_made_safe_and_match_the_content(in_app):
    def names():
        with force_locale("en"):
            return [
                safe_filename(
                    "../../etc/passwd\r\nBcc: victim@example.org\r\n.pdf", "application/pdf"
                ),
                safe_filename("C:\\Users\\ana\\Programa.PDF", "application/pdf"),
                safe_filename("photo.pdf", "image/jpeg"),
                safe_filename('a"b<c>;%\x00.pdf', "application/pdf"),
                safe_filename("   ...   ", "application/pdf"),
                safe_filename("é" * 300 + ".pdf", "application/pdf"),
                safe_filename("cafe\u0301.pdf", "application/pdf"),
            ]

    hostile, windows, renamed, quotes, empty, long, decomposed = in_app(names)
    assert hostile == "passwd Bcc_ victim@example.org.pdf"
    assert windows == "Programa.pdf"
    assert renamed == "photo.pdf.jpg"
    assert quotes == "a_b_c___.pdf"
    assert empty == "attachment.pdf"
    assert len(long) == attachments.MAX_FILENAME_LENGTH and long.endswith("é.pdf")
    assert decomposed == "café.pdf"


def issue_with_audience(in_app) -> tuple[int, dict]:
    audience = in_app(make_audience)
    return in_app(make_issue, [audience["lists"]["newsletter"]]), audience


def add(issue_id: int, language: str, filename: str, data: bytes, link_only=False) -> int:
    attachment = attachments.add_attachment(
        db.session.get(Issue, issue_id), language, filename, data, link_only
    )
    db.session.commit()
    return attachment.id


def stored(issue_id: int) -> list[tuple[str, str, int, bool]]:
    rows = db.session.execute(
        db.select(Attachment).join(Attachment.variant).order_by(Attachment.id)
    ).scalars()
    return [(a.variant.language, a.filename, a.size, a.link_only) for a in rows]


def test_an_attached_file_goes_with_its_variant_only_with_its_exact_bytes(
    app, in_app, smtp, monkeypatch
):
    issue_id, audience = issue_with_audience(in_app)
    data = pdf(300_000)
    in_app(add, issue_id, "es", SPANISH_NAME, data)
    in_app(add, issue_id, "es", "asamblea.ics", ICS)
    built = []
    original = issue_mail.attachment_part
    monkeypatch.setattr(
        issue_mail,
        "attachment_part",
        lambda *args: built.append(args[0]) or original(*args),
    )
    in_app(start, issue_id)
    in_app(send_all, issue_id)

    received = smtp.settle()
    assert {r.recipients[0] for r in received} == set(audience["expected"])
    spanish = [r for r in received if audience["expected"][r.recipients[0]] == "es"]
    assert len(spanish) == 2
    assert built == [SPANISH_NAME, "asamblea.ics"], "each file encoded once for all readers"
    for item in received:
        message = item.message
        assert all(len(line) <= 998 for line in item.data.split(b"\r\n"))
        assert b"\n" not in item.data.replace(b"\r\n", b"")
        files = list(message.iter_attachments())
        if item not in spanish:
            assert message.get_content_type() == "multipart/alternative"
            assert files == []
            continue
        assert message.get_content_type() == "multipart/mixed"
        alternative = next(message.iter_parts())
        assert alternative.get_content_type() == "multipart/alternative"
        assert "reúne" in message.get_body(preferencelist=("plain",)).get_content()
        assert [part.get_filename() for part in files] == [SPANISH_NAME, "asamblea.ics"]
        assert files[0].get_content_type() == "application/pdf"
        assert files[0].get_content() == data
        assert files[1].get_content_type() == "text/calendar"
        assert files[1].get_payload(decode=True) == ICS
        assert files[0]["Content-Transfer-Encoding"] == "base64"
        assert files[0].get_content_disposition() == "attachment"
        body_lines = files[0].as_string().split("\n\n", 1)[1].splitlines()
        assert {len(line) for line in body_lines[:-1]} == {76}
    # The encoded files are the same bytes in every Spanish message.
    marker = b"--=_newsletter_mixed_part\r\nContent-Type: application/pdf"
    assert spanish[0].data.split(marker)[1] == spanish[1].data.split(marker)[1]


def test_the_variant_is_prepared_again_when_its_files_change(app, in_app):
    issue_id, _audience = issue_with_audience(in_app)

    def files_sent() -> list[str]:
        prepared = delivery.prepared_variant(db.session.get(Issue, issue_id), "es")
        return [p.get_filename() for p in delivery.preview_message(prepared).iter_attachments()]

    assert in_app(files_sent) == []
    in_app(add, issue_id, "es", "a.pdf", pdf())
    calendar_id = in_app(add, issue_id, "es", "asamblea.ics", ICS)
    assert in_app(files_sent) == ["a.pdf", "asamblea.ics"]
    in_app(
        lambda: (
            attachments.remove_attachment(db.session.get(Issue, issue_id), "es", calendar_id),
            db.session.commit(),
        )
    )
    assert in_app(files_sent) == ["a.pdf"]


def test_a_linked_file_is_offered_in_the_mail_and_downloaded_from_the_site(
    app, client, in_app, smtp
):
    issue_id, _audience = issue_with_audience(in_app)
    data = pdf(40_000, seed=2)
    in_app(add, issue_id, "en", "Annual report 2026.pdf", data, link_only=True)
    token = in_app(lambda: db.session.execute(db.select(Attachment.token)).scalar_one())
    in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "en", "t@example.org"))

    [item] = smtp.settle()
    message = item.message
    assert message.get_content_type() == "multipart/alternative", "nothing attached"
    url = f"http://newsletter.test/files/{token}/Annual%20report%202026.pdf"
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f'href="{url}"' in html and "Annual report 2026.pdf</a> (40 KB)" in html
    assert "Files to download" in html and "Files to download" in text
    assert f"- Annual report 2026.pdf (40 KB): {url}" in text

    response = client.get(url.removeprefix("http://newsletter.test"))
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "Annual report 2026.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get(f"/files/{token}/other.pdf").status_code == 404
    assert client.get(f"/files/{'x' * 43}/Annual%20report%202026.pdf").status_code == 404


def test_attached_files_have_a_total_per_message_and_linked_ones_their_own_limit(app, in_app):
    issue_id, _audience = issue_with_audience(in_app)
    with configured(app, ATTACHMENT_MAX_BYTES=1_000_000, HOSTED_FILE_MAX_BYTES=2_000_000):
        in_app(add, issue_id, "fr", "a.pdf", pdf(600_000))
        with pytest.raises(AttachmentError) as refused:
            in_app(add, issue_id, "fr", "b.pdf", pdf(600_000))
        assert refused.value.code == "attachments_too_large"
        assert "1 MB" in str(refused.value) and "link" in str(refused.value)
        in_app(add, issue_id, "de", "b.pdf", pdf(600_000))  # the limit is per variant
        in_app(add, issue_id, "fr", "b.pdf", pdf(600_000), link_only=True)
        with pytest.raises(AttachmentError) as refused:
            in_app(add, issue_id, "fr", "c.pdf", pdf(2_000_001), link_only=True)
        assert refused.value.code == "file_too_large"
    assert in_app(stored, issue_id) == [
        ("fr", "a.pdf", 600_000, False),
        ("de", "b.pdf", 600_000, False),
        ("fr", "b.pdf", 600_000, True),
    ]


def test_bad_files_are_refused_and_nothing_is_stored(app, in_app):
    issue_id, _audience = issue_with_audience(in_app)
    for filename, data, code in (
        ("programme.pdf", EXE, "unsupported_file_type"),
        ("empty.pdf", b"", "empty_file"),
        ("page.pdf", b"<html><body>x</body></html>", "unsupported_file_type"),
    ):
        with pytest.raises(AttachmentError) as refused:
            in_app(add, issue_id, "en", filename, data)
        assert refused.value.code == code
    with pytest.raises(AttachmentError) as refused:
        in_app(add, issue_id, "it", "a.pdf", pdf())
    assert refused.value.code == "variant_not_found"
    assert in_app(stored, issue_id) == []


def test_a_hostile_file_name_is_sent_on_no_header_of_its_own(app, in_app, smtp):
    issue_id, _audience = issue_with_audience(in_app)
    hostile = "..\\..\\évil\r\nBcc: victim@example.org\r\nX-Injected: 1\r\n.pdf"
    in_app(add, issue_id, "de", hostile, pdf())
    in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "de", "t@example.org"))
    [item] = smtp.settle()
    assert not re.search(rb"^(Bcc|X-Injected):", item.data, re.MULTILINE)
    assert [p.get_filename() for p in item.message.iter_attachments()] == [
        "évil Bcc_ victim@example.org X-Injected_ 1.pdf"
    ]


def test_deleting_a_variant_deletes_its_files(app, in_app):
    issue_id, _audience = issue_with_audience(in_app)
    in_app(add, issue_id, "es", "a.pdf", pdf())

    def remove_variant():
        issue = db.session.get(Issue, issue_id)
        issue.variants.remove(issue.variant("es"))
        db.session.commit()

    in_app(remove_variant)
    assert in_app(stored, issue_id) == []


def test_files_can_no_longer_change_once_sending_started(app, in_app):
    issue_id, _audience = issue_with_audience(in_app)
    attachment_id = in_app(add, issue_id, "en", "a.pdf", pdf())
    in_app(start, issue_id)
    with pytest.raises(CampaignError):
        in_app(add, issue_id, "en", "b.pdf", pdf())
    with pytest.raises(CampaignError):
        in_app(
            lambda: attachments.remove_attachment(
                db.session.get(Issue, issue_id), "en", attachment_id
            )
        )
    assert in_app(stored, issue_id) == [("en", "a.pdf", 20_000, False)]


# The composer


def composer_issue(in_app) -> int:
    ids = in_app(make_lists)
    return in_app(make_issue, [ids["newsletter"]], ("en", "es"))


def upload(client, issue_id: int, language: str, filename: str, data: bytes, **fields):
    edit = f"/admin/issues/{issue_id}/edit"
    token = csrf_token(client, edit)
    return client.post(
        f"/admin/issues/{issue_id}/variants/{language}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_editors_attach_list_and_remove_files_in_the_composer(app, editor_client, in_app):
    issue_id = composer_issue(in_app)
    page = editor_client.get(f"/admin/issues/{issue_id}/edit").get_data(as_text=True)
    assert 'data-testid="attachments-es"' in page and 'form="attach-es"' in page
    assert 'id="attach-fr"' not in page, "no files for a language without a variant"

    response = upload(editor_client, issue_id, "es", SPANISH_NAME, pdf(20_000))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"“{SPANISH_NAME}” is added." in page
    assert "20 KB" in page and "attached to the mail" in page
    response = upload(editor_client, issue_id, "es", "big.pdf", pdf(30_000), link_only="y")
    assert "sent as a download link" in response.get_data(as_text=True)
    assert in_app(stored, issue_id) == [
        ("es", SPANISH_NAME, 20_000, False),
        ("es", "big.pdf", 30_000, True),
    ]

    # The live preview of unsaved text shows the saved variant's download links.
    preview = editor_client.post(
        "/admin/issues/preview",
        data={
            "csrf_token": csrf_token(editor_client, f"/admin/issues/{issue_id}/edit"),
            "language": "es",
            "issue_id": str(issue_id),
            "subject": "Borrador",
            "body": "Texto sin guardar",
        },
    ).get_json()
    assert "Texto sin guardar" in preview["html"] and "big.pdf</a>" in preview["html"]
    assert SPANISH_NAME not in preview["html"], "attached files are no links"

    review = editor_client.get(f"/admin/issues/{issue_id}/send").get_data(as_text=True)
    assert re.search(
        r'<li data-language="es">Español:\s*'
        + re.escape(f"{SPANISH_NAME} (20 KB, attached to the mail); ")
        + re.escape("big.pdf (30 KB, sent as a download link)</li>"),
        review,
    )
    assert 'data-language="en">English:' not in review

    [first_id, _second] = in_app(
        lambda: list(db.session.execute(db.select(Attachment.id).order_by(Attachment.id)).scalars())
    )
    assert f'id="remove-attachment-{first_id}"' in page
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    response = editor_client.post(
        f"/admin/issues/{issue_id}/variants/es/attachments/{first_id}/delete",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "The file is removed." in response.get_data(as_text=True)
    assert in_app(stored, issue_id) == [("es", "big.pdf", 30_000, True)]


def test_the_composer_refuses_bad_files_in_the_editors_language(
    app, editor_client, in_app, translated
):
    issue_id = composer_issue(in_app)
    in_app(speaks, "editor@example.org", "fr")
    refusals = [
        (
            "programme.pdf",
            EXE,
            translated(
                "fr",
                "This file type is not accepted. Attach a PDF, a calendar (.ics), "
                "an image (JPEG, PNG, GIF, WebP) or an office document.",
            ),
        ),
        ("vide.pdf", b"", translated("fr", "The file is empty.")),
    ]
    with configured(app, ATTACHMENT_MAX_BYTES=100_000, HOSTED_FILE_MAX_BYTES=200_000):
        limit = in_app(lambda: _in_locale("fr", lambda: file_size(100_000)))
        refusals.append(
            (
                "gros.pdf",
                pdf(150_000),
                translated(
                    "fr",
                    "Files attached to one message can be at most %(max)s in all. "
                    "Send this one as a link instead.",
                    max=limit,
                ),
            )
        )
        hosted = in_app(lambda: _in_locale("fr", lambda: file_size(200_000)))
        refusals.append(
            (
                "énorme.pdf",
                pdf(400_000),
                translated("fr", "A file can be at most %(max)s.", max=hosted),
            )
        )
        for filename, data, message in refusals:
            response = upload(editor_client, issue_id, "es", filename, data)
            page = response.get_data(as_text=True)
            assert response.status_code == 200
            assert message.replace("’", "&#39;") in page or message in page, message
            assert 'data-testid="attachments-es"' in page, "back in the composer"
    assert in_app(stored, issue_id) == []


def speaks(email: str, language: str) -> None:
    user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
    user.language = language
    db.session.commit()


def _in_locale(language: str, function):
    with force_locale(language):
        return function()


def test_the_composer_refuses_files_once_sending_started(app, editor_client, in_app):
    issue_id = composer_issue(in_app)
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/edit")
    in_app(start, issue_id)
    response = editor_client.post(
        f"/admin/issues/{issue_id}/variants/es/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(pdf()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/issues/{issue_id}")
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This issue can no longer be changed: sending has started." in page
    assert in_app(stored, issue_id) == []


def test_an_upload_without_the_csrf_token_is_refused(app, editor_client, in_app):
    issue_id = composer_issue(in_app)
    response = editor_client.post(
        f"/admin/issues/{issue_id}/variants/es/attachments",
        data={"file": (io.BytesIO(pdf()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert in_app(stored, issue_id) == []


# The API


@pytest.fixture
def api(client, in_app):
    return ApiClient(client, in_app(make_token, "write"))


def api_upload(api, issue_id, language, filename, data, **fields):
    return api.post(
        f"/issues/{issue_id}/variants/{language}/attachments",
        data={"file": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
    )


def test_the_api_adds_lists_and_removes_files(app, api, in_app, smtp):
    issue_id = composer_issue(in_app)
    data = pdf(50_000)
    response = api_upload(api, issue_id, "es", SPANISH_NAME, data)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["filename"] == SPANISH_NAME
    assert created["content_type"] == "application/pdf"
    assert created["size"] == 50_000 and created["link_only"] is False
    assert created["url"].startswith("http://newsletter.test/files/")
    response = api_upload(api, issue_id, "es", "agenda.ics", ICS, link_only="true")
    assert response.status_code == 201 and response.get_json()["link_only"] is True

    listed = api.get(f"/issues/{issue_id}/variants/es/attachments").get_json()["items"]
    assert [item["filename"] for item in listed] == [SPANISH_NAME, "agenda.ics"]
    assert api.get(f"/issues/{issue_id}/variants/en/attachments").get_json() == {"items": []}

    in_app(lambda: delivery.send_test(db.session.get(Issue, issue_id), "es", "t@example.org"))
    [item] = smtp.settle()
    [part] = item.message.iter_attachments()
    assert part.get_filename() == SPANISH_NAME and part.get_content() == data

    response = api.delete(f"/issues/{issue_id}/variants/es/attachments/{created['id']}")
    assert response.status_code == 204
    error_of(
        api.delete(f"/issues/{issue_id}/variants/es/attachments/{created['id']}"), 404, "not_found"
    )
    assert [a[1] for a in in_app(stored, issue_id)] == ["agenda.ics"]


def test_the_api_refuses_bad_files_in_the_callers_language(app, api, in_app, translated):
    issue_id = composer_issue(in_app)
    spanish = {"headers": {"Accept-Language": "es"}}
    body = error_of(
        api.post(
            f"/issues/{issue_id}/variants/en/attachments",
            data={"file": (io.BytesIO(EXE), "setup.pdf")},
            content_type="multipart/form-data",
            **spanish,
        ),
        415,
        "unsupported_file_type",
    )
    assert body["message"] == translated(
        "es",
        "This file type is not accepted. Attach a PDF, a calendar (.ics), "
        "an image (JPEG, PNG, GIF, WebP) or an office document.",
    )
    error_of(api_upload(api, issue_id, "en", "e.pdf", b""), 422, "empty_file")
    error_of(api_upload(api, issue_id, "fr", "a.pdf", pdf()), 404, "variant_not_found")
    error_of(api_upload(api, issue_id, "xx", "a.pdf", pdf()), 422, "validation_failed")
    missing = api.post(
        f"/issues/{issue_id}/variants/en/attachments", data={}, content_type="multipart/form-data"
    )
    assert "file" in error_of(missing, 422, "validation_failed")["fields"]
    with configured(app, ATTACHMENT_MAX_BYTES=100_000, HOSTED_FILE_MAX_BYTES=200_000):
        error_of(
            api_upload(api, issue_id, "en", "a.pdf", pdf(150_000)), 413, "attachments_too_large"
        )
        error_of(
            api_upload(api, issue_id, "en", "a.pdf", pdf(230_000), link_only="true"),
            413,
            "file_too_large",
        )
        error_of(api_upload(api, issue_id, "en", "a.pdf", pdf(400_000)), 413, "payload_too_large")
    in_app(start, issue_id)
    error_of(api_upload(api, issue_id, "en", "a.pdf", pdf()), 409, "issue_not_editable")
    assert in_app(stored, issue_id) == []


def test_read_tokens_may_list_files_but_not_add_them(app, client, in_app):
    issue_id = composer_issue(in_app)
    reader = ApiClient(client, in_app(make_token, "read"))
    assert reader.get(f"/issues/{issue_id}/variants/en/attachments").status_code == 200
    error_of(api_upload(reader, issue_id, "en", "a.pdf", pdf()), 403, "insufficient_scope")
    anonymous = ApiClient(client, None)
    error_of(api_upload(anonymous, issue_id, "en", "a.pdf", pdf()), 401, "token_required")
    assert in_app(stored, issue_id) == []


def test_the_attachment_endpoints_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    path = "/api/v1/issues/{issue_id}/variants/{language}/attachments"
    assert set(document["paths"][path]) >= {"get", "post"}
    assert "delete" in document["paths"][path + "/{attachment_id}"]
    body = document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
    schema = body["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"file", "link_only"}


@pytest.mark.parametrize(
    "filename",
    ["a.pdf", "x" * 110 + ".pdf", "Programme de l’assemblée générale – version définitive.pdf"],
)
def test_a_file_name_of_any_length_reads_back_from_the_mime_part(filename):
    part = issue_mail.attachment_part(filename, "application/pdf", b"%PDF-1.7 x")
    raw = part.split(b"\r\n", 1)[1]  # after the boundary line
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    message = message_from_bytes(raw, policy=policy.default)
    assert message.get_filename() == filename
    assert message["Content-Type"].params["name"] == filename
    assert message.get_content() == b"%PDF-1.7 x"
