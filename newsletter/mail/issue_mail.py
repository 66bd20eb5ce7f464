"""An issue's mail: each language variant rendered once, then personalized per recipient.

MJML, premailer and MIME building run once per variant (tens of milliseconds); each
recipient then costs a few string substitutions and a quoted-printable encoding.
"""

import binascii
from dataclasses import dataclass
from email.utils import formatdate, parseaddr

import markdown
import nh3
from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup, escape

from ..layouts import layout_of
from ..models import Layout
from ..organisation import current_organisation
from .message import address_text, clean_display_name, header_text, sender_domain
from .render import mjml_to_html

NAME = "__NL_NAME__"
UNSUBSCRIBE = "__NL_UNSUBSCRIBE_URL__"
PREFERENCES = "__NL_PREFERENCES_URL__"
VIEW = "__NL_VIEW_URL__"
BOUNDARY = "=_newsletter_alternative_part"


SANITIZED_SCHEMES = {"http", "https", "mailto"}
"""The only link schemes a mail keeps; the sanitizer drops every other link."""


def markdown_to_html(body: str) -> str:
    """Editors write Markdown; whatever HTML it holds is sanitized (no scripts, no styles)."""
    html = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(html, url_schemes=SANITIZED_SCHEMES)


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


def prepare_variant(issue, variant, view_url: str, layout: Layout | None = None) -> PreparedVariant:
    """Render ``variant`` of ``issue`` once (MJML → HTML → inlined CSS, and text), in
    ``layout`` (else the issue's)."""
    body_html = Markup(markdown_to_html(variant.body))
    config = current_app.config
    rendered = {}
    look = layout_context(layout or layout_of(issue), variant.language)
    with force_locale(variant.language):
        for named in (True, False):
            context = {
                **look,
                "subject": variant.subject,
                "preheader": variant.preheader,
                "body_html": body_html,
                "body_text": variant.body,
                "name": NAME if named else None,
                "unsubscribe_url": UNSUBSCRIBE,
                "preferences_url": PREFERENCES,
                "view_url": view_url,
            }
            html = mjml_to_html(render_template("email/issue.mjml", **context))
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
    )


def personalize(prepared: PreparedVariant, recipient: Recipient, links: dict[str, str]) -> bytes:
    """The finished message for one recipient, as CRLF bytes for SMTP.

    ``links`` holds this recipient's ``unsubscribe_url`` and ``preferences_url``.
    """
    name = clean_display_name(recipient.name)
    text_values = {
        NAME: name,
        UNSUBSCRIBE: links["unsubscribe_url"],
        PREFERENCES: links["preferences_url"],
    }
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
        f'Content-Type: multipart/alternative; boundary="{BOUNDARY}"\r\n'
        "\r\n"
    )
    part = (
        '--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return b"".join(
        [
            headers.encode("ascii"),
            part.format(boundary=BOUNDARY, subtype="plain").encode("ascii"),
            prepared.bodies[named, "plain"].personalized(text_values),
            b"\r\n",
            part.format(boundary=BOUNDARY, subtype="html").encode("ascii"),
            prepared.bodies[named, "html"].personalized(html_values),
            f"\r\n--{BOUNDARY}--\r\n".encode("ascii"),
        ]
    )


def public_copy(prepared: PreparedVariant, site_url: str) -> str:
    """The issue's HTML for anyone: no name, and the personal links lead to the site."""
    html = prepared.html_anonymous
    for placeholder in (UNSUBSCRIBE, PREFERENCES):
        html = html.replace(placeholder, str(escape(site_url)))
    return html
