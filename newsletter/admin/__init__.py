"""The editors' UI under ``/admin``: everything here needs a logged-in user."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import (  # noqa: E402, F401
    account,
    attachment_views,
    auth,
    autosave,
    blocks,
    campaign_views,
    composer,
    dashboard,
    events,
    imports,
    layouts,
    lists,
    media,
    presentation,
    settings,
    subscribers,
    system_mail_views,
    tokens,
    translations,
    users,
    versions,
    webhook_views,
    xliff_views,
)
