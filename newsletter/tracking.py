"""Click and open tracking: off unless the organisation (for new issues) or an editor (for
one issue) turns it on.

The links of a tracked issue lead through ``/<lang>/r/<token>/<position>``, which counts
the click and redirects to the link's address as the issue had it, and nowhere else: the
addresses are those recorded when the issue started sending (``record_links``), looked up
by position. Its HTML part may carry an image, ``/<lang>/o/<token>.gif``, that counts
opens (unreliable: many mail programs fetch images on arrival, others never). The token
is signed for one delivery. The text part is not tracked.

A hit never writes to the database in its request: with Redis it is one RPUSH onto a
list the workers store every ``TRACKING_INTERVAL`` seconds (``store_buffered``); without
Redis (the zero-setup default) it is stored at once.

Counting is honest. A hit is stored but not counted when
- its user agent is a known scanner, bot or link checker (``SCANNER_AGENTS``);
- it came less than ``SCANNER_SECONDS`` after the message was sent (security scanners
  open each message and follow its links as it arrives);
- it is a click of a delivery that had ``BURST_LINKS`` different links clicked within
  ``BURST_SECONDS``: a person doesn't open three links in two seconds, a scanner does,
  so the whole burst is left out.
"""

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import redis
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, case, delete, exists, func, select
from sqlalchemy.orm import aliased

from .bounces import COMPLAINT
from .extensions import db
from .links import external_url
from .mail.issue_mail import TRACK as PLACEHOLDER
from .mail.issue_mail import prepare_variant
from .models import (
    Consent,
    ConsentAction,
    Delivery,
    DeliveryState,
    Issue,
    IssueLink,
    TrackingEvent,
    TrackingKind,
    TrackingTotal,
    utcnow,
)

SCANNER_SECONDS = 10
BURST_LINKS = 3
BURST_SECONDS = 2
SCANNER_AGENTS = re.compile(
    r"bot\b|bot/|spider|crawl|slurp|preview|scanner|scan/|python|curl/|wget|go-http-client|"
    r"java/|okhttp|libwww|httpclient|headless|phantomjs|barracuda|mimecast|proofpoint|"
    r"symantec|trendmicro|forcepoint|safelinks|linkcheck|validator",
    re.IGNORECASE,
)
HREF = re.compile(r'href="(https?://[^"]+)"')
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
STORE_BATCH = 5000


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@cache
def _serializer_for(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="tracking")


def token(delivery_id: int, issue_id: int) -> str:
    return _serializer().dumps([delivery_id, issue_id])


def read_token(value: str) -> tuple[int, int] | None:
    """(delivery id, issue id) of a token we signed, else None."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        delivery_id, issue_id = _serializer().loads(value)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(delivery_id, int) or not isinstance(issue_id, int):
        return None
    return delivery_id, issue_id


# Rendering -------------------------------------------------------------------------------


def links_in(rendered_html: str) -> list[str]:
    """The addresses of a variant's HTML that are tracked, in order, each once: every web
    link except this site's own (unsubscribe, preferences, view, RSVP)."""
    own = current_app.config["BASE_URL"].rstrip("/") + "/"
    found: list[str] = []
    for escaped in HREF.findall(rendered_html):
        url = html.unescape(escaped)
        if "__NL_" in url or url.startswith(own) or url in found or len(url) > 2000:
            continue
        found.append(url)
    return found


@dataclass(frozen=True)
class VariantTracking:
    """What a variant's HTML gets when its issue is tracked."""

    language: str
    links: dict[str, int]  # address: position
    opens: bool

    def rewrite(self, rendered_html: str) -> str:
        def tracked(match: re.Match) -> str:
            position = self.links.get(html.unescape(match[1]))
            if position is None:
                return match[0]
            url = external_url(
                "public.track_click", lang=self.language, token=PLACEHOLDER, position=position
            )
            return f'href="{html.escape(url)}"'

        rewritten = HREF.sub(tracked, rendered_html) if self.links else rendered_html
        if self.opens:
            pixel = external_url("public.track_open", lang=self.language, token=PLACEHOLDER)
            image = (
                f'<img src="{html.escape(pixel)}" width="1" height="1" alt="" '
                'style="display:block;border:0;width:1px;height:1px">'
            )
            rewritten = rewritten.replace("</body>", f"{image}\n</body>", 1)
        return rewritten


