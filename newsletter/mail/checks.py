"""Checks before send: what in one variant's mail would be clipped, unreadable, unsafe or
unlawful, read from the HTML exactly as it is sent and from the fields the editor typed.

Findings warn; they never block sending (the composer already refuses a variant without a
subject or a body).
"""

import ipaddress
import re
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit

import markdown
import nh3
from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from lxml import html as lxml_html
from markupsafe import escape

from .. import events
from ..i18n import text_direction
from ..organisation import current_organisation, languages_without_address
from .markdown_dialect import MARKDOWN_EXTENSIONS, SANITIZED_SCHEMES, event_ids

GMAIL_CLIP_BYTES = 102 * 1024
"""Gmail hides everything after the first 102 KB of HTML behind "[Message clipped]",
the footer with the unsubscribe link included."""
SUBJECT_MAX = 150
MIN_CONTRAST = 4.5
"""WCAG 2.x AA for normal text."""

# The colours templates/email/layout.mjml paints beside the organisation's own.
PANEL = "#ffffff"
SMALL_PRINT = "#52606d"
BUTTON_TEXT = "#ffffff"

HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
COLOR = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})")
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "error" or "warning"
    message: str  # in the current locale, naming what to fix

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def check_variant(language: str, subject: str, preheader: str, body: str, html: str, layout=None):
    """Every finding for one variant: its fields, its sent ``html`` ("" when there is
    nothing to send yet) and the organisation's settings for its language, with the
    colours of ``layout`` where it sets them."""
    subject = " ".join(subject.split())
    if not subject and not body.strip():
        return []  # no variant in this language: nothing will be sent
    findings = field_findings(subject, preheader) + source_findings(body)
    if html:
        document = lxml_html.document_fromstring(html)
        findings += (
            size_findings(html)
            + image_findings(document, body)
            + link_findings(document)
            + document_findings(document, language)
        )
    findings += organisation_findings(language, layout)
    return findings


def field_findings(subject: str, preheader: str) -> list[Finding]:
    findings = []
    if not subject:
        findings.append(Finding("subject_missing", ERROR, _("Add a subject.")))
    elif len(subject) > SUBJECT_MAX:
        findings.append(
            Finding(
                "subject_too_long",
                WARNING,
                _(
                    "The subject has %(count)d characters: shorten it to %(max)d at most, "
                    "or mail apps will cut it off.",
                    count=len(subject),
                    max=SUBJECT_MAX,
                ),
            )
        )
    if not preheader.strip():
        findings.append(
            Finding(
                "preheader_missing",
                WARNING,
                _(
                    "Add a preheader: without one, mail apps show the first words of the "
                    "mail (“View in your browser”) beside the subject."
                ),
            )
        )
    return findings


