"""The one email pipeline: Jinja → MJML → responsive HTML → inlined CSS, plus a text part."""

import logging
from dataclasses import dataclass

from flask import render_template
from mjml import mjml2html
from premailer import Premailer


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def mjml_to_html(mjml_source: str) -> str:
    """Compile MJML and inline its CSS without touching the network.

    Style blocks are kept so the media queries that make the layout responsive survive.
    ``fonts={}`` stops MJML from linking web fonts (Google Fonts by default).
    """
    html = mjml2html(mjml_source, disable_comments=True, fonts={})
    return Premailer(
        html,
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
        keep_style_tags=True,
        remove_classes=False,
        disable_validation=True,
    ).transform()


def render_email(name: str, subject: str, **context) -> RenderedEmail:
    """Render ``templates/email/<name>.mjml`` and ``<name>.txt`` in the current locale."""
    context["subject"] = subject
    html = mjml_to_html(render_template(f"email/{name}.mjml", **context))
    text = render_template(f"email/{name}.txt", **context)
    return RenderedEmail(subject=subject, html=html, text=text.strip() + "\n")
