"""Buttons and image blocks in the Markdown editors write: what arrives in the mail."""

import re

from campaign_helpers import make_audience, send_all, start
from lxml import html as lxml_html

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.mail.markdown_dialect import (
    ButtonBlock,
    ImageBlock,
    TextBlock,
    body_blocks,
    body_text,
)

BODY = """# Spring assembly

Please register by 8 May.

::button[Register](https://example.org/register?event=1&lang=en)

![Delegates in the hall](https://example.org/hall.jpg "Madrid, 8 March")

See you there.
"""


def test_a_body_is_laid_out_as_text_between_buttons_and_images():
    blocks = body_blocks(BODY)
    assert [block.kind for block in blocks] == ["text", "button", "image", "text"]
    assert "<h1>Spring assembly</h1>" in blocks[0].html
    assert blocks[1] == ButtonBlock("Register", "https://example.org/register?event=1&lang=en")
    assert blocks[2] == ImageBlock(
        "Delegates in the hall", "https://example.org/hall.jpg", "Madrid, 8 March"
    )
    assert blocks[3] == TextBlock("<p>See you there.</p>")


def test_only_a_paragraph_of_its_own_is_a_block():
    body = (
        "Text and ::button[inline](https://example.org/a) in a sentence.\n\n"
        "- ::button[In a list](https://example.org/b)\n\n"
        "> ::button[In a quote](https://example.org/c)\n\n"
        "```\n::button[In code](https://example.org/d)\n```\n\n"
        "Two images ![a](https://example.org/a.jpg) ![b](https://example.org/b.jpg)"
    )
    blocks = body_blocks(body)
    assert [block.kind for block in blocks] == ["text"]
    assert "::button[In code](https://example.org/d)" in blocks[0].html
    assert body_text(body) == body


def test_a_block_with_an_address_that_is_not_allowed_stays_text():
    for paragraph in (
        "::button[Run](javascript:alert(1))",
        "::button[Run](javascript:alert)",
        "::button[Data](data:text/html;base64,PHNjcmlwdD4=)",
        "::button[No host](https://)",
        "::button[](https://example.org/empty-label)",
        "![Tracker](ftp://example.org/a.gif)",
        "![Relative](/media/1/a.jpg)",
    ):
        blocks = body_blocks(paragraph)
        assert [block.kind for block in blocks] == ["text"], paragraph
        assert "javascript:" not in blocks[0].html and "data:" not in blocks[0].html
    assert body_blocks("::button[Write to us](mailto:office@example.org)") == [
        ButtonBlock("Write to us", "mailto:office@example.org")
    ]


def test_a_marker_typed_by_the_editor_is_only_text():
    """The markers that stand for blocks while the Markdown is converted can't be typed."""
    body = "<p>nlblock0000000000000000x0</p>\n\nnlblock0000000000000000x0\n\n::button[Go](https://example.org)"
    blocks = body_blocks(body)
    assert [block.kind for block in blocks] == ["text", "button"]
    assert blocks[0].html.count("nlblock0000000000000000x0") == 2


def test_the_text_part_spells_buttons_and_images_out(app):
    with app.test_request_context():
        assert body_text(BODY).splitlines()[4:7] == [
            "Register: https://example.org/register?event=1&lang=en",
            "",
            "[Delegates in the hall] Madrid, 8 March",
        ]


def _issue_with(list_id: int, body: str, language: str = "en") -> int:
    issue = campaigns.create_issue("Spring", language, {list_id})
    campaigns.set_variant(issue, language, "Spring assembly", body)
    db.session.commit()
    return issue.id


def _sent_mail(in_app, smtp, body: str, language: str = "en"):
    ids = in_app(lambda: make_audience(per_language=1)["lists"])
    issue_id = in_app(_issue_with, ids["newsletter"], body, language)
    in_app(start, issue_id)
    in_app(send_all, issue_id)
    message = next(
        item.message for item in smtp.settle() if f"{language}0@example.org" in item.recipients
    )
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    return lxml_html.document_fromstring(html), text


def test_a_delivered_mail_has_a_real_button_and_image(in_app, smtp):
    document, text = _sent_mail(in_app, smtp, BODY)
    button = document.xpath("//a[normalize-space()='Register']")
    assert len(button) == 1
    assert button[0].get("href") == "https://example.org/register?event=1&lang=en"
    # MJML draws a button as a table cell in the brand colour, not as a text link.
    assert button[0].xpath("ancestor::td[@bgcolor]")
    image = document.xpath("//img[@src='https://example.org/hall.jpg']")
    assert len(image) == 1 and image[0].get("alt") == "Delegates in the hall"
    assert document.xpath("//div[normalize-space()='Madrid, 8 March']")
    assert "::button" not in document.text_content()
    assert "Register: https://example.org/register?event=1&lang=en" in text
    assert "[Delegates in the hall] Madrid, 8 March" in text


def test_the_text_part_follows_the_variants_language(in_app, smtp):
    body = "Bonjour.\n\n::button[S’inscrire](https://example.org/fr/inscription)"
    _, text = _sent_mail(in_app, smtp, body, "fr")
    # French puts a no-break space before the colon.
    assert "S’inscrire\xa0: https://example.org/fr/inscription" in text


def test_hostile_labels_alt_texts_and_captions_are_only_text(in_app, smtp):
    body = (
        '::button[<script>alert(1)</script> "x" onclick=alert(1)](https://example.org/a?b="c")\n\n'
        '![<img src=x onerror=alert(1)>](https://example.org/i.jpg "<b>bold</b> onerror=alert(2)")'
    )
    document, _ = _sent_mail(in_app, smtp, body)
    assert not document.xpath("//script") and not document.xpath("//b")
    assert not [e for e in document.iter() if any(a.startswith("on") for a in e.attrib)]
    assert document.xpath("//a[contains(., '<script>alert(1)</script>')]")
    image = document.xpath("//img[@src='https://example.org/i.jpg']")[0]
    assert image.get("alt") == "<img src=x onerror=alert(1)>"
    assert re.search(r"&lt;b&gt;bold&lt;/b&gt;", lxml_html.tostring(document, encoding="unicode"))
