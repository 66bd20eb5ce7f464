"""Starting, scheduling, pausing, resuming, cancelling and resending a campaign.

The editors' UI, the API, ``flask issues`` and the campaign watcher all change a
campaign's state here, in the same steps: lock the issue's row, let ``campaigns`` make
the change (or refuse it with a ``CampaignError``), commit, and only then queue delivery,
so a worker never looks for a ledger that is not committed yet. The lock makes two
requests that arrive together take turns: the second sees the first one's state.
"""

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from . import campaigns
from .extensions import db
from .logs import log
from .models import Issue, IssueStatus, utcnow
from .tasks import dispatch_delivery


def locked_issue(issue_id: int) -> Issue:
    """The issue, re-read under a row lock held until the transaction ends."""
    # populate_existing: a copy the caller loaded before the lock may be out of date.
    issue = db.session.get(Issue, issue_id, with_for_update=True, populate_existing=True)
    if issue is None:
        raise LookupError(f"There is no issue {issue_id}.")
    return issue


def _apply(issue: Issue, change, dispatch: bool = False):
    """Run ``change(issue)``, commit, then queue delivery if asked; a refusal rolls back
    and is raised again."""
    try:
        result = change(issue)
        db.session.commit()
    except campaigns.CampaignError:
        db.session.rollback()
        raise
    log.info(
        "Issue %s is %s",
        issue.id,
        issue.status.value,
        extra={"event": f"campaign_{issue.status.value}", "issue_id": issue.id},
    )
    if dispatch:
        dispatch_delivery(issue.id)
    return result


def _change(issue_id: int, change, dispatch: bool = False) -> Issue:
    issue = locked_issue(issue_id)
    _apply(issue, change, dispatch)
    return issue


def _start(issue: Issue) -> int:
    try:
        return _apply(issue, campaigns.start_sending, dispatch=True)
    except IntegrityError:  # a database without row locks let another start run first
        db.session.rollback()
        raise campaigns.refusal("start") from None


def send_now(issue_id: int) -> int:
    """Fix the audience in the ledger and start delivery; returns the number of rows."""
    return _start(locked_issue(issue_id))


def start_due(issue_id: int) -> bool:
    """Start a scheduled issue whose time has come; False when it is no longer due
    (started, cancelled or moved to a later time since it was found)."""
    issue = locked_issue(issue_id)
    if issue.status != IssueStatus.SCHEDULED or issue.scheduled_at > utcnow():
        db.session.rollback()
        return False
    _start(issue)
    return True


def schedule(issue_id: int, when: datetime) -> Issue:
    """Send at ``when`` (UTC); the campaign watcher starts it then."""
    return _change(issue_id, lambda issue: campaigns.schedule(issue, when))


def pause(issue_id: int) -> Issue:
    """Stop sending after the current batch."""
    return _change(issue_id, campaigns.pause)


def resume(issue_id: int) -> Issue:
    """Continue a paused issue."""
    return _change(issue_id, campaigns.resume, dispatch=True)


def cancel(issue_id: int) -> Issue:
    """Stop for good; nothing more is sent after the current batch."""
    return _change(issue_id, campaigns.cancel)


def resend_failed(issue_id: int) -> int:
    """Queue the failed deliveries again (only those); returns how many."""
    return _apply(locked_issue(issue_id), campaigns.resend_failed, dispatch=True)
