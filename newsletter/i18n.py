"""Which language and time zone a page is shown in, the names of the languages we speak,
and numbers people read (file sizes) in their language."""

from datetime import UTC, datetime
from functools import cache

import pytz
from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_request_context, request
from flask_babel import format_decimal, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .organisation import current_organisation

WORDING_VERSION = "2026-11"
"""Version of the consent wording shown on the subscribe form; recorded with each consent."""


def languages() -> list[str]:
    """The languages of the interface, and of issues."""
    return current_app.config["LANGUAGES"]


def reader_languages() -> list[str]:
    """The languages a reader may name as their first or second: the interface's and
    those of ``READER_LANGUAGES`` (Catalan, say), which have no issue texts of their own."""
    return current_app.config["READER_LANGUAGES"]


def ui_language(*codes: str | None) -> str:
    """The first of ``codes`` the interface speaks, else the default: the language of the
    pages and mails of a reader of Catalan, then Spanish, is Spanish."""
    return next(
        (code for code in codes if code in languages()), current_app.config["DEFAULT_LANGUAGE"]
    )


@cache
def _locale(code: str) -> Locale | None:
    """Babel's data for a language code ("de", "pt-BR"), or None when it knows none."""
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None


def language_name(code: str) -> str:
    """A language's name in that language, from the locale data: "Español", "العربية";
    adding a language needs no list here. A code Babel doesn't know is shown as it is."""
    locale = _locale(code)
    name = locale.get_display_name(locale) if locale else None
    return name[:1].upper() + name[1:] if name else code


def text_direction(code: str) -> str:
    """Text direction of a language: rtl for Arabic, Hebrew, Persian and the like, else ltr."""
    locale = _locale(code)
    return "rtl" if locale and locale.character_order == "right-to-left" else "ltr"


def file_size(size: int) -> str:
    """A size for people, in the current locale: "840 KB", "1.2 MB" (decimal units)."""
    if size < 1000 * 1000:
        return _("%(size)s KB", size=format_decimal(max(1, round(size / 1000))))
    return _("%(size)s MB", size=format_decimal(round(size / 1000 / 1000, 1)))


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


OUT_OF_RANGE = _l("This date is out of range: in UTC it must fall between the years 1 and 9999.")

TIME_ZONES = pytz.common_timezones
"""The zones offered: IANA names ("Europe/Berlin"), which know their summer time."""


def select_timezone() -> str | None:
    """An editor's own zone, else the organisation's; UTC outside a request."""
    if not has_request_context():
        return None
    own = current_user.time_zone if current_user.is_authenticated else None
    if request.blueprint == "admin" and own in pytz.common_timezones_set:
        return own
    zone = current_organisation().time_zone
    return zone if zone in pytz.common_timezones_set else None


def _zone(name: str | None):
    return pytz.timezone(name) if name else get_timezone()


def local_to_utc(moment: datetime, zone: str | None = None) -> datetime:
    """A time typed in ``zone`` (else the page's zone), as stored: naive UTC. Raises
    OverflowError at the ends of the calendar."""
    return _zone(zone).localize(moment).astimezone(UTC).replace(tzinfo=None)


def utc_to_local(moment: datetime, zone: str | None = None) -> datetime:
    """A stored time (naive UTC) in ``zone`` (else the page's zone), naive, for a form field."""
    return moment.replace(tzinfo=UTC).astimezone(_zone(zone)).replace(tzinfo=None)