def variant_tracking(issue: Issue, language: str) -> VariantTracking | None:
    if not (issue.track_clicks or issue.track_opens):
        return None
    links = {}
    if issue.track_clicks:
        links = {url: position for position, url in stored_links(issue.id, language).items()}
    return VariantTracking(language, links, issue.track_opens)


def record_links(issue: Issue) -> None:
    """Remember the tracked links of each variant's HTML, by position, as the issue starts
    sending (and as an automated issue resumes after an edit).

    Positions are only ever added: a mail sent before an edit keeps leading where it led.
    """
    if not issue.track_clicks:
        return
    for language in sorted(issue.sent_languages):
        known = stored_links(issue.id, language)
        recorded = set(known.values())
        position = max(known, default=-1) + 1
        rendered_html = prepare_variant(issue, issue.variant(language), "").html_anonymous
        for url in links_in(rendered_html):
            if known and url in recorded:
                continue
            recorded.add(url)
            db.session.add(
                IssueLink(issue_id=issue.id, language=language, position=position, url=url)
            )
            position += 1


def stored_links(issue_id: int, language: str) -> dict[int, str]:
    rows = db.session.execute(
        select(IssueLink.position, IssueLink.url).where(
            IssueLink.issue_id == issue_id, IssueLink.language == language
        )
    ).all()
    return dict(rows)


_link_cache: dict[tuple[str, int, str], dict[int, str]] = {}


def link_url(issue_id: int, language: str, position: int) -> str | None:
    """The address at ``position`` of a sent variant; read once per process (a recorded
    position never changes; one added since, by an edit, is read again)."""
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], issue_id, language)
    links = _link_cache.get(key)
    if links is None or position not in links:
        links = stored_links(issue_id, language)
        if links:
            if len(_link_cache) > 1000:
                _link_cache.clear()
            _link_cache[key] = links
    return links.get(position)


# Recording -------------------------------------------------------------------------------


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def buffer_key() -> str:
    return current_app.config["TRACKING_BUFFER"]


def record(kind: TrackingKind, delivery_id: int, position: int | None, user_agent: str) -> None:
    """Keep one hit: buffered in Redis when there is one, else stored at once."""
    item = {
        "k": kind.value,
        "d": delivery_id,
        "p": position,
        "a": (user_agent or "")[:200],
        "t": utcnow().isoformat(),
    }
    url = current_app.config["REDIS_URL"]
    if url:
        _redis(url).rpush(buffer_key(), json.dumps(item))
        return
    store([item])
    db.session.commit()


def store_buffered() -> int:
    """Move buffered hits into the database, a batch at a time; returns how many."""
    url = current_app.config["REDIS_URL"]
    if not url:
        return 0
    client = _redis(url)
    moved = 0
    while True:
        pipe = client.pipeline()  # MULTI: nobody else takes the same items
        pipe.lrange(buffer_key(), 0, STORE_BATCH - 1)
        pipe.ltrim(buffer_key(), STORE_BATCH, -1)
        raw, _trimmed = pipe.execute()
        if not raw:
            return moved
        store([json.loads(item) for item in raw])
        db.session.commit()
        moved += len(raw)


def store(items: list[dict]) -> None:
    """Write hits, each marked counted or not; a hit whose delivery is gone (the person
    was erased) is dropped."""
    ids = {item["d"] for item in items}
    sent = dict(
        db.session.execute(select(Delivery.id, Delivery.sent_at).where(Delivery.id.in_(ids))).all()
    )
    rows = []
    for item in items:
        if item["d"] not in sent:
            continue
        at = datetime.fromisoformat(item["t"])
        sent_at = sent[item["d"]]
        counted = not SCANNER_AGENTS.search(item["a"] or "") and not (
            sent_at is not None and at - sent_at < timedelta(seconds=SCANNER_SECONDS)
        )
        rows.append(
            TrackingEvent(
                delivery_id=item["d"],
                kind=TrackingKind(item["k"]),
                position=item["p"],
                at=at,
                counted=counted,
                user_agent=item["a"] or None,
            )
        )
    db.session.add_all(rows)
    db.session.flush()
    leave_out_bursts({row.delivery_id for row in rows if row.kind == TrackingKind.CLICK})


