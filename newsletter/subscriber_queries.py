"""Finding subscribers: filters, keyset pages, counts and export rows, for the editors'
list and the API alike."""

from dataclasses import dataclass

from flask import current_app

from . import subscriptions
from .extensions import db
from .models import Subscriber, SubscriberStatus, Subscription

PAGE_SIZE = 50
COUNT_CAP = 100_000
"""The list counts matches up to this many, so the count stays quick however many there are."""
MAX_QUERY_LENGTH = 100
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class SubscriberFilter:
    """Which subscribers to show. ``query`` matches the address or the name (the editors'
    search box); ``email`` and ``name`` match one of them (the API's filters)."""

    query: str = ""
    email: str = ""
    name: str = ""
    status: SubscriberStatus | None = None
    language: str = ""
    list_id: int | None = None

    @classmethod
    def from_args(cls, args) -> "SubscriberFilter":
        """The editors' list's search and filters; unknown values are ignored."""
        status = args.get("status", "")
        list_id = args.get("list", "")
        language = args.get("language", "")
        return cls(
            query=args.get("q", "").strip()[:MAX_QUERY_LENGTH],
            status=SubscriberStatus(status) if status in set(SubscriberStatus) else None,
            language=language if language in current_app.config["LANGUAGES"] else "",
            list_id=int(list_id) if list_id.isdigit() and len(list_id) < 10 else None,
        )

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments, for links that keep it."""
        args = {
            "q": self.query,
            "status": self.status.value if self.status else "",
            "language": self.language,
            "list": str(self.list_id) if self.list_id is not None else "",
        }
        return {name: value for name, value in args.items() if value}

    def apply(self, statement):
        """``statement`` narrowed to the matching subscribers."""
        if self.query:
            statement = statement.where(
                _folded_contains(Subscriber.email, self.query)
                | _folded_contains(Subscriber.name, self.query)
            )
        if self.email:
            # Addresses are stored lower-cased (normalize_email).
            statement = statement.where(
                Subscriber.email.contains(self.email.lower(), autoescape=True)
            )
        if self.name:
            statement = statement.where(_folded_contains(Subscriber.name, self.name))
        if self.status:
            statement = statement.where(Subscriber.status == self.status)
        if self.language:
            statement = statement.where(Subscriber.language == self.language)
        if self.list_id is not None:
            statement = statement.where(
                db.select(Subscription.subscriber_id)
                .where(
                    Subscription.subscriber_id == Subscriber.id,
                    Subscription.list_id == self.list_id,
                )
                .exists()
            )
        return statement


def _folded_contains(column, text: str):
    """``column`` contains ``text``, ignoring case and accents (``search_fold`` on both
    sides, in the database, so both are folded alike; indexed on PostgreSQL)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = "%" + escaped + "%"
    return db.func.search_fold(column).like(db.func.search_fold(pattern), escape="/")


@dataclass
class Page:
    subscribers: list[Subscriber]
    newer: int | None  # id to show the previous page from (``after``)
    older: int | None  # id to show the next page from (``before``)


def subscriber_page(
    filters: SubscriberFilter, before: int | None, after: int | None, size: int = PAGE_SIZE
) -> Page:
    """One page of matches, newest first, by keyset on the id (quick at any depth)."""
    statement = filters.apply(db.select(Subscriber))
    if after is not None:
        statement = statement.where(Subscriber.id > after).order_by(Subscriber.id.asc())
    else:
        if before is not None:
            statement = statement.where(Subscriber.id < before)
        statement = statement.order_by(Subscriber.id.desc())
    rows = list(db.session.execute(statement.limit(size + 1)).scalars())
    more = len(rows) > size
    rows = rows[:size]
    if after is not None:
        rows.reverse()
        newer, older = (rows[0].id if more else None), (rows[-1].id if rows else None)
    else:
        newer = rows[0].id if rows and before is not None else None
        older = rows[-1].id if more else None
    return Page(subscribers=rows, newer=newer, older=older)


def count_matching(filters: SubscriberFilter, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many subscribers match, counting at most ``cap`` (and whether there are more)."""
    capped = filters.apply(db.select(Subscriber.id)).limit(cap + 1).subquery()
    found = db.session.execute(db.select(db.func.count()).select_from(capped)).scalar_one()
    return min(found, cap), found > cap


def list_ids_of(subscriber_ids: list[int]) -> dict[int, list[int]]:
    """Each subscriber's list ids, in one query."""
    found: dict[int, list[int]] = {}
    if subscriber_ids:
        rows = db.session.execute(
            db.select(Subscription.subscriber_id, Subscription.list_id)
            .where(Subscription.subscriber_id.in_(subscriber_ids))
            .order_by(Subscription.list_id)
        )
        for subscriber_id, list_id in rows:
            found.setdefault(subscriber_id, []).append(list_id)
    return found


def export_rows(filters: SubscriberFilter, batch: int | None = None):
    """The matching subscribers as export rows, read in keyset batches (never all at once)."""
    batch = batch or EXPORT_BATCH
    slugs = {item.id: item.slug for item in subscriptions.all_lists()}
    columns = (
        Subscriber.id,
        Subscriber.email,
        Subscriber.name,
        Subscriber.language,
        Subscriber.second_language,
        Subscriber.status,
        Subscriber.created_at,
    )
    last = None
    while True:
        statement = filters.apply(db.select(*columns)).order_by(Subscriber.id.desc())
        if last is not None:
            statement = statement.where(Subscriber.id < last)
        rows = db.session.execute(statement.limit(batch)).all()
        if not rows:
            return
        lists = list_ids_of([row.id for row in rows])
        for row in rows:
            yield (
                row.email,
                row.name or "",
                row.language,
                row.second_language or "",
                row.status.value,
                "|".join(slugs[list_id] for list_id in lists.get(row.id, [])),
                row.created_at.isoformat(timespec="seconds") + "Z",
            )
        last = rows[-1].id
