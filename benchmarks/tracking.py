"""Clicks and opens under load: the click redirect and the open image under gunicorn,
beside a trivial Flask app that only redirects, under the same settings, in the same run.

Builds a scratch PostgreSQL database with the app's migrations, a tracked issue started
for ``--subscribers`` confirmed readers (their deliveries marked sent an hour ago), and
one token per delivery. Then it starts gunicorn (``--workers`` sync workers, as the README's
production command) for the app and for the trivial app in turn, and a load generator
(``--connections`` keep-alive connections over two processes) asks for random deliveries'
links for ``--seconds``; rounds alternate (trivial, clicks, opens, trivial, clicks, opens)
and the better round of each counts. Prints requests per second, median and p99 answer
times, the ratio to the trivial app, and checks the promise that a hit writes nothing to
the database in its request: no row before the workers' task runs, one per answered hit
after it.

    .venv/bin/python benchmarks/tracking.py [--seconds 10] [--workers 2] [--connections 8]

Needs PostgreSQL at postgresql://postgres@127.0.0.1:5432 and Redis at ``--redis``.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
from flask_migrate import upgrade
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import load, show, start_gunicorn, stop  # noqa: E402

from newsletter import campaigns, create_app, ledger, tracking  # noqa: E402
from newsletter.config import from_environment  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import (  # noqa: E402
    Delivery,
    DeliveryState,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    TrackingEvent,
    utcnow,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
BODY = (
    "# News\n\n[The report](https://example.org/report) and "
    "[the agenda](https://example.org/agenda).\n\n::button[Join](https://example.org/join)"
)
TRIVIAL = textwrap.dedent(
    """
    from flask import Flask, redirect

    app = Flask(__name__)


    @app.get("/<lang>/r/<token>/<int:position>")
    def click(lang, token, position):
        return redirect("https://example.org/join", 302)
    """
)


def seed(count: int) -> tuple[int, list[str]]:
    """A tracked issue sent to ``count`` readers; returns its id and a token per delivery."""
    news = MailingList(slug="news", names={"en": "News"}, public=True)
    db.session.add(news)
    db.session.flush()
    db.session.execute(
        Subscriber.__table__.insert(),
        [
            {
                "email": f"reader{n}@example.org",
                "language": "en",
                "status": SubscriberStatus.CONFIRMED.value,
                "token": uuid.uuid4().hex,
                "soft_bounces": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
            for n in range(count)
        ],
    )
    ids = db.session.execute(select(Subscriber.id)).scalars().all()
    db.session.execute(
        Subscription.__table__.insert(),
        [{"subscriber_id": sid, "list_id": news.id, "created_at": utcnow()} for sid in ids],
    )
    issue = campaigns.create_issue("Benchmark", "en", {news.id})
    issue.track_clicks = issue.track_opens = True
    campaigns.set_variant(issue, "en", "News", BODY)
    db.session.commit()
    campaigns.start_sending(issue)
    db.session.commit()
    while ledger.write_next_chunk(issue.id):
        db.session.commit()
    db.session.execute(
        update(Delivery)
        .where(Delivery.issue_id == issue.id)
        .values(state=DeliveryState.SENT, sent_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    deliveries = db.session.execute(
        select(Delivery.id).where(Delivery.issue_id == issue.id)
    ).scalars()
    return issue.id, [tracking.token(delivery_id, issue.id) for delivery_id in deliveries]


def get(paths: list[str]):
    """Requests for random ones of ``paths``."""
    return lambda _state, _n: ("GET", random.choice(paths), None, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    instance = Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    name = f"tracking_bench_{run}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    environment = {
        "DATABASE_URL": f"postgresql+psycopg://{POSTGRES.split('://', 1)[1]}/{name}",
        "REDIS_URL": args.redis,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": f"benchmark-{run}",
        "BASE_URL": "http://127.0.0.1",
        "CELERY_QUEUE": f"bench-tracking-{run}",
    }
    app = create_app(from_environment(environment))
    env = {**os.environ, **environment}
    (instance / "trivial.py").write_text(TRIVIAL)
    gunicorns = []
    try:
        with app.app_context():
            upgrade()
            issue_id, tokens = seed(args.subscribers)
            db.session.remove()
        clicks = [f"/en/r/{token}/{random.randrange(3)}" for token in tokens]
        opens = [f"/en/o/{token}.gif" for token in tokens]
        best: dict[str, dict] = {}
        app_process, app_port = start_gunicorn("newsletter:create_app()", args.workers, env, ROOT)
        gunicorns.append(app_process)
        trivial_process, trivial_port = start_gunicorn("trivial:app", args.workers, env, instance)
        gunicorns.append(trivial_process)
        load(app_port, get(clicks[:50]), 2, args.connections)  # warm up both
        load(trivial_port, get(clicks[:50]), 2, args.connections)
        with app.app_context():
            redis.Redis.from_url(args.redis).delete(app.config["TRACKING_BUFFER"])
        answered = 0
        for _round in range(2):
            for label, port, paths in (
                ("trivial redirect", trivial_port, clicks),
                ("click redirect", app_port, clicks),
                ("open image", app_port, opens),
            ):
                figures = load(port, get(paths), args.seconds, args.connections)
                if port == app_port:
                    answered += figures["count"]
                if label not in best or figures["rate"] > best[label]["rate"]:
                    best[label] = figures
        with app.app_context():
            before = db.session.execute(select(func.count(TrackingEvent.id))).scalar()
            stored = tracking.store_buffered()
            after = db.session.execute(select(func.count(TrackingEvent.id))).scalar()
            db.session.remove()
    finally:
        for process in gunicorns:
            stop(process)
        with app.app_context():
            redis.Redis.from_url(args.redis).delete(app.config["TRACKING_BUFFER"])
            db.engine.dispose()
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(instance, ignore_errors=True)

    print(
        f"Tracking under gunicorn: {args.workers} sync workers, {args.connections} keep-alive"
        f" connections from 2 load processes on this machine ({os.cpu_count()} CPUs),"
        f" {args.seconds:.0f} s a round, better of 2 rounds; PostgreSQL, Redis"
    )
    show("trivial Flask redirect", best["trivial redirect"])
    show("GET /<lang>/r/<token>/<n>", best["click redirect"], best["trivial redirect"])
    show("GET /<lang>/o/<token>.gif", best["open image"], best["trivial redirect"])
    print(
        f"  rows written by the requests themselves: {before} (promise: 0);"
        f" stored by the workers' task afterwards: {stored} of {answered} answered"
        f" ({after} rows): {'PASS' if before == 0 and after == answered else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
