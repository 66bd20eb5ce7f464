"""MIME messages built with the standard library, ready for SMTP (CRLF, ≤ 998 octets)."""

import base64
import re
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import quote

from .render import RenderedEmail

# Spaces that hold two words together: French sets them before : ; ! ? and inside « ».
NO_BREAK_SPACES = "\u00a0\u202f\u2007"
BREAKING_SPACE_RUN = re.compile(f"[^\\S{NO_BREAK_SPACES}]+")


def one_line(text: str) -> str:
    """``text`` on one line: control characters and runs of other white space become one
    space; no-break spaces stay as they are."""
    printable = "".join(ch if ch.isprintable() or ch in NO_BREAK_SPACES else " " for ch in text)
    return BREAKING_SPACE_RUN.sub(" ", printable).strip(" ")


def clean_display_name(name: str | None) -> str:
    """A display name on one line: no CR, LF or other control characters."""
    if not name:
        return ""
    return one_line(name)[:100]


# Base64 of 39 bytes is 52 characters: with "=?utf-8?b?" and "?=", a 64-character word,
# under RFC 2047's 75, and a line of at most 78 after "Subject: " or a fold's space.
ENCODED_WORD_BYTES = 39


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words, each of whole characters and at most 64 long."""
    chunks = [b""]
    for char in text:
        data = char.encode("utf-8")
        if len(chunks[-1]) + len(data) > ENCODED_WORD_BYTES:
            chunks.append(b"")
        chunks[-1] += data
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=" for chunk in chunks]


def header_text(text: str) -> str:
    """A header's value ready for SMTP: as it is when ASCII, else folded encoded words."""
    if text.isascii():
        return text
    return "\r\n ".join(encoded_words(text))


# RFC 2231 continuations of at most 60 characters keep each header line under 78.
PARAMETER_SEGMENT = 60


def mime_parameter(name: str, value: str) -> str:
    """``name="value"`` for a header parameter, or RFC 2231's ``name*0*=utf-8''…``
    continuations (folded onto lines of their own) when the value is not short ASCII.

    ``value`` must hold no quote, backslash or control character (attachments.safe_filename).
    """
    if value.isascii() and len(value) <= PARAMETER_SEGMENT:
        return f'{name}="{value}"'
    encoded = "utf-8''" + quote(value, safe="")
    segments, rest = [], encoded
    while rest:
        cut = PARAMETER_SEGMENT
        if "%" in rest[cut - 2 : cut]:  # never split a %XX escape
            cut = rest.rindex("%", 0, cut)
        segments.append(rest[:cut])
        rest = rest[cut:]
    return ";\r\n ".join(f"{name}*{index}*={part}" for index, part in enumerate(segments))


def address_text(name: str, email: str) -> str:
    """``Name <email>`` ready for SMTP; a non-ASCII name is folded, the address on its own."""
    if not name or name.isascii():
        return formataddr((name, email))
    return f"{header_text(name)}\r\n <{email}>"


def decoded_header(message: EmailMessage, name: str) -> str:
    """A header as RFC 2047 reads it: the standard library's address parser would keep the
    folding space between two encoded words of one display name ("Asociac ión")."""
    raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), "")
    return str(make_header(decode_header("".join(raw.splitlines()))))


class FoldedHeader(str):
    """A header value already folded for SMTP, which ``EmailMessage`` writes as it is.

    The standard library's folder can make encoded words longer than 75 characters and
    split a display name so that it decodes with stray spaces.
    """

    def __new__(cls, name: str, value: str, folded: str) -> "FoldedHeader":
        header = super().__new__(cls, value)
        header.name = name
        header.folded = folded
        return header

    def fold(self, *, policy) -> str:
        lines = self.folded.split("\r\n")
        return f"{self.name}: {policy.linesep.join(lines)}{policy.linesep}"


def sender_domain(mail_from: str) -> str:
    """The domain of a From header or a bare address: our Message-IDs and List-Id use it."""
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def build_message(
    rendered: RenderedEmail,
    *,
    mail_from: str,
    to_email: str,
    to_name: str | None,
    language: str,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) in ``language``."""
    msg = EmailMessage()
    from_name, from_address = parseaddr(mail_from)
    for header, name, address in (
        ("From", clean_display_name(from_name), from_address),
        ("To", clean_display_name(to_name), to_email),
    ):
        plain = str(Address(display_name=name, addr_spec=address))
        msg[header] = FoldedHeader(header, plain, address_text(name, address))
    subject = clean_display_name(rendered.subject)
    msg["Subject"] = FoldedHeader("Subject", subject, header_text(subject))
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or make_msgid(domain=sender_domain(mail_from))
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Set last: set_content and add_alternative move Content-* headers into the parts.
    msg["Content-Language"] = language
    return msg
