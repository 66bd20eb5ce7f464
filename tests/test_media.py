"""The media library: what an upload becomes, what is refused (with nothing stored), how
images are served to mail clients, the admin page and its JSON, and the API."""

import hashlib
import html
import io
import json

import pytest
import sample_images
from factories import make_user
from helpers import csrf_token, log_in
from PIL import Image
from test_api_v1 import ApiClient, make_token

from newsletter.extensions import db
from newsletter.media.images import safe_filename
from newsletter.models import MediaFile

FIFTY_MB = 50 * 1024 * 1024


def stored_images() -> list[dict]:
    rows = db.session.execute(db.select(MediaFile).order_by(MediaFile.id)).scalars()
    return [
        {
            "id": row.id,
            "filename": row.filename,
            "content_type": row.content_type,
            "width": row.width,
            "height": row.height,
            "size": row.size,
            "data": row.data,
            "alt": row.alt_text,
            "created_by_id": row.created_by_id,
        }
        for row in rows
    ]


def upload_form(client, data: bytes, filename: str, **fields):
    """The upload form of /admin/media as a browser without JavaScript sends it."""
    token = csrf_token(client, "/admin/media")
    body = {"csrf_token": token, "file": (io.BytesIO(data), filename), **fields}
    return client.post("/admin/media", data=body, content_type="multipart/form-data")


def upload_json(client, data: bytes, filename: str, **fields):
    """The composer's upload: the CSRF token in a header, JSON back."""
    token = csrf_token(client, "/admin/media")
    body = {"file": (io.BytesIO(data), filename), **fields}
    return client.post(
        "/admin/media",
        data=body,
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def metadata_of(data: bytes) -> dict:
    image = Image.open(io.BytesIO(data))
    return {"format": image.format, "info": set(image.info), "exif": dict(image.getexif())}


# What an upload becomes


def test_a_phone_photo_is_stored_upright_without_exif_gps_or_comment_and_1200_wide(
    editor_client, in_app
):
    photo = sample_images.photo_with_gps(3000, 2000)
    assert sample_images.CAMERA.encode() in photo  # the sample does carry the metadata

    response = upload_form(editor_client, photo, "Demo à Köln.JPG", alt_en="The march")

    assert response.status_code == 302
    [image] = in_app(stored_images)
    # Turned upright (orientation 6), then 3000 × 2000 became 2000 × 3000, now 1200 wide.
    assert (image["width"], image["height"]) == (1200, 1800)
    assert image["content_type"] == "image/jpeg"
    assert image["filename"] == "demo-a-koln.jpg"
    assert image["alt"] == {"en": "The march"}
    assert image["size"] == len(image["data"]) < len(photo)
    stored = metadata_of(image["data"])
    assert stored["format"] == "JPEG"
    assert stored["exif"] == {}
    assert not stored["info"] & {"exif", "icc_profile", "xmp", "comment", "XML:com.adobe.xmp"}
    # Metadata lives in the segments before the scan; the scan itself is noise, in which
    # any three bytes ("GPS") turn up by chance.
    segments = image["data"][: image["data"].index(b"\xff\xda")]
    for trace in (sample_images.CAMERA.encode(), b"Exif", b"safe house", b"GPS"):
        assert trace not in segments
    page = page_text(editor_client.get(response.headers["Location"]))
    assert "The image “demo-a-koln.jpg” is in the library." in page


@pytest.mark.parametrize(
    ("sample", "filename", "stored_type", "stored_name", "size"),
    [
        ("png", "logo.png", "image/png", "logo.png", (640, 480)),
        ("webp", "banner.webp", "image/jpeg", "banner.jpg", (1200, 675)),
        ("gif", "sticker.gif", "image/gif", "sticker.gif", (300, 200)),
    ],
)
def test_png_webp_and_gif_are_accepted_webp_becomes_jpeg_for_mail_programs(
    editor_client, in_app, sample, filename, stored_type, stored_name, size
):
    response = upload_json(editor_client, getattr(sample_images, sample)(), filename)

    assert response.status_code == 201
    answer = response.get_json()
    [image] = in_app(stored_images)
    assert answer["id"] == image["id"]
    assert answer["url"] == f"http://newsletter.test/media/{image['id']}/{stored_name}"
    assert (answer["width"], answer["height"]) == size == (image["width"], image["height"])
    assert answer["filename"] == stored_name
    assert answer["alt"] == {}
    assert image["content_type"] == stored_type
    assert metadata_of(image["data"])["format"] == stored_type.split("/")[1].upper()


def test_the_uploader_is_remembered_and_forgotten_when_their_account_goes(editor_client, in_app):
    upload_json(editor_client, sample_images.png(), "a.png")

    def uploader():
        return db.session.execute(db.select(MediaFile.created_by_id)).scalar_one()

    user_id = in_app(uploader)
    assert user_id is not None

    def delete_account():
        db.session.execute(db.text("DELETE FROM user_session"))
        db.session.execute(db.text("DELETE FROM user_account WHERE id = :id"), {"id": user_id})
        db.session.commit()

    in_app(delete_account)
    assert in_app(uploader) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\ana\\Foto del día.jpeg", "foto-del-dia.png"),
        ("<script>.png", "script.png"),
        ("....", "image.png"),
        ("", "image.png"),
        ("日本.png", "image.png"),
        ("a" * 300 + ".png", "a" * 80 + ".png"),
    ],
)
def test_file_names_become_short_ascii_with_the_stored_format_s_extension(name, expected):
    assert safe_filename(name, "PNG") == expected


