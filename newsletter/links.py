"""Absolute links for mails, built from ``BASE_URL`` with or without a request."""

from urllib.parse import urlsplit

from flask import current_app

from . import i18n  # a module: i18n needs organisation, which needs this module


def external_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc or "localhost", script_name=base.path or "/")
    return f"{base.scheme}://{base.netloc}{adapter.build(endpoint, values)}"


def subscriber_links(subscriber, lang: str | None = None) -> dict[str, str]:
    """The personal links every mail carries in its footer (pages in ``lang``, if given)."""
    lang = lang or i18n.ui_language(subscriber.language, subscriber.second_language)
    return {
        "preferences_url": external_url("public.preferences", lang=lang, token=subscriber.token),
        "unsubscribe_url": external_url("public.unsubscribe", lang=lang, token=subscriber.token),
    }
