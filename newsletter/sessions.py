"""Editors' sessions, kept on the server so each one can be ended: at logout, from the
account page, and all at once when an account is locked, its password changes or its
two-factor sign-in is reset.

The cookie holds a session key ``<secret>:<password fingerprint>``; the table stores only
a SHA-256 of the secret. A session ends when it is revoked, when it is older than the
session lifetime (whatever the cookie says), or when its user's password is no longer
the one it was opened with.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from .extensions import db
from .models import User, UserSession, utcnow

# Writing "last seen" on every request would turn each page view into a write.
TOUCH_INTERVAL = timedelta(minutes=1)
MAX_KEY_LENGTH = 200


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def password_fingerprint(user: User) -> str:
    """A trace of the password hash: a new password ends the sessions of the old one."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _lifetime() -> timedelta:
    return current_app.permanent_session_lifetime


def _is_open(row: UserSession, now: datetime) -> bool:
    return row.revoked_at is None and row.created_at + _lifetime() > now


def open_session(user: User, ip: str | None, user_agent: str) -> str:
    """Record a login of ``user`` and return the key for its cookie."""
    now = utcnow()
    db.session.execute(
        db.delete(UserSession).where(
            UserSession.user_id == user.id,
            (UserSession.revoked_at.is_not(None)) | (UserSession.created_at <= now - _lifetime()),
        )
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(secret),
            created_at=now,
            last_seen_at=now,
            ip=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:300],
        )
    )
    user.last_login_at = now
    return f"{secret}:{password_fingerprint(user)}"


def find_session(key: str | None) -> UserSession | None:
    """The open session with this key whose user may still log in, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    secret, _colon, fingerprint = key.partition(":")
    row = db.session.execute(
        db.select(UserSession).where(UserSession.token_hash == _hash(secret))
    ).scalar_one_or_none()
    if row is None or not _is_open(row, utcnow()):
        return None
    if not row.user.active or not hmac.compare_digest(fingerprint, password_fingerprint(row.user)):
        return None
    return row


def touch(row: UserSession) -> bool:
    """Note that the session is in use; True when that changed the row (commit it)."""
    now = utcnow()
    if now - row.last_seen_at < TOUCH_INTERVAL:
        return False
    row.last_seen_at = now
    return True


def revoke(row: UserSession) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_all(user: User, keep: UserSession | None = None) -> int:
    """End every open session of ``user`` (but ``keep``); returns how many ended."""
    query = db.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return db.session.execute(query.values(revoked_at=utcnow())).rowcount


def open_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still work, the most recently used first."""
    now = utcnow()
    rows = db.session.execute(
        db.select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.created_at > now - _lifetime(),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).scalars()
    return list(rows)


BROWSERS = [  # the first match wins: Edge and Opera also say Chrome, Chrome says Safari
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+).*Safari/")),
]
SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def describe_browser(user_agent: str) -> str:
    """A short name for a User-Agent, e.g. "Firefox 120 on Linux"."""
    browser = next(
        (f"{name} {m.group(1)}" for name, pattern in BROWSERS if (m := pattern.search(user_agent))),
        None,
    )
    system = next((label for token, label in SYSTEMS if token in user_agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")
