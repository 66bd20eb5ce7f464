"""The publisher's identity: name, logo, colours and postal address, shown in every mail."""

import secrets
from pathlib import Path

from flask import current_app

from . import links  # a module: links needs i18n, which needs this module
from .extensions import db
from .models import Organisation

LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"GIF87a": ".gif",
    b"GIF89a": ".gif",
}
LOGO_MAX_BYTES = 512 * 1024


class LogoError(ValueError):
    """The uploaded file is not a logo we can use."""


def current_organisation() -> Organisation:
    """The saved settings, or unsaved defaults before an admin first saves them."""
    return db.session.get(Organisation, 1) or Organisation(
        id=1,
        name="",
        brand_color="#0b6e4f",
        text_color="#1f2933",
        background_color="#f4f5f7",
        postal_address={},
        require_two_factor=False,
        require_approval=False,
        time_zone="UTC",
    )


def languages_without_address(languages) -> list[str]:
    """The languages whose mail would go out with no postal address in its footer (many
    countries require one in every newsletter)."""
    org = current_organisation()
    default = current_app.config["DEFAULT_LANGUAGE"]
    return [code for code in languages if not org.address_lines(code, default)]


def uploads_folder() -> Path:
    return Path(current_app.instance_path) / "uploads"


def save_logo(data: bytes) -> str:
    """Store a PNG, JPEG or GIF under a random name; returns the name."""
    if len(data) > LOGO_MAX_BYTES:
        raise LogoError("too large")
    suffix = next((ext for magic, ext in LOGO_TYPES.items() if data.startswith(magic)), None)
    if suffix is None:
        raise LogoError("not an image")
    folder = uploads_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = "logo-" + secrets.token_hex(8) + suffix
    (folder / name).write_bytes(data)
    return name


def logo_url(org: Organisation) -> str | None:
    """The logo's absolute address, for mails read far from this site."""
    return links.external_url("public.media", name=org.logo) if org.logo else None
