"""An issue's mail: each language variant rendered once, then personalized per recipient.

MJML, premailer and MIME building run once per variant (tens of milliseconds), and so
does the base64 of its attached files; each recipient then costs a few string
substitutions, a quoted-printable encoding and the concatenation of the prepared parts.
"""

import base64
import binascii
from dataclasses import dataclass
from email.utils import formatdate, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup, escape

from .. import invitations
from ..i18n import file_size
from ..layouts import layout_of
from ..links import external_url
from ..models import Layout
from ..organisation import current_organisation
from .markdown_dialect import EventBlock, body_blocks, body_text, markdown_to_html
from .message import (
    address_text,
    clean_display_name,
    header_text,
    mime_parameter,
    sender_domain,
)
from .render import mjml_to_html

NAME = "__NL_NAME__"
UNSUBSCRIBE = "__NL_UNSUBSCRIBE_URL__"
PREFERENCES = "__NL_PREFERENCES_URL__"
VIEW = "__NL_VIEW_URL__"
TRACK = "__NL_TRACK__"  # the delivery's tracking token (tracking.py)
BOUNDARY = "=_newsletter_alternative_part"
# "=_" never occurs in quoted-printable or base64 text, so no part can contain a boundary.
MIXED_BOUNDARY = "=_newsletter_mixed_part"


@dataclass(frozen=True)
class Recipient:
    email: str  # ASCII form, ready for SMTP
    name: str | None
    token: str
    message_id: str