def leave_out_bursts(delivery_ids: set[int]) -> None:
    """Mark as not counted every click of a burst of ``BURST_LINKS`` different links of
    one delivery within ``BURST_SECONDS`` (the clicks of all ``delivery_ids`` in one read)."""
    if not delivery_ids:
        return
    clicks: dict[int, list[TrackingEvent]] = {}
    for click in db.session.execute(
        select(TrackingEvent)
        .where(TrackingEvent.delivery_id.in_(delivery_ids), TrackingEvent.kind == "click")
        .order_by(TrackingEvent.at, TrackingEvent.id)
    ).scalars():
        clicks.setdefault(click.delivery_id, []).append(click)
    window = timedelta(seconds=BURST_SECONDS)
    for ordered in clicks.values():
        for index, click in enumerate(ordered):
            burst = [other for other in ordered[index:] if other.at - click.at <= window]
            if len({other.position for other in burst}) >= BURST_LINKS:
                for other in burst:
                    other.counted = False


def fold_old(now: datetime | None = None) -> int:
    """Fold counted hits older than ``TRACKING_RETENTION_DAYS`` into per-issue totals and
    delete the per-person rows (all of them, counted or not); returns how many went."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["TRACKING_RETENTION_DAYS"])
    old = (
        select(
            Delivery.issue_id,
            Delivery.language,
            TrackingEvent.kind,
            TrackingEvent.position,
            func.count(),
            func.count(func.distinct(TrackingEvent.delivery_id)),
        )
        .join(Delivery, Delivery.id == TrackingEvent.delivery_id)
        .where(TrackingEvent.at < cutoff, TrackingEvent.counted)
        .group_by(Delivery.issue_id, Delivery.language, TrackingEvent.kind, TrackingEvent.position)
    )
    for issue_id, language, kind, position, total, people in db.session.execute(old).all():
        key = {"issue_id": issue_id, "language": language or "", "kind": kind}
        folded = db.session.execute(
            select(TrackingTotal)
            .filter_by(**key)
            .where(
                TrackingTotal.position.is_(None)
                if position is None
                else TrackingTotal.position == position
            )
        ).scalar_one_or_none()
        if folded is None:
            folded = TrackingTotal(**key, position=position, total=0, people=0)
            db.session.add(folded)
        # People folded in two runs may be the same person: the sum is an upper bound.
        folded.total += total
        folded.people += people
    gone = db.session.execute(delete(TrackingEvent).where(TrackingEvent.at < cutoff)).rowcount
    db.session.commit()
    return gone


# Reading ---------------------------------------------------------------------------------


@dataclass
class LanguageResults:
    delivered: int = 0
    opened: int = 0  # people: an open, or a click (a click needs an open)
    clicked: int = 0  # people
    clicks: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    complained: int = 0

    @property
    def click_rate(self) -> float:
        return self.clicked / self.delivered if self.delivered else 0.0


def results(issue: Issue) -> dict[str, LanguageResults]:
    """Per language of the readers: delivered, people who opened and clicked, clicks,
    bounces, and unsubscribes and complaints that came after this issue and before the
    next one to the same person."""
    table: dict[str, LanguageResults] = {}

    def row(language: str | None) -> LanguageResults:
        return table.setdefault(language or "", LanguageResults())

    states = db.session.execute(
        select(Delivery.language, Delivery.state, func.count())
        .where(Delivery.issue_id == issue.id)
        .group_by(Delivery.language, Delivery.state)
    ).all()
    for language, state, count in states:
        if state == DeliveryState.SENT:
            row(language).delivered += count
        elif state == DeliveryState.FAILED:
            row(language).bounced += count
    counted = (
        select(
            Delivery.language,
            func.count(func.distinct(TrackingEvent.delivery_id)),
            func.count(
                func.distinct(case((TrackingEvent.kind == "click", TrackingEvent.delivery_id)))
            ),
            func.count(case((TrackingEvent.kind == "click", 1))),
        )
        .join(Delivery, Delivery.id == TrackingEvent.delivery_id)
        .where(Delivery.issue_id == issue.id, TrackingEvent.counted)
        .group_by(Delivery.language)
    )
    for language, opened, clicked, clicks in db.session.execute(counted).all():
        row(language).opened += opened
        row(language).clicked += clicked
        row(language).clicks += clicks
    # Folded totals count people per link: the largest is the best estimate left.
    for total in _totals(issue.id):
        if total.kind == TrackingKind.CLICK:
            row(total.language).clicks += total.total
            row(total.language).clicked = max(row(total.language).clicked, total.people)
        row(total.language).opened = max(row(total.language).opened, total.people)
    for language, unsubscribed, complained in _leavings(issue.id):
        row(language).unsubscribed += unsubscribed
        row(language).complained += complained
    return dict(sorted(table.items()))


def _totals(issue_id: int) -> list[TrackingTotal]:
    return list(
        db.session.execute(
            select(TrackingTotal).where(TrackingTotal.issue_id == issue_id)
        ).scalars()
    )


def _leavings(issue_id: int) -> list[tuple[str | None, int, int]]:
    """Per language, the readers who unsubscribed, and who complained, after this issue
    reached them and before the next one did."""
    later = aliased(Delivery)
    complaint = Consent.source == COMPLAINT.source
    query = (
        select(
            Delivery.language,
            func.count(func.distinct(case((~complaint, Delivery.subscriber_id)))),
            func.count(func.distinct(case((complaint, Delivery.subscriber_id)))),
        )
        .join(
            Consent,
            and_(
                Consent.subscriber_id == Delivery.subscriber_id,
                Consent.action == ConsentAction.UNSUBSCRIBE,
                Consent.created_at >= Delivery.sent_at,
            ),
        )
        .where(
            Delivery.issue_id == issue_id,
            Delivery.state == DeliveryState.SENT,
            ~exists().where(
                later.subscriber_id == Delivery.subscriber_id,
                later.sent_at > Delivery.sent_at,
                later.sent_at <= Consent.created_at,
            ),
        )
        .group_by(Delivery.language)
    )
    return db.session.execute(query).all()


@dataclass
class LinkResults:
    position: int
    language: str
    url: str
    clicks: int
    people: int


def link_results(issue: Issue) -> list[LinkResults]:
    """Each tracked link with its counted clicks and the people who clicked it."""
    live = {
        (language, position): (clicks, people)
        for language, position, clicks, people in db.session.execute(
            select(
                Delivery.language,
                TrackingEvent.position,
                func.count(),
                func.count(func.distinct(TrackingEvent.delivery_id)),
            )
            .join(Delivery, Delivery.id == TrackingEvent.delivery_id)
            .where(
                Delivery.issue_id == issue.id,
                TrackingEvent.kind == "click",
                TrackingEvent.counted,
            )
            .group_by(Delivery.language, TrackingEvent.position)
        ).all()
    }
    for total in _totals(issue.id):
        if total.kind == TrackingKind.CLICK:
            clicks, people = live.get((total.language, total.position), (0, 0))
            live[total.language, total.position] = (clicks + total.total, people + total.people)
    links = db.session.execute(
        select(IssueLink)
        .where(IssueLink.issue_id == issue.id)
        .order_by(IssueLink.language, IssueLink.position)
    ).scalars()
    found = [
        LinkResults(
            link.position,
            link.language,
            link.url,
            *live.get((link.language, link.position), (0, 0)),
        )
        for link in links
    ]
    return sorted(found, key=lambda item: (-item.clicks, item.language, item.position))


def timeline(issue: Issue, hours: int = 48) -> list[tuple[datetime, int, int]]:
    """Counted opens and clicks per hour from the start of sending, for the chart."""
    if issue.started_at is None:
        return []
    start = issue.started_at.replace(minute=0, second=0, microsecond=0)
    buckets = [[start + timedelta(hours=index), 0, 0] for index in range(hours)]
    rows = db.session.execute(
        select(TrackingEvent.kind, TrackingEvent.at)
        .join(Delivery, Delivery.id == TrackingEvent.delivery_id)
        .where(Delivery.issue_id == issue.id, TrackingEvent.counted, TrackingEvent.at >= start)
    ).all()
    for kind, at in rows:
        index = int((at - start).total_seconds() // 3600)
        if 0 <= index < hours:
            buckets[index][1 if kind == TrackingKind.OPEN else 2] += 1
    last = max((index for index, bucket in enumerate(buckets) if bucket[1] or bucket[2]), default=0)
    return [tuple(bucket) for bucket in buckets[: max(last + 1, 12)]]
