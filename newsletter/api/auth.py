"""Bearer tokens for the JSON API: who is calling, what they may do, how often.

Read tokens may only read (GET); write tokens may do everything. Requests are counted
per token (per client IP while no valid token is given) against ``API_RATE_LIMIT``.
"""

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint as SmorestBlueprint

from .. import accounts, translators
from ..extensions import csrf, db, limiter
from ..hygiene import refuse_hostile_body
from ..models import ApiToken, TokenScope, User, utcnow
from .errors import ApiError, register_json_errors

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# A bulk upsert of 1,000 subscribers or a long issue exceeds the site's 64 KiB limit.
MAX_BODY = 1024 * 1024
# Recording every request would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def bearer_secret() -> str | None:
    """The secret of an ``Authorization: Bearer …`` header, if there is one."""
    scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def current_token() -> ApiToken | None:
    """The valid token of this request (looked up once per request)."""
    if "api_token" not in g:
        secret = bearer_secret()
        g.api_token = accounts.find_token(secret) if secret else None
    return g.api_token


def rate_limit_key() -> str:
    token = current_token()
    return f"api-token:{token.id}" if token else f"api-ip:{get_remote_address()}"


def require_token() -> None:
    """Refuse a request without a valid token, or a write with a read token."""
    if request.method == "OPTIONS":
        return
    token = current_token()
    if token is None:
        if bearer_secret() is None:
            raise ApiError(401, "token_required", _("A valid API token is required."))
        raise ApiError(401, "token_invalid", _("This API token is not valid or was revoked."))
    if request.method not in READ_METHODS and token.scope != TokenScope.WRITE:
        raise ApiError(403, "insufficient_scope", _("This token may only read."))
    if not translator_may_call():
        raise ApiError(
            403,
            "translator_forbidden",
            _("A translator's token reaches only the issues and the languages given to them."),
        )
    _record_use(token)


# What a token acting for a translator may call: reading issues, and, for the languages
# given to them, writing the text, its files, its XLIFF and its review state. Anything not
# named here answers 403, including operations added later.
TRANSLATOR_OPERATIONS = {
    "issues.list_issues",
    "issues.read",
    "issues.read_variant",
    "issues.preview",
    "layouts.list_layouts",
    "media.list_media",
    "media.read",
    "attachments.list_attachments",
    "translations.read_translations",
    "translations.source_changes",
    "translations.export_xliff",
}
TRANSLATOR_LANGUAGE_OPERATIONS = {
    "issues.put_variant",
    "attachments.add",
    "attachments.remove",
    "translations.import_xliff",
    "translations.ready_for_review",
    "translations.mark_up_to_date",
}


def token_user() -> User | None:
    """Whoever created the token acts through it (None once that account is deleted)."""
    token = current_token()
    return db.session.get(User, token.created_by_id) if token.created_by_id else None


def translator_may_call() -> bool:
    user = token_user()
    if user is None or not user.is_translator:
        return True
    if request.endpoint in TRANSLATOR_OPERATIONS:
        return True
    if request.endpoint in TRANSLATOR_LANGUAGE_OPERATIONS:
        return translators.may_write(user, (request.view_args or {}).get("language"))
    return False


def _record_use(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        db.session.commit()


_api_limit = limiter.shared_limit(
    lambda: current_app.config["API_RATE_LIMIT"], scope="api-v1", key_func=rate_limit_key
)


def protect(bp: Blueprint, max_body: Callable[[], int] = lambda: MAX_BODY) -> None:
    """Token auth and the per-token rate limit for every route of ``bp``; no CSRF (no cookies).

    Bodies may have up to ``max_body()`` bytes instead of the site's small limit.
    """

    csrf.exempt(bp)
    _api_limit(bp)

    def allow_larger_bodies() -> None:
        request.max_content_length = max_body()
        refuse_hostile_body()  # the site-wide check skipped bodies over the site's limit

    bp.before_request(allow_larger_bodies)
    bp.before_request(require_token)


def token_blueprint(
    name: str,
    description: str,
    url_prefix: str | None = None,
    max_body: Callable[[], int] = lambda: MAX_BODY,
) -> Blueprint:
    """A blueprint of the token API under ``/api/v1/<name>`` (or ``url_prefix``):
    authenticated, rate-limited, and answering every error as JSON."""
    bp = SmorestBlueprint(
        name, __name__, url_prefix=url_prefix or f"/api/v1/{name}", description=description
    )
    protect(bp, max_body)
    register_json_errors(bp)
    return bp
