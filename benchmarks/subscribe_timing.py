"""Answer time of ``POST /api/v1/subscribe`` by kind of address: does timing tell them apart?

Builds a scratch database with the app's migrations (PostgreSQL by default, or SQLite),
adds a confirmed, a pending and a complained address, then posts the same JSON body for
each of them and for an unknown address through Flask's test client (in process, no HTTP
server: what is measured is the app's own work, rate limits and broker publish included),
n times each, interleaved so drift hits every kind alike. Prints the median per kind and
the spread between the medians. No worker runs: the queued tasks are dropped at the end.

    .venv/bin/python benchmarks/subscribe_timing.py [--n 25] [--database sqlite]

Needs Redis at ``--redis`` (default redis://127.0.0.1:6379/13) for the broker and the rate
limits, and PostgreSQL at postgresql://postgres@127.0.0.1:5432 unless ``--database sqlite``.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter import create_app  # noqa: E402
from newsletter.config import from_environment  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import (  # noqa: E402
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    email_hash,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
KINDS = ("confirmed", "pending", "complained", "unknown")


def seed() -> int:
    """One public list and one subscriber per known kind; returns the list's id."""
    news = MailingList(slug="news", names={"en": "News"}, public=True)
    db.session.add(news)
    db.session.flush()
    for kind, status in (
        ("confirmed", SubscriberStatus.CONFIRMED),
        ("pending", SubscriberStatus.PENDING),
        ("complained", SubscriberStatus.COMPLAINED),
    ):
        person = Subscriber(email=f"{kind}@example.org", language="en", status=status)
        person.subscriptions = [Subscription(list_id=news.id)]
        db.session.add(person)
    db.session.add(Suppression(email_hash=email_hash("complained@example.org"), reason="complaint"))
    db.session.commit()
    return news.id


def measure(client, list_id: int, n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_ in range(n + 3):  # the first three rounds warm up and are not counted
        for kind in KINDS:
            email = f"{kind}@example.org" if kind != "unknown" else f"new{round_}@example.org"
            body = {"email": email, "name": "Reader", "language": "en", "lists": [list_id]}
            start = time.perf_counter()
            response = client.post("/api/v1/subscribe", json=body)
            elapsed = time.perf_counter() - start
            assert response.status_code == 202, response.get_data(as_text=True)
            if round_ >= 3:
                times[kind].append(elapsed * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=25, help="requests per kind of address")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    instance = Path(tempfile.mkdtemp(prefix="subscribe-timing-"))
    name = f"subscribe_timing_{run}"
    if args.database == "postgresql":
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://{POSTGRES.split('://', 1)[1]}/{name}"
    else:
        url = f"sqlite:///{instance / 'bench.db'}"
    queue = f"bench-subscribe-{run}"
    settings = from_environment(
        {
            "DATABASE_URL": url,
            "REDIS_URL": args.redis,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "benchmark",
            "SUBSCRIBE_LIMIT_PER_IP": "100000/minute",
            "SUBSCRIBE_LIMIT_PER_ADDRESS": "100000/minute",
            "CELERY_QUEUE": queue,
        }
    )
    settings["RATELIMIT_KEY_PREFIX"] = f"bench-limits-{run}"
    app = create_app(settings)
    try:
        with app.app_context():
            upgrade()
            list_id = seed()
            db.session.remove()
        times = measure(app.test_client(), list_id, args.n)
    finally:
        with app.app_context():
            db.engine.dispose()
        client = redis.Redis.from_url(args.redis)
        client.delete(queue)
        for key in client.scan_iter(f"*bench-limits-{run}*"):
            client.delete(key)
        if args.database == "postgresql":
            with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(instance, ignore_errors=True)

    print(f"POST /api/v1/subscribe, Flask test client, {args.database}, n={args.n} per kind")
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind in KINDS:
        values = sorted(times[kind])
        print(
            f"  {kind:<11} median {medians[kind]:6.2f} ms"
            f"   (min {values[0]:.2f}, max {values[-1]:.2f})"
        )
    spread = max(medians.values()) - min(medians.values())
    print(f"  spread between medians: {spread:.2f} ms")


if __name__ == "__main__":
    main()
