"""Two-factor sign-in: a TOTP app (RFC 6238) plus one-time recovery codes.

A code's time step is remembered once used, so a code seen over someone's shoulder
can't be used again within its 30 seconds. Recovery codes are stored as SHA-256 hashes
(they are random, like API tokens) and each works once.
"""

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno
from markupsafe import Markup

from . import sessions
from .extensions import db
from .models import Organisation, RecoveryCode, User, utcnow

ISSUER = "Newsletter"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
RECOVERY_LENGTH = 10
MAX_CODE_LENGTH = 64
TOTP_CODE = re.compile(r"^[0-9]{6}$")
RECOVERY_CODE = re.compile(rf"^[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}$")


def normalize_code(code: str | None) -> str:
    """What was typed, without spaces or dashes and in lower case ("" if it's too long)."""
    code = code or ""
    if len(code) > MAX_CODE_LENGTH:
        return ""
    return re.sub(r"[\s-]", "", code).lower()


def looks_like_code(code: str | None) -> bool:
    """A six-digit TOTP code or a recovery code, by its shape alone."""
    code = normalize_code(code)
    return bool(TOTP_CODE.match(code) or RECOVERY_CODE.match(code))


def is_required() -> bool:
    """Whether the organisation makes two-factor sign-in mandatory for everyone."""
    org = db.session.get(Organisation, 1)
    return bool(org and org.require_two_factor)


def setup_required(user: User) -> bool:
    """The user must set up two-factor sign-in before doing anything else."""
    return not user.has_two_factor and is_required()


def pending_secret(user: User) -> str:
    """The secret being enrolled (made on first use and kept until confirmed)."""
    if user.has_two_factor:
        raise ValueError("two-factor sign-in is already on")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def provisioning_uri(user: User, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(pending_secret(user)).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_code_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code, drawn here (no script, no data: URI)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=5, border=2, title=None))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (now, or one either side for clock drift) whose code this is."""
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(user: User, step: int) -> bool:
    """Record ``step`` as used, unless it (or a later one) was used already."""
    result = db.session.execute(
        db.update(User)
        .where(
            User.id == user.id,
            User.totp_last_step.is_(None) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return result.rowcount == 1


def verify_totp(user: User, code: str, now: float | None = None) -> bool:
    """A current code of the user's secret, not used before; it is then used up."""
    code = normalize_code(code)
    if not user.totp_secret or not TOTP_CODE.match(code):
        return False
    step = _matching_step(user.totp_secret, code, time.time() if now is None else now)
    return step is not None and _claim_step(user, step)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def use_recovery_code(user: User, code: str) -> bool:
    """An unused recovery code of the user; it is then used up."""
    code = normalize_code(code)
    if not RECOVERY_CODE.match(code):
        return False
    result = db.session.execute(
        db.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def verify_second_factor(user: User, code: str) -> bool:
    """The code step of a login: a TOTP code or a recovery code."""
    if not user.has_two_factor:
        return False
    return verify_totp(user, code) or use_recovery_code(user, code)


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with fresh ones, returned once for display."""
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    half = RECOVERY_LENGTH // 2
    return [f"{code[:half]}-{code[half:]}" for code in codes]


def unused_recovery_codes(user: User) -> int:
    return db.session.execute(
        db.select(db.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def enable(user: User, code: str) -> list[str] | None:
    """Turn two-factor sign-in on once a code of the pending secret proves the app has it;
    returns the new recovery codes (None when the code is wrong)."""
    if user.has_two_factor or not verify_totp(user, code):
        return None
    user.totp_enabled_at = utcnow()
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Turn two-factor sign-in off and forget the secret and the recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def reset(user: User) -> None:
    """The lost-phone case: two-factor sign-in off and every session of the user ended."""
    disable(user)
    sessions.revoke_all(user)


def confirms_identity(user: User, answer: str) -> bool:
    """Before a change to two-factor sign-in: a current code, or else the password."""
    if looks_like_code(answer) and verify_second_factor(user, answer):
        return True
    return len(answer or "") <= 200 and user.check_password(answer or "")
