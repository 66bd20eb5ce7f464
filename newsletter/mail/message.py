"""MIME messages built with the standard library, ready for SMTP (CRLF, ≤ 998 octets)."""

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from .render import RenderedEmail


def clean_display_name(name: str | None) -> str:
    """A display name on one line: no CR, LF or other control characters."""
    if not name:
        return ""
    printable = "".join(ch if ch.isprintable() else " " for ch in name)
    return " ".join(printable.split())[:100]


def sender_domain(mail_from: str) -> str:
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
    msg["From"] = Address(display_name=clean_display_name(from_name), addr_spec=from_address)
    msg["To"] = Address(display_name=clean_display_name(to_name), addr_spec=to_email)
    msg["Subject"] = clean_display_name(rendered.subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or make_msgid(domain=sender_domain(mail_from))
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Set last: set_content and add_alternative move Content-* headers into the parts.
    msg["Content-Language"] = language
    return msg
