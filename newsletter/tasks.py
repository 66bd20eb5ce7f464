"""Celery tasks: thin shells that reload rows by id and call the domain functions."""

import smtplib
import time

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import (
    automations,
    bounce_mailbox,
    campaigns,
    delivery,
    registrations,
    subscriptions,
    tracking,
    translators,
    webhooks,
)
from .extensions import db
from .imports import analysis, jobs, writing
from .logs import log
from .mail.transport import reply_code, send_message
from .models import (
    ConfirmationRequest,
    ImportJob,
    ImportStatus,
    Registration,
    Subscriber,
    SubscriberStatus,
)


@shared_task(bind=True, max_retries=8)
def send_confirmation(self, request_id: int) -> None:
    """Mail the link of one confirmation request, unless it was used, voided or blocked since.

    Temporary failures (4xx, connection trouble) are retried with exponential backoff;
    a permanent refusal (5xx) is logged and not retried.
    """
    request = db.session.get(ConfirmationRequest, request_id)
    if request is None or not subscriptions.may_confirm(request.subscriber):
        return
    send_or_retry(self, subscriptions.build_confirmation(request), f"Confirmation {request_id}")


@shared_task(bind=True, max_retries=8)
def send_goodbye(self, subscriber_id: int) -> None:
    """Mail the goodbye to someone who just unsubscribed, if they are still gone and an
    editor wrote one in their language; retried like the confirmation."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        return
    if subscriptions.is_suppressed(subscriber.email):
        return
    message = subscriptions.build_goodbye(subscriber)
    if message is not None:
        send_or_retry(self, message, f"Goodbye {subscriber_id}")


def send_or_retry(task, message, what: str) -> None:
    """Send one mail from ``task``: a temporary failure (4xx, connection trouble) is
    retried with exponential backoff, a permanent refusal (5xx) is logged and dropped."""
    try:
        send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        code = reply_code(error) if isinstance(error, smtplib.SMTPException) else None
        if code is not None and code >= 500:
            current_app.logger.warning("%s refused: %s", what, error)
            return
        raise task.retry(exc=error, countdown=min(600, 5 * 2**task.request.retries)) from error


@shared_task
def handle_subscription(
    email: str,
    name: str | None,
    language: str,
    list_ids: list[int],
    ip: str | None,
    user_agent: str | None,
    source: str,
    nonce: str,
    second_language: str | None = None,
) -> None:
    """Decide and record one subscribe request that the form or the API validated.

    ``nonce`` names the request: run again (acks late, after a crash), the task finds it
    recorded and queues at most the same confirmation again. Two requests for the same
    new address at once: the one that loses the unique email retries as a known address.
    """
    info = subscriptions.RequestInfo(ip, user_agent, source)
    for attempt in range(3):
        done = subscriptions.find_request(nonce)
        if done is not None:
            if done.mailed_at is not None:
                send_confirmation.delay(done.id)
            return
        try:
            request = subscriptions.subscribe(
                email, name, language, set(list_ids), info, nonce, second_language
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        if request is not None:
            send_confirmation.delay(request.id)
        return


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
    """Periodic: start scheduled issues that are due; resume issues whose workers died.

    An issue that can't start (its default text was removed, say) stays scheduled, and
    the others still start.
    """
    from .campaign_control import start_due  # it queues the delivery tasks of this module

    for issue_id in campaigns.due_scheduled_issues():
        try:
            start_due(issue_id)
        except campaigns.CampaignError as error:
            current_app.logger.warning("Scheduled issue %s did not start: %s", issue_id, error)
    for issue_id in campaigns.stalled_issues(current_app.config["DELIVERY_LEASE_SECONDS"]):
        dispatch_delivery(issue_id)
    send_automations()


@shared_task
def send_automations() -> None:
    """Deliver the automated issues with mail due (the watcher, and a confirmation that
    may be due a welcome at once, call it)."""
    for issue_id in automations.due_issues():
        deliver_issue.delay(issue_id)


@shared_task
def analyse_import(job_id: int) -> None:
    """Check an uploaded CSV file (the dry run) and write its report; the upload request
    only stored the file. Run again, it starts over; a job already checked is left alone."""
    job = db.session.get(ImportJob, job_id)
    if job is None:
        return
    try:
        analysis.analyse(job)
    except Exception:
        current_app.logger.exception("Analysis of import %s failed", job_id)
        jobs.mark_failed(job_id, "check_error", only_while=ImportStatus.ANALYSING)


@shared_task(bind=True)
def import_subscribers(self, job_id: int) -> None:
    """Import a CSV file the editor confirmed, a chunk per transaction (progress shows).

    Like ``deliver_issue``, it hands over to a fresh task after ``IMPORT_TASK_SECONDS`` so
    no task outlives the broker's visibility timeout; the job row says where to resume.
    """
    try:
        more = writing.run_import(job_id, current_app.config["IMPORT_TASK_SECONDS"])
    except Exception:
        current_app.logger.exception("Import %s failed", job_id)
        jobs.mark_failed(job_id)
        return
    if more:
        self.apply_async((job_id,))


@shared_task
def read_bounce_mailbox() -> None:
    """Periodic (with ``BOUNCE_IMAP_URL``): process the reports in the bounce folder."""
    mailbox = current_app.config["BOUNCE_IMAP"]
    if mailbox is None:
        return
    tally = bounce_mailbox.read_imap(mailbox, current_app.config["SOFT_BOUNCE_LIMIT"])
    log.info(
        "Bounce mailbox: %d messages read",
        tally.read,
        extra={"event": "bounce_mailbox", "read": tally.read, **dict(tally.actions)},
    )


@shared_task
def tell_translators() -> None:
    """Mail the translators of issues whose source changed (beat, every WATCH_INTERVAL)."""
    translators.tell_due_translators()


@shared_task(bind=True, max_retries=8)
def send_registration_mail(self, registration_id: int, kind: str) -> None:
    """Tell a registrant where they stand; retried like the confirmation mail."""
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        return
    message = registrations.build_mail(registration, registrations.Mail(kind))
    send_or_retry(self, message, f"Registration mail {registration_id}")


@shared_task
def send_webhooks() -> None:
    """Send the webhook deliveries that are due (beat, every WEBHOOK_INTERVAL)."""
    webhooks.send_due()


@shared_task
def store_tracking() -> None:
    """Store the buffered clicks and opens (beat, every TRACKING_INTERVAL)."""
    tracking.store_buffered()


@shared_task
def fold_tracking() -> None:
    """Fold clicks and opens past the retention into totals (beat, hourly)."""
    tracking.fold_old()
