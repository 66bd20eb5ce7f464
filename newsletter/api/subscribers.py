"""``/api/v1/subscribers``: read, search, create, change, bulk-upsert and delete subscribers.

Subscribers created here are taken as having consented elsewhere (an import, a partner's
form); each change is recorded as a consent with source ``api``, like the public pages do.
"""

from flask import current_app, request
from flask_babel import gettext as _

from .. import subscriber_queries, subscriptions
from ..extensions import db
from ..models import (
    ConsentAction,
    MailingList,
    Subscriber,
    SubscriberStatus,
    utcnow,
)
from .auth import token_blueprint
from .errors import ApiError, invalid
from .pagination import cursor_page, get_or_404
from .schemas import (
    BulkResult,
    BulkSubscribers,
    DeleteArgs,
    SubscriberCreate,
    SubscriberFilter,
    SubscriberPage,
    SubscriberSchema,
    SubscriberUpdate,
)

bp = token_blueprint("subscribers", "Subscribers")
ID = "<int(max=2147483647):subscriber_id>"
BLOCKED = {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}


def _api_request_info() -> subscriptions.RequestInfo:
    return subscriptions.RequestInfo(request.remote_addr, request.user_agent.string, "api")


def check_lists(list_ids: list[int], field: str = "lists") -> set[int]:
    """The ids, if every one names an existing list; else a validation error."""
    wanted = set(list_ids)
    known = set(
        db.session.execute(db.select(MailingList.id).where(MailingList.id.in_(wanted))).scalars()
    )
    if known != wanted:
        missing = ", ".join(str(i) for i in sorted(wanted - known))
        raise invalid({field: [_("There is no list with id %(ids)s.", ids=missing)]})
    return wanted


def _confirm(subscriber: Subscriber) -> None:
    subscriptions.mark_confirmed(subscriber)
    subscriptions.record_consent(subscriber, ConsentAction.CONFIRM, _api_request_info())


def _set_status(subscriber: Subscriber, status: str) -> None:
    """Confirm or unsubscribe; never lift a bounce or a complaint from here.

    Nor confirm a pending subscriber: anyone may have typed that address into the public
    form, and only its owner, through the confirmation link, may say it was them.
    """
    wanted = SubscriberStatus(status)
    if wanted == subscriber.status:
        return
    if wanted == SubscriberStatus.UNSUBSCRIBED:
        subscriptions.unsubscribe(subscriber, _api_request_info())
        return
    if subscriber.status in BLOCKED:
        raise ApiError(
            409,
            "subscriber_blocked",
            _("This address bounced or complained; it can't be subscribed again from here."),
        )
    if subscriber.status == SubscriberStatus.PENDING:
        raise ApiError(
            409,
            "confirmation_required",
            _(
                "This subscriber has not confirmed yet; only the link in their confirmation"
                " mail can confirm them."
            ),
        )
    _confirm(subscriber)


def apply_changes(subscriber: Subscriber, data: dict) -> None:
    """Write the fields present in ``data`` (already validated) on ``subscriber``."""
    if "name" in data:
        subscriber.name = (data["name"] or "").strip() or None
    if "language" in data:
        subscriber.language = data["language"]
    if "lists" in data:
        subscriptions.set_lists(subscriber, check_lists(data["lists"]))
        subscriptions.record_consent(subscriber, ConsentAction.PREFERENCES, _api_request_info())
    if "status" in data:
        _set_status(subscriber, data["status"])


def _refuse_suppressed(email: str) -> None:
    if subscriptions.is_suppressed(email):
        raise ApiError(
            409,
            "address_suppressed",
            _("This address was erased or complained; only its owner can subscribe it again."),
        )


def create_subscriber(data: dict) -> Subscriber:
    """A new subscriber, confirmed unless ``data["status"]`` says ``unsubscribed``."""
    email = data["email"]
    if subscriptions.find_subscriber(email) is not None:
        raise ApiError(409, "email_taken", _("A subscriber with this address exists already."))
    _refuse_suppressed(email)
    subscriber = Subscriber(
        email=email,
        name=(data.get("name") or "").strip() or None,
        language=data.get("language") or current_app.config["DEFAULT_LANGUAGE"],
        status=SubscriberStatus.PENDING,
    )
    db.session.add(subscriber)
    subscriptions.set_lists(subscriber, check_lists(data.get("lists", [])))
    subscriptions.record_consent(subscriber, ConsentAction.SUBSCRIBE, _api_request_info())
    if data.get("status") == SubscriberStatus.UNSUBSCRIBED.value:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = utcnow()
    else:
        _confirm(subscriber)
    return subscriber


