"""Prometheus metrics.

Workers count what they finish (messages by outcome, time per batch) in their own
process; with ``WORKER_METRICS_PORT`` set, a worker serves them on that port, the counts of
all its pool processes summed (prometheus-client's multiprocess mode). What the ledger and
the subscriber table hold is read from the database when scraped, on the workers' port and
on the web's ``/metrics``.
"""

import os

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select

from .extensions import db
from .models import Delivery, DeliveryState, Issue, IssueStatus, Subscriber

MESSAGES = Counter(
    "newsletter_messages",
    "Ledger rows a worker finished, by outcome (sent, failed, retried, skipped).",
    ["outcome"],
)
BATCH_SECONDS = Histogram(
    "newsletter_batch_seconds",
    "Seconds to claim, send and record one batch of the ledger.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTCOMES = ("sent", "failed", "retried", "skipped")


def record_batch(outcome, seconds: float) -> None:
    """Count one batch's ``BatchOutcome`` (an empty claim is not a batch)."""
    if not outcome.claimed:
        return
    for name in OUTCOMES:
        if count := getattr(outcome, name):
            MESSAGES.labels(name).inc(count)
    BATCH_SECONDS.observe(seconds)


class DatabaseCollector:
    """Gauges read when scraped: the ledger of issues being sent, and subscribers."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        with self.app.app_context():
            ledger = dict(
                db.session.execute(
                    select(Delivery.state, func.count())
                    .join(Issue, Issue.id == Delivery.issue_id)
                    .where(Issue.status == IssueStatus.SENDING)
                    .group_by(Delivery.state)
                ).all()
            )
            subscribers = dict(
                db.session.execute(
                    select(Subscriber.status, func.count()).group_by(Subscriber.status)
                ).all()
            )
            db.session.remove()
        rows = GaugeMetricFamily(
            "newsletter_ledger_rows",
            "Ledger rows of the issues being sent, by state.",
            labels=["state"],
        )
        for state in DeliveryState:
            rows.add_metric([state.value], ledger.get(state, 0))
        yield rows
        yield GaugeMetricFamily(
            "newsletter_ledger_backlog",
            "Messages of the issues being sent that are not sent, failed or skipped yet.",
            value=ledger.get(DeliveryState.QUEUED, 0) + ledger.get(DeliveryState.SENDING, 0),
        )
        people = GaugeMetricFamily(
            "newsletter_subscribers", "Subscribers by status.", labels=["status"]
        )
        for status, count in sorted(subscribers.items()):
            people.add_metric([status.value], count)
        yield people


def web_registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(app))
    registry.register(ProcessCollector(registry=None))
    return registry


def worker_registry(app: Flask) -> CollectorRegistry:
    """The worker's counts (summed over its pool processes) and the database's gauges."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    registry.register(DatabaseCollector(app))
    return registry