# What is refused

REFUSALS = {
    "renamed executable": (
        sample_images.renamed_executable,
        "photo.jpg",
        400,
        "This file is not an image we accept. Please upload a JPEG, PNG, GIF or WebP image.",
        {},
    ),
    "svg with script": (
        lambda: sample_images.SVG_WITH_SCRIPT,
        "drawing.png",
        400,
        "SVG drawings are not accepted, because they can contain scripts. "
        "Please upload a JPEG, PNG, GIF or WebP image.",
        {},
    ),
    "corrupt png": (
        sample_images.corrupt_png,
        "broken.png",
        400,
        "This image is damaged or incomplete and can’t be read.",
        {},
    ),
    "decompression bomb": (
        sample_images.decompression_bomb,
        "bomb.png",
        400,
        "This image has too many pixels (at most %(megapixels)s million). "
        "Please make it smaller and upload it again.",
        {"megapixels": 50},
    ),
    "animated gif": (
        sample_images.animated_gif,
        "dance.gif",
        400,
        "Animated images are not accepted: many mail programs show only their first frame. "
        "Please upload a still image.",
        {},
    ),
    "empty file": (lambda: b"", "empty.png", 400, "The file is empty.", {}),
    "50 MB upload": (
        lambda: b"\xff\xd8\xff" + b"\0" * FIFTY_MB,
        "huge.jpg",
        413,
        "The file is larger than %(size)s MB. Please upload a smaller image.",
        {"size": 10},
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize("lang", ["fr", "de"])
def test_bad_uploads_are_refused_in_the_editor_s_language_and_nothing_is_stored(
    app, in_app, translated, case, lang
):
    make_data, filename, status, message, variables = REFUSALS[case]
    in_app(make_user, f"editor-{lang}@example.org", "editor", language=lang)
    client = app.test_client()
    assert log_in(client, f"editor-{lang}@example.org").status_code == 302
    expected = translated(lang, message, **variables)
    assert expected != message % variables  # the catalog has it

    page = upload_form(client, make_data(), filename)
    assert page.status_code == status
    assert expected in page_text(page)
    assert "<form" in page.get_data(as_text=True)  # the library page again, not a bare error

    answer = upload_json(client, make_data(), filename)
    assert answer.status_code == status
    assert answer.get_json() == {"error": expected}

    assert in_app(stored_images) == []


def test_an_upload_without_a_file_asks_for_one(editor_client, in_app):
    token = csrf_token(editor_client, "/admin/media")
    response = editor_client.post(
        "/admin/media", data={"csrf_token": token}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "Please choose an image to upload." in page_text(response)
    assert in_app(stored_images) == []


def test_an_upload_without_the_csrf_token_is_refused(editor_client, in_app):
    response = editor_client.post(
        "/admin/media",
        data={"file": (io.BytesIO(sample_images.png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert in_app(stored_images) == []


def test_the_size_limit_is_configurable(app, editor_client, in_app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 1024 * 1024)
    photo = sample_images.photo_with_gps(2400, 1600)
    assert len(photo) > 1024 * 1024
    response = upload_json(editor_client, photo, "photo.jpg")
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "The file is larger than 1 MB. Please upload a smaller image."
    }
    assert in_app(stored_images) == []


def test_logged_out_visitors_cannot_upload(client, in_app):
    response = client.post(
        "/admin/media",
        data={"file": (io.BytesIO(sample_images.png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 401)
    assert in_app(stored_images) == []


# Serving


def test_images_are_served_publicly_with_long_cache_nosniff_and_etag(app, editor_client, in_app):
    answer = upload_json(editor_client, sample_images.png(), "logo.png").get_json()
    [image] = in_app(stored_images)
    public = app.test_client()  # a mail client: no cookie
    path = f"/media/{answer['id']}/logo.png"

    response = public.get(path)

    assert response.status_code == 200
    assert response.data == image["data"]
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(image["data"]).hexdigest()
    again = public.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert public.get(f"/media/{answer['id']}/other.png").status_code == 404
    assert public.get(f"/media/{answer['id'] + 1}/logo.png").status_code == 404
    assert public.get("/media/99999999999999999999/logo.png").status_code == 404


# The admin page and the composer's JSON


def test_the_library_page_lists_images_with_size_and_alt_text_per_language(editor_client):
    upload_form(editor_client, sample_images.png(), "first.png", alt_es="Primera")
    upload_form(editor_client, sample_images.gif(), "second.gif")

    page = page_text(editor_client.get("/admin/media"))

    assert 'href="/admin/media"' in page  # the navigation names the library
    assert page.index("second.gif") < page.index("first.png")  # newest first
    assert "640 × 480 pixels" in page
    assert 'value="Primera"' in page
    assert 'src="/media/' in page


def test_alt_text_is_edited_per_language_and_checked(editor_client, in_app):
    item = upload_json(editor_client, sample_images.png(), "a.png").get_json()
    prefix = f"media-{item['id']}-"
    token = csrf_token(editor_client, "/admin/media")

    saved = editor_client.post(
        f"/admin/media/{item['id']}/alt",
        data={
            f"{prefix}csrf_token": token,
            f"{prefix}alt_en": "  Members at the assembly ",
            f"{prefix}alt_fr": "Les membres à l’assemblée",
            f"{prefix}alt_xx": "ignored",
        },
    )
    assert saved.status_code == 302
    assert in_app(stored_images)[0]["alt"] == {
        "en": "Members at the assembly",
        "fr": "Les membres à l’assemblée",
    }

    too_long = editor_client.post(
        f"/admin/media/{item['id']}/alt",
        data={f"{prefix}csrf_token": token, f"{prefix}alt_en": "x" * 301},
    )
    assert too_long.status_code == 400
    assert "An alt text may have at most 300 characters." in page_text(too_long)
    assert in_app(stored_images)[0]["alt"]["en"] == "Members at the assembly"


def test_deleting_an_image_removes_it_and_its_address(app, editor_client, in_app):
    item = upload_json(editor_client, sample_images.png(), "a.png").get_json()
    page = page_text(editor_client.get("/admin/media"))
    assert "Delete “a.png”? Issues that show it will show a broken image." in page
    token = csrf_token(editor_client, "/admin/media")

    response = editor_client.post(f"/admin/media/{item['id']}/delete", data={"csrf_token": token})

    assert response.status_code == 302
    assert in_app(stored_images) == []
    assert app.test_client().get(f"/media/{item['id']}/a.png").status_code == 404
    assert editor_client.post("/admin/media/12345/delete", data={}).status_code in (400, 404)


def test_the_composer_lists_the_library_newest_first_and_knows_its_endpoints(editor_client):
    first = upload_json(editor_client, sample_images.png(), "a.png", alt_de="Ein Bild").get_json()
    second = upload_json(editor_client, sample_images.gif(), "b.gif").get_json()

    listing = editor_client.get("/admin/media.json")
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert [item["id"] for item in items] == [second["id"], first["id"]]
    assert items[1]["alt"] == {"de": "Ein Bild"}
    assert items[1]["url"] == first["url"]

    composer = editor_client.get("/admin/issues/new").get_data(as_text=True)
    assert 'data-media-upload-url="/admin/media"' in composer
    assert 'data-media-list-url="/admin/media.json"' in composer


# The API

V1 = "/api/v1"


@pytest.fixture
def api(client, in_app):
    return ApiClient(client, in_app(make_token, "write"))


@pytest.fixture
def reader(client, in_app):
    return ApiClient(client, in_app(make_token, "read"))


def api_upload(api, data: bytes, filename: str, **kwargs):
    return api.post(
        "/media",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        **kwargs,
    )


def test_the_api_uploads_lists_reads_describes_and_deletes_images(api, reader, in_app):
    created = api_upload(api, sample_images.photo_with_gps(1600, 1200), "Rally.jpg")
    assert created.status_code == 201
    item = created.get_json()
    assert item["filename"] == "rally.jpg"
    assert (item["width"], item["height"]) == (1200, 1600)  # turned upright, 1200 wide already
    assert item["url"] == f"http://newsletter.test/media/{item['id']}/rally.jpg"
    assert metadata_of(in_app(stored_images)[0]["data"])["exif"] == {}
    assert in_app(stored_images)[0]["created_by_id"] is None  # a token, not a person

    second = api_upload(api, sample_images.png(), "b.png").get_json()
    page = reader.get("/media?limit=1").get_json()
    assert [entry["id"] for entry in page["items"]] == [item["id"]]
    assert page["next_cursor"] == item["id"]
    rest = reader.get(f"/media?cursor={page['next_cursor']}").get_json()
    assert [entry["id"] for entry in rest["items"]] == [second["id"]]
    assert rest["next_cursor"] is None

    assert reader.get(f"/media/{item['id']}").get_json() == item
    described = api.patch(f"/media/{item['id']}", json={"alt": {"es": "Mitin", "xx": "no"}})
    assert described.status_code == 200
    assert described.get_json()["alt"] == {"es": "Mitin"}

    assert reader.delete(f"/media/{item['id']}").status_code == 403
    assert api_upload(reader, sample_images.png(), "c.png").status_code == 403
    assert api.delete(f"/media/{item['id']}").status_code == 204
    assert reader.get(f"/media/{item['id']}").status_code == 404
    assert [row["id"] for row in in_app(stored_images)] == [second["id"]]


def test_the_api_refuses_bad_uploads_with_a_code_and_a_message_in_the_caller_s_language(
    api, in_app, translated
):
    german = {"Accept-Language": "de"}
    message = "This file is not an image we accept. Please upload a JPEG, PNG, GIF or WebP image."

    refused = api_upload(api, sample_images.renamed_executable(), "photo.jpg", headers=german)
    assert refused.status_code == 400
    assert refused.get_json()["code"] == "not_an_image"
    assert refused.get_json()["message"] == translated("de", message)

    bomb = api_upload(api, sample_images.decompression_bomb(), "bomb.png")
    assert (bomb.status_code, bomb.get_json()["code"]) == (400, "too_many_pixels")

    huge = api_upload(api, b"\0" * FIFTY_MB, "huge.png", headers=german)
    assert huge.status_code == 413
    assert huge.get_json()["message"] == translated(
        "de", "The file is larger than %(size)s MB. Please upload a smaller image.", size=10
    )

    missing = api.post("/media", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "file" in missing.get_json()["fields"]
    assert in_app(stored_images) == []


def test_the_media_endpoints_are_in_the_openapi_document(client):
    document = json.loads(client.get(f"{V1}/openapi.json").data)
    paths = document["paths"]
    assert set(paths[f"{V1}/media"]) >= {"get", "post"}
    assert set(paths[f"{V1}/media/{{media_id}}"]) >= {"get", "patch", "delete"}
    body = paths[f"{V1}/media"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