@bp.route("")
@bp.arguments(SubscriberFilter, location="query")
@bp.response(200, SubscriberPage)
def list_subscribers(args: dict) -> dict:
    """Subscribers by id, filtered; follow `next_cursor` for the next page."""
    filters = subscriber_queries.SubscriberFilter(
        email=args.get("email", ""),
        name=args.get("name", ""),
        status=SubscriberStatus(args["status"]) if args.get("status") else None,
        language=args.get("language", ""),
        list_id=args.get("list"),
    )
    query = filters.apply(db.select(Subscriber))
    return cursor_page(query, Subscriber.id, args["cursor"], args["limit"])


@bp.route("", methods=["POST"])
@bp.arguments(SubscriberCreate)
@bp.response(201, SubscriberSchema)
@bp.alt_response(409, response="CONFLICT")
def create(data: dict) -> Subscriber:
    """Add a subscriber (confirmed unless `status` says otherwise). No mail is sent."""
    subscriber = create_subscriber(data)
    db.session.commit()
    return subscriber


@bp.route(f"/{ID}")
@bp.response(200, SubscriberSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read(subscriber_id: int) -> Subscriber:
    """One subscriber."""
    return get_or_404(Subscriber, subscriber_id)


@bp.route(f"/{ID}", methods=["PATCH"])
@bp.arguments(SubscriberUpdate)
@bp.response(200, SubscriberSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update(data: dict, subscriber_id: int) -> Subscriber:
    """Change name, language, lists or status (`confirmed` or `unsubscribed`)."""
    subscriber = get_or_404(Subscriber, subscriber_id)
    apply_changes(subscriber, data)
    db.session.commit()
    return subscriber


@bp.route(f"/{ID}", methods=["DELETE"])
@bp.arguments(DeleteArgs, location="query")
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete(args: dict, subscriber_id: int) -> None:
    """Erase a subscriber and their records. With `suppress` (the default) a hash of the
    address is kept so that it is never imported again."""
    subscriber = get_or_404(Subscriber, subscriber_id)
    if args["suppress"]:
        subscriptions.erase(subscriber, reason="api")
    else:
        db.session.delete(subscriber)
    db.session.commit()


@bp.route("/bulk", methods=["POST"])
@bp.arguments(BulkSubscribers)
@bp.response(200, BulkResult)
def bulk_upsert(data: dict) -> dict:
    """Create or update up to 1,000 subscribers by address, in one transaction.

    Suppressed addresses are skipped and reported; an invalid item refuses the whole batch.
    """
    items, counts = [], {"created": 0, "updated": 0, "skipped": 0}
    seen: set[str] = set()
    for index, entry in enumerate(data["subscribers"]):
        check_lists(entry.get("lists", []), field=f"subscribers.{index}.lists")
        result, subscriber, code = _upsert(entry, seen)
        counts[result] += 1
        items.append(
            {
                "email": entry["email"],
                "id": subscriber.id if subscriber else None,
                "result": result,
                "code": code,
            }
        )
    db.session.commit()
    return {**counts, "items": items}


def _upsert(entry: dict, seen: set[str]) -> tuple[str, Subscriber | None, str | None]:
    email = entry["email"]
    if email in seen:
        return "skipped", None, "duplicate_in_batch"
    seen.add(email)
    subscriber = subscriptions.find_subscriber(email)
    if subscriber is None:
        if subscriptions.is_suppressed(email):
            return "skipped", None, "address_suppressed"
        subscriber = create_subscriber(entry)
        db.session.flush()
        return "created", subscriber, None
    if entry.get("status") == SubscriberStatus.CONFIRMED.value:
        if subscriber.status in BLOCKED:
            return "skipped", subscriber, "subscriber_blocked"
        if subscriber.status == SubscriberStatus.PENDING:
            return "skipped", subscriber, "confirmation_required"
    apply_changes(subscriber, {k: v for k, v in entry.items() if k != "email"})
    return "updated", subscriber, None
