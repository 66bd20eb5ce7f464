"""``/api/v1/subscribers``: read, search, create, change, bulk-upsert and delete subscribers.

Subscribers created here are taken as having consented elsewhere (an import, a partner's
form); each change is recorded as a consent with source ``api``, like the public pages do.
"""

from flask import request
from flask_babel import gettext as _

from .. import subscriber_changes, subscriber_queries, subscriptions
from ..extensions import db
from ..models import MailingList, Subscriber, SubscriberStatus
from .auth import token_blueprint
from .errors import ApiError, handle_api_error, invalid
from .pagination import cursor_page
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


@bp.errorhandler(subscriber_changes.ChangeRefused)
def answer_refusal(error: subscriber_changes.ChangeRefused):
    """The rules refused the change: a 409 with the rule's code."""
    return handle_api_error(ApiError(409, error.code, str(error)))


def create_subscriber(data: dict) -> Subscriber:
    """A new subscriber, confirmed unless ``data["status"]`` says ``unsubscribed``."""
    return subscriber_changes.create_subscriber(
        data["email"],
        _api_request_info(),
        name=data.get("name"),
        language=data.get("language"),
        second_language=data.get("second_language"),
        list_ids=check_lists(data.get("lists", [])),
        status=SubscriberStatus(data.get("status") or SubscriberStatus.CONFIRMED),
    )


def change_subscriber(subscriber: Subscriber, data: dict) -> None:
    """Write the fields present in ``data`` (already validated) on ``subscriber``."""
    if "lists" in data:
        check_lists(data["lists"])
    subscriber_changes.change_subscriber(subscriber, data, _api_request_info())


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
    return db.get_or_404(Subscriber, subscriber_id)


@bp.route(f"/{ID}", methods=["PATCH"])
@bp.arguments(SubscriberUpdate)
@bp.response(200, SubscriberSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update(data: dict, subscriber_id: int) -> Subscriber:
    """Change name, language, second language (null: none), lists or status (`confirmed`
    or `unsubscribed`). A second language equal to the first is refused (409
    `same_languages`)."""
    subscriber = db.get_or_404(Subscriber, subscriber_id)
    change_subscriber(subscriber, data)
    db.session.commit()
    return subscriber


@bp.route(f"/{ID}", methods=["DELETE"])
@bp.arguments(DeleteArgs, location="query")
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete(args: dict, subscriber_id: int) -> None:
    """Erase a subscriber and their records. With `suppress` (the default) a hash of the
    address is kept so that it is never imported again."""
    subscriber = db.get_or_404(Subscriber, subscriber_id)
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
    try:
        if subscriber is None:
            subscriber = create_subscriber(entry)
            db.session.flush()
            return "created", subscriber, None
        change_subscriber(subscriber, {k: v for k, v in entry.items() if k != "email"})
    except subscriber_changes.ChangeRefused as refused:
        return "skipped", subscriber, refused.code
    return "updated", subscriber, None
