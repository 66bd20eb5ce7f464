"""Celery tasks: thin shells that reload rows by id and call the domain functions."""

import smtplib
import time

from celery import shared_task
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from . import campaigns, delivery
from .extensions import db
from .links import external_url, subscriber_links
from .mail.message import build_message
from .mail.render import render_email
from .mail.transport import reply_code, send_message
from .models import Issue, IssueStatus, Subscriber
from .subscriptions import ascii_address, confirmation_token, may_receive_confirmation


def build_confirmation(subscriber: Subscriber):
    """The confirmation mail, in the subscriber's language."""
    with force_locale(subscriber.language):
        confirm_url = external_url(
            "public.confirm", lang=subscriber.language, token=confirmation_token(subscriber)
        )
        lists = [s.mailing_list.name_in(subscriber.language) for s in subscriber.subscriptions]
        rendered = render_email(
            "confirm",
            subject=_("Please confirm your subscription"),
            subscriber=subscriber,
            confirm_url=confirm_url,
            lists=lists,
            **subscriber_links(subscriber),
        )
    return build_message(
        rendered,
        mail_from=current_app.config["MAIL_FROM"],
        to_email=ascii_address(subscriber.email),
        to_name=subscriber.name,
        language=subscriber.language,
    )


@shared_task(bind=True, max_retries=8)
def send_confirmation(self, subscriber_id: int) -> None:
    """Mail the confirmation link, unless the subscriber is gone or may no longer get it.

    Temporary failures (4xx, connection trouble) are retried with exponential backoff;
    a permanent refusal (5xx) is logged and not retried.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or not may_receive_confirmation(subscriber):
        return
    try:
        send_message(build_confirmation(subscriber))
    except (smtplib.SMTPException, OSError) as error:
        code = reply_code(error) if isinstance(error, smtplib.SMTPException) else None
        if code is not None and code >= 500:
            current_app.logger.warning("Confirmation to %s refused: %s", subscriber_id, error)
            return
        raise self.retry(exc=error, countdown=min(600, 5 * 2**self.request.retries)) from error


def dispatch_delivery(issue_id: int) -> None:
    """Queue enough delivery tasks for the issue to keep several workers busy."""
    for _task in range(current_app.config["DELIVERY_TASKS"]):
        deliver_issue.delay(issue_id)


@shared_task(bind=True)
def deliver_issue(self, issue_id: int) -> None:
    """Send batches of the issue until it is done, paused or cancelled.

    The task stops after ``DELIVERY_TASK_SECONDS`` and queues its own continuation, so no
    task outlives the broker's visibility timeout. When every open row is waiting (a retry
    later, or another worker's lease), it comes back when the earliest one is due.
    """
    deadline = time.monotonic() + current_app.config["DELIVERY_TASK_SECONDS"]
    come_back = delivery.deliver_until(issue_id, deadline)
    if come_back is not None:
        self.apply_async((issue_id,), countdown=min(come_back, 60))


@shared_task
def watch_campaigns() -> None:
    """Periodic: start scheduled issues that are due; resume issues whose workers died."""
    for issue_id in campaigns.due_scheduled_issues():
        issue = db.session.get(Issue, issue_id, with_for_update=True)
        if issue.status == IssueStatus.SCHEDULED:
            campaigns.start_sending(issue)
            db.session.commit()
            dispatch_delivery(issue_id)
    for issue_id in campaigns.stalled_issues(current_app.config["DELIVERY_LEASE_SECONDS"]):
        dispatch_delivery(issue_id)


@shared_task(bind=True)
def import_subscribers(self, job_id: int) -> None:
    """Import a CSV file the editor confirmed, a chunk per transaction (progress shows).

    Like ``deliver_issue``, it hands over to a fresh task after ``IMPORT_TASK_SECONDS`` so
    no task outlives the broker's visibility timeout; the job row says where to resume.
    """
    from . import imports

    try:
        more = imports.run_import(job_id, current_app.config["IMPORT_TASK_SECONDS"])
    except Exception:
        current_app.logger.exception("Import %s failed", job_id)
        imports.mark_failed(job_id)
        return
    if more:
        self.apply_async((job_id,))
