"""What the public pages show of the database, kept per process until it changes: the
public lists, and (through ``version``) the subscribe page rendered with the
organisation's settings (public/page_cache.py).

Every public page and every subscribe POST needs the lists, and a subscribe POST needs
nothing else from the database: with them in memory it checks out no connection at all.
A committed change of a list or of the settings (a flush that touched a ``MailingList``
or the ``Organisation``) moves a counter in this process and, with Redis, one that every
process shares (``PUBLIC_VERSION_KEY``). Each use reads the shared counter (one GET) and
reads the database again when it moved. Without Redis (the zero-setup default, one web
process) the local counter is enough.
"""

from functools import cache
from itertools import chain

import redis
from flask import current_app
from sqlalchemy import event, select

from .extensions import db
from .models import MailingList, Organisation

CHANGED = "public rows changed"  # a flag in the session's info until commit or rollback
_snapshots: dict[str, tuple[tuple, list[MailingList]]] = {}  # by database
_local_versions: dict[str, int] = {}


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1)


def _database() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def version() -> tuple | None:
    """Where the lists and settings stand: the local counter and the shared one (None when
    Redis can't be read: then nothing is cached)."""
    local = _local_versions.get(_database(), 0)
    url = current_app.config["REDIS_URL"]
    if not url:
        return (local, None)
    try:
        return (local, _redis(url).get(current_app.config["PUBLIC_VERSION_KEY"]))
    except redis.RedisError:
        return None


def public_lists() -> list[MailingList]:
    """The public lists by id, as copies outside any session (to read, never to change or
    to attach: a request's own session never holds them, so its commit can't expire them)."""
    stamp = version()
    found = _snapshots.get(_database())
    if stamp is not None and found is not None and found[0] == stamp:
        return list(found[1])
    rows = db.session.execute(
        select(MailingList).where(MailingList.public.is_(True)).order_by(MailingList.id)
    ).scalars()
    lists = [
        MailingList(
            id=row.id,
            slug=row.slug,
            names=dict(row.names),
            descriptions=dict(row.descriptions),
            public=row.public,
            created_at=row.created_at,
        )
        for row in rows
    ]
    if stamp is not None:
        _snapshots[_database()] = (stamp, lists)
    return list(lists)


def changed() -> None:
    """The lists or settings changed: every process reads them again."""
    database = _database()
    _snapshots.pop(database, None)
    _local_versions[database] = _local_versions.get(database, 0) + 1
    url = current_app.config["REDIS_URL"]
    if url:
        try:
            _redis(url).incr(current_app.config["PUBLIC_VERSION_KEY"])
        except redis.RedisError:
            current_app.logger.warning("A change of the lists could not be shared")


def _after_flush(session, _context) -> None:
    if any(
        isinstance(item, (MailingList, Organisation))
        for item in chain(session.new, session.dirty, session.deleted)
    ):
        session.info[CHANGED] = True


def _after_commit(session) -> None:
    if session.info.pop(CHANGED, False):
        changed()


def _after_rollback(session) -> None:
    session.info.pop(CHANGED, None)


def init_app(_app) -> None:
    """Watch the sessions for changes of lists and settings (once: every app shares ``db``)."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _after_commit),
        ("after_rollback", _after_rollback),
    ):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
