"""The first page after logging in: subscribers and recent campaigns at a glance."""

from datetime import timedelta

from flask import render_template

from .. import bounces, statistics, tracking
from ..campaign_progress import LanguageProgress, progress_summaries
from ..models import Subscriber, utcnow
from . import bp


@bp.get("/")
def dashboard():
    recent = statistics.recent_campaigns()
    summaries = progress_summaries([issue.id for issue in recent])
    return render_template(
        "admin/dashboard.html",
        by_status=statistics.subscribers_by(Subscriber.status),
        by_language=statistics.subscribers_by(Subscriber.language),
        weeks=statistics.weekly_confirmations(),
        recent=[(issue, summaries.get(issue.id, LanguageProgress())) for issue in recent],
        unattributed=bounces.unattributed_since(utcnow() - timedelta(days=30)),
        compared=[(issue, tracking.results(issue)) for issue in recent if issue.track_clicks],
    )