def _editor_document(body: str):
    """The body's Markdown as HTML before sanitizing: what the editor meant to write."""
    source = markdown.markdown(body, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return lxml_html.fragment_fromstring(source, create_parent="div")


def source_findings(body: str) -> list[Finding]:
    """Links and images the sanitizer takes out of the mail (a link's text stays, the
    link is gone; the image is gone), and event blocks that show nothing."""
    findings = []
    document = _editor_document(body)
    for href in _unique(a.get("href") for a in document.iter("a")):
        if not href or _survives_sanitizing("a", "href", href):
            continue
        scheme = SCHEME.match(href)
        if scheme and scheme[1].lower() not in SANITIZED_SCHEMES:
            message = _(
                "The link “%(url)s” is not a web or mail address; it is removed from the "
                "mail. Use an https:// address.",
                url=href,
            )
            findings.append(Finding("unsafe_link", ERROR, message))
        else:
            findings.append(Finding("invalid_link", ERROR, _invalid_link_message(href)))
    for src in _unique(img.get("src") for img in document.iter("img")):
        if src and not _survives_sanitizing("img", "src", src):
            message = _(
                "The image “%(url)s” is not a valid web address; it is removed from the "
                "mail. Use an https:// address.",
                url=src,
            )
            findings.append(Finding("image_removed", ERROR, message))
    for event_id in sorted(set(event_ids(body))):
        if events.published_event(event_id) is None:
            message = _(
                "There is no published event %(id)d: its block “::event[%(id)d]” shows "
                "nothing in the mail. Publish the event or remove the block.",
                id=event_id,
            )
            findings.append(Finding("event_not_shown", ERROR, message))
    return findings


def _survives_sanitizing(tag: str, attribute: str, url: str) -> bool:
    markup = f'<{tag} {attribute}="{escape(url)}">x</{tag}>'
    return f"{attribute}=" in nh3.clean(markup, url_schemes=SANITIZED_SCHEMES)


def _invalid_link_message(href: str) -> str:
    return _(
        "The link “%(url)s” is not a valid address. Write it whole, like https://example.org/page.",
        url=href,
    )


def size_findings(html: str) -> list[Finding]:
    size = len(html.encode("utf-8"))
    if size <= GMAIL_CLIP_BYTES:
        return []
    message = _(
        "The mail’s HTML is %(size)d KB: Gmail cuts off mails over 102 KB, the unsubscribe "
        "link included. Shorten the text or split it into two issues.",
        size=round(size / 1024),
    )
    return [Finding("html_too_large", ERROR, message)]


def image_findings(document, body: str) -> list[Finding]:
    """Images need a text for readers who do not see them. An empty alt="" marks a
    decorative image, which our layout may use; the editor's own images must say what
    they show."""
    missing = [img.get("src") for img in document.iter("img") if img.get("alt") is None]
    missing += [
        img.get("src")
        for img in _editor_document(body).iter("img")
        if img.get("src") and not (img.get("alt") or "").strip()
    ]
    return [
        Finding(
            "image_alt_missing",
            WARNING,
            _(
                "Describe the image “%(src)s” in its alt text: what a reader who can’t "
                "see it should know.",
                src=src,
            ),
        )
        for src in _unique(missing)
        if src
    ]


def link_findings(document) -> list[Finding]:
    findings = []
    site = current_app.config["BASE_URL"].rstrip("/") + "/"
    for href in _unique(a.get("href") for a in document.iter("a")):
        if href is None or href.startswith("#"):
            continue
        if not _valid_url(href):
            findings.append(Finding("invalid_link", ERROR, _invalid_link_message(href)))
        elif href.lower().startswith("http://") and not href.startswith(site):
            # Our own links follow BASE_URL, which the operator sets, not the editor.
            message = _(
                "The link “%(url)s” uses http://: use https:// if the site offers it, or "
                "mail apps may warn readers.",
                url=href,
            )
            findings.append(Finding("insecure_link", WARNING, message))
    for src in _unique(img.get("src") for img in document.iter("img")):
        if src and src.lower().startswith("http://") and not src.startswith(site):
            message = _(
                "The image “%(url)s” uses http://: use https://, or mail apps may not show it.",
                url=src,
            )
            findings.append(Finding("insecure_image", WARNING, message))
    return findings


def _valid_url(href: str) -> bool:
    """An absolute http(s) address with a plausible host, or a mailto: with an address."""
    if any(ch.isspace() or ord(ch) < 32 for ch in href):
        return False
    try:
        parts = urlsplit(href)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        local, _at, domain = parts.path.partition("@")
        return bool(local) and _valid_host(domain)
    # Markdown percent-encodes a host like café.example; browsers decode it again.
    return scheme in ("http", "https") and _valid_host(unquote(parts.hostname or ""))


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return (
        len(labels) > 1
        and all(HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def document_findings(document, language: str) -> list[Finding]:
    findings = []
    direction = text_direction(language)
    if document.get("lang") != language or document.get("dir") != direction:
        message = _(
            'The mail’s <html> element needs lang="%(lang)s" dir="%(dir)s", so screen '
            "readers pronounce it and right-to-left text runs the right way.",
            lang=language,
            dir=direction,
        )
        findings.append(Finding("lang_dir_missing", WARNING, message))
    for table in document.iter("table"):
        # A table with header cells holds data; every other one only lays the mail out.
        if table.get("role") != "presentation" and next(table.iter("th"), None) is None:
            message = _(
                'A table has neither header cells nor role="presentation": screen readers '
                "will read it cell by cell, as data. Give a table of data a header row; a "
                'table that lays the mail out needs role="presentation" in the template.'
            )
            findings.append(Finding("layout_table_role", WARNING, message))
            break
    names = {
        (meta.get("name") or "").lower()
        for meta in document.iter("meta")
        if (meta.get("content") or "").strip()
    }
    if not {"color-scheme", "supported-color-schemes"} <= names:
        message = _(
            "The mail declares no colour scheme (the color-scheme and "
            "supported-color-schemes meta tags): add them to the template’s head so mail "
            "apps in dark mode know how to show it."
        )
        findings.append(Finding("color_scheme_missing", WARNING, message))
    return findings


def organisation_findings(language: str, layout=None) -> list[Finding]:
    findings = []
    if languages_without_address([language]):
        message = _(
            "There is no postal address for this language: add it in the settings (many "
            "countries require one in every newsletter)."
        )
        findings.append(Finding("postal_address_missing", ERROR, message))
    org = current_organisation()
    brand = (layout and layout.brand_color) or org.brand_color
    background = (layout and layout.background_color) or org.background_color
    pairs = [
        (_("the text colour on the white content area"), org.text_color, PANEL),
        (_("the small print on the background colour"), SMALL_PRINT, background),
        (_("the button text on the colour of buttons and links"), BUTTON_TEXT, brand),
        (_("the colour of links on the white content area"), brand, PANEL),
    ]
    for name, foreground, background in pairs:
        if not (COLOR.fullmatch(foreground.lower()) and COLOR.fullmatch(background.lower())):
            continue
        ratio = contrast(foreground, background)
        inverted = contrast(invert(foreground), invert(background))
        if min(ratio, inverted) < MIN_CONTRAST:
            message = _(
                "Too little contrast for %(pair)s: %(ratio)s:1, and %(inverted)s:1 "
                "when a mail app in dark mode inverts the colours (4.5:1 needed). Change "
                "the colours in the settings or in the issue's layout.",
                pair=name,
                ratio=format_decimal(ratio, format="0.0"),
                inverted=format_decimal(inverted, format="0.0"),
            )
            findings.append(Finding("low_contrast", WARNING, message))
    return findings


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))


def invert(color: str) -> str:
    """The colour a client that inverts the mail for dark mode shows: each channel's
    complement (what Gmail's and Outlook's apps do to a light mail, roughly)."""
    return "#" + "".join(f"{255 - channel:02x}" for channel in _rgb(color))


def luminance(color: str) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _rgb(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio, from 1 (none) to 21 (black on white)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _unique(values) -> list:
    return list(dict.fromkeys(values))
