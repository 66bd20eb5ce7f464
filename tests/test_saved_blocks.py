"""Saved blocks: snippets with text per language that the composer inserts into the
language being written."""

import re

import pytest
from factories import make_lists, make_user
from helpers import csrf_token, markdown_field
from playwright.sync_api import expect
from test_admin_browser import log_in

from newsletter.admin.blocks import all_blocks

LANGUAGES = ("en", "es", "fr", "de")


def block_data(token: str, name="About the network", **bodies) -> dict:
    data = {"csrf_token": token, "name": name}
    for code in LANGUAGES:
        data[f"body_{code}"] = bodies.get(code, "")
    return data


def save_block(client, name="About the network", **bodies) -> None:
    token = csrf_token(client, "/admin/blocks/new")
    response = client.post("/admin/blocks/new", data=block_data(token, name, **bodies))
    assert response.status_code == 302, response.get_data(as_text=True)


def block_rows() -> list[tuple[str, dict]]:
    return [(item.name, item.body) for item in all_blocks()]


def test_editors_save_blocks_per_language_and_the_composer_offers_them(editor_client, in_app):
    save_block(
        editor_client, en="We are a network of 40 parties.", es="Somos una red de 40 partidos."
    )
    assert in_app(block_rows) == [
        (
            "About the network",
            {"en": "We are a network of 40 parties.", "es": "Somos una red de 40 partidos."},
        )
    ]
    listing = editor_client.get("/admin/blocks").get_data(as_text=True)
    assert "About the network" in listing and "en, es" in listing
    assert editor_client.get("/admin/blocks.json").get_json()["items"][0]["body"]["es"] == (
        "Somos una red de 40 partidos."
    )

    composer = editor_client.get("/admin/issues/new").get_data(as_text=True)
    spanish = re.search(r'<select id="insert-block-es".*?</select>', composer, re.S)[0]
    assert "disabled" not in spanish
    french = re.search(r'<select id="insert-block-fr".*?</select>', composer, re.S)[0]
    assert "disabled" in french and "(not written in this language)" in french


@pytest.mark.parametrize(
    "name, bodies, message",
    [
        ("", {"en": "Text"}, "This field is required."),
        ("x" * 101, {"en": "Text"}, "Field cannot be longer than 100 characters."),
        ("Donate", {}, "Write the block in one language at least."),
        ("Donate", {"en": " \n "}, "Write the block in one language at least."),
        ("Donate", {"de": "x" * 5001}, "Field cannot be longer than 5000 characters."),
        ("about the NETWORK", {"en": "Text"}, "Another block already has this name."),
    ],
)
def test_bad_blocks_are_refused_and_change_nothing(editor_client, in_app, name, bodies, message):
    save_block(editor_client, en="We are a network.")
    before = in_app(block_rows)
    token = csrf_token(editor_client, "/admin/blocks/new")
    response = editor_client.post("/admin/blocks/new", data=block_data(token, name, **bodies))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert in_app(block_rows) == before


def test_a_block_cannot_break_out_of_the_composers_data(editor_client, in_app):
    hostile = '</script><script>alert(1)</script><img src=x onerror="alert(2)">'
    save_block(editor_client, name="Hostile", en=hostile)
    composer = editor_client.get("/admin/issues/new").get_data(as_text=True)
    data = re.search(
        r'<script type="application/json" id="saved-blocks">(.*?)</script>', composer, re.S
    )[1]
    assert "<" not in data and ">" not in data  # Jinja's tojson escapes them as \\u003c
    assert "alert(1)" in data


def test_deleting_a_block_leaves_issues_alone(editor_client, in_app):
    save_block(editor_client, en="Text")
    token = csrf_token(editor_client, "/admin/blocks")
    block_id = editor_client.get("/admin/blocks.json").get_json()["items"][0]["id"]
    assert (
        editor_client.post(
            f"/admin/blocks/{block_id}/delete", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert in_app(block_rows) == []


def test_the_composer_inserts_a_block_where_the_cursor_is(app, browser, live_server, in_app):
    in_app(make_user, "editor@example.org", "editor")
    in_app(make_lists)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    page = context.new_page()
    try:
        log_in(page, live_server)
        page.goto(live_server + "/admin/blocks/new")
        page.fill("#name", "Donate")
        page.fill("#body_es", "**Dona** a la red.")
        page.fill("#body_en", "**Donate** to the network.")
        page.click("#block-form button[type=submit]")
        expect(page.locator("table.data")).to_contain_text("Donate")

        page.goto(live_server + "/admin/issues/new")
        page.get_by_test_id("tab-es").click()
        body = markdown_field(page, "es")
        body.fill("Primero.\n\nÚltimo.")
        body.evaluate("area => area.setSelectionRange(8, 8)")  # after "Primero."
        page.get_by_test_id("insert-block-es").select_option(label="Donate")
        page.get_by_test_id("insert-block-button-es").click()
        expect(body).to_have_value("Primero.\n\n**Dona** a la red.\n\nÚltimo.")
        page.get_by_test_id("subject-es").fill("Asamblea")
        frame = page.frame_locator("#preview-phone")
        expect(frame.locator("strong", has_text="Dona")).to_be_visible()
    finally:
        context.close()
