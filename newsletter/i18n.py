"""Which language a page is shown in, and the names of the languages we speak."""

from flask import current_app, g, has_request_context, request
from flask_login import current_user

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
}

WORDING_VERSION = "2026-11"
"""Version of the consent wording shown on the subscribe form; recorded with each consent."""


def languages() -> list[str]:
    return current_app.config["LANGUAGES"]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def select_locale() -> str | None:
    """URL prefix, then ``?lang=``, then an editor's own choice, then Accept-Language,
    then the default.

    Outside a request (a Celery task) there is nothing to read: callers wrap their work
    in ``force_locale(subscriber.language)`` and the default applies otherwise.
    """
    if not has_request_context():
        return None
    supported = languages()
    prefixed = g.get("lang")
    if prefixed in supported:
        return prefixed
    asked = request.args.get("lang", "")
    if asked in supported:
        return asked
    if request.blueprint == "admin" and current_user.is_authenticated:
        return current_user.language if current_user.language in supported else None
    # In order of preference, by primary tag: "fr-CA, en;q=0.5" means French.
    for value, _quality in request.accept_languages:
        primary = value.split("-")[0].split("_")[0].lower()
        if primary in supported:
            return primary
    return current_app.config["DEFAULT_LANGUAGE"]