def _quoted_printable(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class EncodedBody:
    """A body part already quoted-printable, except the few lines with placeholders.

    Quoted-printable works line by line, so only those lines need encoding per recipient.
    """

    chunks: tuple[bytes | str, ...]

    @classmethod
    def of(cls, text: str) -> "EncodedBody":
        chunks: list[bytes | str] = []
        plain: list[str] = []
        for line in text.replace("\r\n", "\n").split("\n"):
            if "__NL_" in line:
                if plain:
                    chunks.append(_quoted_printable("\n".join(plain)))
                    plain = []
                chunks.append(line)
            else:
                plain.append(line)
        if plain:
            chunks.append(_quoted_printable("\n".join(plain)))
        return cls(tuple(chunks))

    def personalized(self, values: dict[str, str]) -> bytes:
        parts = []
        for chunk in self.chunks:
            if isinstance(chunk, str):
                for placeholder, value in values.items():
                    chunk = chunk.replace(placeholder, value)
                chunk = _quoted_printable(chunk)
            parts.append(chunk)
        return b"\r\n".join(parts)


def attachment_part(filename: str, content_type: str, data: bytes) -> bytes:
    """One attached file as a MIME part of ``multipart/mixed``, from its boundary line on:
    base64 in lines of 76 characters with CRLF, the name encoded as RFC 2231 says."""
    headers = (
        f"--{MIXED_BOUNDARY}\r\n"
        f"Content-Type: {content_type};\r\n {mime_parameter('name', filename)}\r\n"
        f"Content-Disposition: attachment;\r\n {mime_parameter('filename', filename)}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return headers.encode("ascii") + base64.encodebytes(data).replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class Download:
    """A file a message offers as a link rather than attaching it."""

    filename: str
    size: str
    url: str


@dataclass(frozen=True)
class PreparedVariant:
    """One language of one issue, rendered, with placeholders for the personal parts."""

    language: str
    subject_header: str
    html_anonymous: str
    bodies: dict[tuple[bool, str], EncodedBody]  # (named?, "plain" or "html")
    sender: str
    from_header: str
    list_id: str
    unsubscribe_mailto: str
    # The attached files, each part ready (see attachment_part); empty when there are none.
    attachment_parts: bytes = b""
    # The events it invites to: each recipient's RSVP tokens fill their placeholders.
    event_ids: tuple[int, ...] = ()
    # For the public copy: each RSVP link with its placeholder, and the event page instead.
    public_links: tuple[tuple[str, str], ...] = ()
    # Its HTML leads through the click redirect and has the open image (tracking.py).
    tracked: bool = False


def layout_context(layout: Layout, language: str) -> dict:
    """What the mail templates show of a layout in one language: its colours (else the
    organisation's) and its header and footer blocks, as HTML and as text."""
    org = current_organisation()
    header = (layout.header or {}).get(language, "").strip()
    footer = (layout.footer or {}).get(language, "").strip()
    return {
        "brand_color": layout.brand_color or org.brand_color,
        "background_color": layout.background_color or org.background_color,
        "header_html": Markup(markdown_to_html(header)) if header else None,
        "footer_html": Markup(markdown_to_html(footer)) if footer else None,
        "header_text": header,
        "footer_text": footer,
    }


def _downloads(files) -> list[Download]:
    return [
        Download(
            attachment.filename,
            file_size(attachment.size),
            external_url(
                "public.hosted_file", token=attachment.token, filename=attachment.filename
            ),
        )
        for attachment in files
        if attachment.link_only
    ]


def prepare_variant(
    issue, variant, view_url: str, layout: Layout | None = None, *, files=None, tracking=None
) -> PreparedVariant:
    """Render ``variant`` of ``issue`` once (MJML → HTML → inlined CSS, and text), in
    ``layout`` (else the issue's), with its attachments encoded; ``files`` stands for the
    variant's own (an unsaved preview's). ``tracking`` (tracking.VariantTracking) rewrites
    the HTML's links and adds the open image, for a tracked issue's real deliveries."""
    files = variant.attachments if files is None else files
    blocks = body_blocks(variant.body)
    config = current_app.config
    rendered = {}
    look = layout_context(layout or layout_of(issue), variant.language)
    with force_locale(variant.language):
        downloads = _downloads(files)
        cards = invitations.event_cards(
            {block.event_id for block in blocks if isinstance(block, EventBlock)},
            variant.language,
        )
        for named in (True, False):
            context = {
                **look,
                "subject": variant.subject,
                "preheader": variant.preheader,
                "body_blocks": blocks,
                "body_text": body_text(
                    variant.body, {key: card.text() for key, card in cards.items()}
                ),
                "event_cards": cards,
                "answer_labels": invitations.answer_labels,
                "name": NAME if named else None,
                "unsubscribe_url": UNSUBSCRIBE,
                "preferences_url": PREFERENCES,
                "view_url": view_url,
                "downloads": downloads,
            }
            html = mjml_to_html(render_template("email/issue.mjml", **context))
            if tracking is not None:
                html = tracking.rewrite(html)
            text = render_template("email/issue.txt", **context).strip() + "\n"
            rendered[named] = (html, text)
    sender_name, sender = parseaddr(config["MAIL_FROM"])
    return PreparedVariant(
        language=variant.language,
        subject_header=header_text(variant.subject),
        html_anonymous=rendered[False][0],
        bodies={
            (named, subtype): EncodedBody.of(rendered[named][index])
            for named in (True, False)
            for index, subtype in enumerate(("html", "plain"))
        },
        sender=sender,
        from_header=address_text(clean_display_name(sender_name), sender),
        list_id=f"<issues.{sender_domain(sender)}>",
        unsubscribe_mailto=config.get("UNSUBSCRIBE_MAILTO") or sender,
        attachment_parts=b"".join(
            attachment_part(a.filename, a.content_type, a.data) for a in files if not a.link_only
        ),
        event_ids=tuple(cards),
        tracked=tracking is not None,
        public_links=tuple(
            (url, card.event_url) for card in cards.values() for url in card.rsvp_urls.values()
        ),
    )


def personalize(
    prepared: PreparedVariant,
    recipient: Recipient,
    links: dict[str, str],
    tokens: dict[str, str] | None = None,
) -> bytes:
    """The finished message for one recipient, as CRLF bytes for SMTP.

    ``links`` holds this recipient's ``unsubscribe_url`` and ``preferences_url``,
    ``tokens`` their RSVP and tracking tokens by placeholder (a test copy's RSVP links lead
    nowhere; a test copy is never tracked).
    """
    name = clean_display_name(recipient.name)
    text_values = {
        NAME: name,
        UNSUBSCRIBE: links["unsubscribe_url"],
        PREFERENCES: links["preferences_url"],
    }
    for event_id in prepared.event_ids:
        key = invitations.placeholder(event_id)
        text_values[key] = (tokens or {}).get(key, "test")
    if prepared.tracked:
        text_values[TRACK] = tokens[TRACK]
    html_values = {key: str(escape(value)) for key, value in text_values.items()}
    named = bool(name)
    unsubscribe = (
        f"<{links['unsubscribe_url']}>, "
        f"<mailto:{prepared.unsubscribe_mailto}?subject=unsubscribe%20{recipient.token}>"
    )
    headers = (
        f"From: {prepared.from_header}\r\n"
        f"To: {address_text(name, recipient.email)}\r\n"
        f"Subject: {prepared.subject_header}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: {recipient.message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Language: {prepared.language}\r\n"
        f"List-Id: {prepared.list_id}\r\n"
        f"List-Unsubscribe: {unsubscribe}\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )
    alternative = f'Content-Type: multipart/alternative; boundary="{BOUNDARY}"\r\n\r\n'
    if prepared.attachment_parts:
        headers += (
            f'Content-Type: multipart/mixed; boundary="{MIXED_BOUNDARY}"\r\n\r\n'
            f"--{MIXED_BOUNDARY}\r\n"
        )
    part = (
        '--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    message = [
        headers.encode("ascii"),
        alternative.encode("ascii"),
        part.format(boundary=BOUNDARY, subtype="plain").encode("ascii"),
        prepared.bodies[named, "plain"].personalized(text_values),
        b"\r\n",
        part.format(boundary=BOUNDARY, subtype="html").encode("ascii"),
        prepared.bodies[named, "html"].personalized(html_values),
        f"\r\n--{BOUNDARY}--\r\n".encode("ascii"),
    ]
    if prepared.attachment_parts:
        message += [prepared.attachment_parts, f"--{MIXED_BOUNDARY}--\r\n".encode("ascii")]
    return b"".join(message)


def public_copy(prepared: PreparedVariant, site_url: str) -> str:
    """The issue's HTML for anyone: no name, and the personal links lead to the site."""
    html = prepared.html_anonymous
    for rsvp_link, event_url in prepared.public_links:
        html = html.replace(str(escape(rsvp_link)), str(escape(event_url)))
    for placeholder in (UNSUBSCRIBE, PREFERENCES):
        html = html.replace(placeholder, str(escape(site_url)))
    return html
