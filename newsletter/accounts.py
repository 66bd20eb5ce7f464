"""Editors' and admins' accounts, and the API tokens admins hand out."""

import functools
import hashlib
import secrets

from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from . import sessions
from .extensions import db
from .models import ApiToken, Role, TokenScope, User, utcnow
from .subscriptions import InvalidEmail, normalize_email

TOKEN_PREFIX = "nlt_"
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A request about an account that can't be honoured; the message says why."""


def create_user(
    email: str,
    password: str,
    role: Role = Role.EDITOR,
    name: str = "",
    language: str = "en",
    translation_languages: list[str] | None = None,
) -> User:
    try:
        email = normalize_email(email)
    except InvalidEmail as error:
        raise AccountError(_("Please enter a valid email address.")) from error
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            _("The password needs at least %(count)d characters.", count=MIN_PASSWORD_LENGTH)
        )
    if db.session.execute(db.select(User.id).where(User.email == email)).first():
        raise AccountError(_("An account with this address exists already."))
    user = User(
        email=email,
        name=name,
        role=role,
        language=language,
        translation_languages=checked_translation_languages(role, translation_languages),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Costs a hash either way."""
    user = db.session.execute(
        db.select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)  # as slow as a real check
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def update_user(
    user: User,
    *,
    name: str,
    role: Role,
    language: str,
    active: bool,
    password: str = "",
    translation_languages: list[str] | None = None,
) -> None:
    """Save an admin's changes to an account; a lock or a new password ends its sessions."""
    languages = checked_translation_languages(role, translation_languages)
    ends_sessions = (user.active and not active) or bool(password)
    user.name, user.role, user.language, user.active = name, role, language, active
    user.translation_languages = languages
    if password:
        user.set_password(password)
    if ends_sessions:
        sessions.revoke_all(user)


def set_translation_languages(user: User, languages: list[str]) -> None:
    """Give a translator the languages they write (at least one)."""
    user.translation_languages = checked_translation_languages(user.role, languages)


def checked_translation_languages(role: Role, languages: list[str] | None) -> list[str]:
    """The languages a translator writes, in the configured order; a translator needs one.
    Other roles write every language and keep none."""
    if role != Role.TRANSLATOR:
        return []
    configured = current_app.config["LANGUAGES"]
    unknown = set(languages or []) - set(configured)
    if unknown:
        raise AccountError(_("Unknown languages: %(codes)s.", codes=", ".join(sorted(unknown))))
    if not languages:
        raise AccountError(_("Give a translator one or more languages."))
    return [code for code in configured if code in languages]


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made on first use: hashing is too slow for import time."""
    return generate_password_hash(secrets.token_hex())


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    name: str, scope: TokenScope, created_by: User | None = None
) -> tuple[ApiToken, str]:
    """A new token and its secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name.strip()[:100],
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        secret_hash=_hash_secret(secret),
        scope=scope,
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def find_token(secret: str) -> ApiToken | None:
    """The unrevoked token with this secret, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.execute(
        db.select(ApiToken).where(ApiToken.secret_hash == _hash_secret(secret))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    return token


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
