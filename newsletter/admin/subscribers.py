"""Subscribers for editors: find, read, edit, unsubscribe, erase (admins), export as CSV."""

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from .. import subscriptions
from ..csv_export import csv_lines
from ..extensions import db
from ..form_fields import ActionForm, MultiCheckboxField, single_line, strip_whitespace
from ..i18n import language_name
from ..models import (
    ConsentAction,
    Delivery,
    DeliveryState,
    Issue,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
)
from ..subscriptions import MAX_NAME_LENGTH, RequestInfo
from . import bp
from .auth import admin_required

PAGE_SIZE = 50
COUNT_CAP = 100_000
"""The list counts matches up to this many, so the count stays quick however many there are."""
MAX_QUERY_LENGTH = 100
EXPORT_BATCH = 1000
SHOWN_DELIVERIES = 100
STATUS_BADGES = {
    SubscriberStatus.CONFIRMED: "good",
    SubscriberStatus.PENDING: "warn",
    SubscriberStatus.UNSUBSCRIBED: "",
    SubscriberStatus.BOUNCED: "bad",
    SubscriberStatus.COMPLAINED: "bad",
}


def status_label(status: SubscriberStatus) -> str:
    labels = {
        SubscriberStatus.PENDING: _("Pending"),
        SubscriberStatus.CONFIRMED: _("Confirmed"),
        SubscriberStatus.UNSUBSCRIBED: _("Unsubscribed"),
        SubscriberStatus.BOUNCED: _("Bounced"),
        SubscriberStatus.COMPLAINED: _("Complained"),
    }
    return labels[status]


def action_labels() -> dict[str, str]:
    return {
        ConsentAction.SUBSCRIBE.value: _("Subscribed"),
        ConsentAction.CONFIRM.value: _("Confirmed"),
        ConsentAction.PREFERENCES.value: _("Changed preferences"),
        ConsentAction.UNSUBSCRIBE.value: _("Unsubscribed"),
    }


def delivery_labels() -> dict[str, str]:
    return {
        DeliveryState.QUEUED.value: _("Queued"),
        DeliveryState.SENDING.value: _("Sending"),
        DeliveryState.SENT.value: _("Sent"),
        DeliveryState.FAILED.value: _("Failed"),
        DeliveryState.SKIPPED.value: _("Skipped"),
    }


# --- Finding subscribers ----------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberFilter:
    """The list's search and filters, read from the query string; unknown values are ignored."""

    query: str = ""
    status: SubscriberStatus | None = None
    language: str = ""
    list_id: int | None = None

    @classmethod
    def from_args(cls, args) -> "SubscriberFilter":
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
                Subscriber.email.contains(self.query.lower(), autoescape=True)
                | Subscriber.name.icontains(self.query, autoescape=True)
            )
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


def list_names() -> dict[int, str]:
    """List names in the editor's language, by id."""
    language = str(get_locale())
    return {item.id: item.name_in(language) for item in subscriptions.all_lists()}


def _parse_id(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@bp.get("/subscribers")
def subscribers():
    filters = SubscriberFilter.from_args(request.args)
    page = subscriber_page(filters, _parse_id("before"), _parse_id("after"))
    total, more = count_matching(filters)
    return render_template(
        "admin/subscribers/list.html",
        filters=filters,
        page=page,
        total=total,
        more=more,
        lists=subscriptions.all_lists(),
        names=list_names(),
        list_ids=list_ids_of([s.id for s in page.subscribers]),
        statuses=list(SubscriberStatus),
        status_label=status_label,
        badges=STATUS_BADGES,
    )


# --- Export -----------------------------------------------------------------------------


def export_rows(filters: SubscriberFilter, batch: int | None = None):
    """The matching subscribers as export rows, read in keyset batches (never all at once)."""
    batch = batch or EXPORT_BATCH
    slugs = {item.id: item.slug for item in subscriptions.all_lists()}
    columns = (
        Subscriber.id,
        Subscriber.email,
        Subscriber.name,
        Subscriber.language,
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
                row.status.value,
                "|".join(slugs[list_id] for list_id in lists.get(row.id, [])),
                row.created_at.isoformat(timespec="seconds") + "Z",
            )
        last = rows[-1].id


@bp.get("/subscribers/export.csv")
def export_subscribers():
    """The current filter's subscribers as CSV, streamed as it is read."""
    filters = SubscriberFilter.from_args(request.args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(csv_lines(export_rows(filters))),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"'},
    )


# --- One subscriber ---------------------------------------------------------------------


class SubscriberForm(FlaskForm):
    """What an editor may change. Lists only for confirmed people: others choose their own."""

    name = StringField(
        _l("Name"),
        filters=[strip_whitespace],
        validators=[
            Length(max=MAX_NAME_LENGTH, message=_l("A name can be at most %(max)d characters.")),
            single_line,
        ],
    )
    language = SelectField(_l("Language"))
    lists = MultiCheckboxField(_l("Lists"), coerce=int)

    def __init__(self, *args, lists: list[MailingList], **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [
            (code, language_name(code)) for code in current_app.config["LANGUAGES"]
        ]
        language = str(get_locale())
        self.lists.choices = [(item.id, item.name_in(language)) for item in lists]


def get_subscriber(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


def deliveries_of(subscriber: Subscriber) -> list:
    """The subscriber's latest deliveries with their issue's name."""
    return db.session.execute(
        db.select(Delivery, Issue.name)
        .join(Issue, Issue.id == Delivery.issue_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id.desc())
        .limit(SHOWN_DELIVERIES)
    ).all()


def admin_info() -> RequestInfo:
    return RequestInfo(ip=request.remote_addr, user_agent=request.user_agent.string, source="admin")


def _render_subscriber(subscriber: Subscriber, form: SubscriberForm, status: int = 200):
    lists = subscriptions.all_lists()
    return render_template(
        "admin/subscribers/detail.html",
        subscriber=subscriber,
        form=form,
        action_form=ActionForm(),
        names={item.id: item.name_in(str(get_locale())) for item in lists},
        slugs={item.id: item.slug for item in lists},
        deliveries=deliveries_of(subscriber),
        status_label=status_label,
        badges=STATUS_BADGES,
        lists_editable=subscriber.status == SubscriberStatus.CONFIRMED,
        action_labels=action_labels(),
        delivery_labels=delivery_labels(),
    ), status


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber(subscriber_id: int):
    found = get_subscriber(subscriber_id)
    form = SubscriberForm(obj=found, lists=subscriptions.all_lists())
    form.lists.data = sorted(found.list_ids)
    return _render_subscriber(found, form)


@bp.post("/subscribers/<int:subscriber_id>")
def edit_subscriber(subscriber_id: int):
    """Save name, language and (for confirmed people) lists; recorded as source "admin"."""
    found = get_subscriber(subscriber_id)
    form = SubscriberForm(lists=subscriptions.all_lists())
    if not form.validate():
        return _render_subscriber(found, form, 400)
    if found.status == SubscriberStatus.CONFIRMED:
        subscriptions.update_preferences(
            found, form.name.data, form.language.data, set(form.lists.data or []), admin_info()
        )
    else:
        # Subscribing someone to a list is the person's own decision (double opt-in).
        found.name = form.name.data or None
        found.language = form.language.data
        subscriptions.record_consent(found, ConsentAction.PREFERENCES, admin_info())
    db.session.commit()
    flash(_("The subscriber was saved."), "ok")
    return redirect(url_for("admin.subscriber", subscriber_id=found.id))


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
def unsubscribe_subscriber(subscriber_id: int):
    found = get_subscriber(subscriber_id)
    if not ActionForm().validate():
        abort(400)
    if subscriptions.unsubscribe(found, admin_info()):
        db.session.commit()
        flash(_("The subscriber was unsubscribed from every list."), "ok")
    else:
        flash(_("This subscriber was already unsubscribed."), "info")
    return redirect(url_for("admin.subscriber", subscriber_id=found.id))


@bp.get("/subscribers/<int:subscriber_id>/data.json")
def subscriber_data(subscriber_id: int):
    """Everything held about the subscriber (a GDPR access request), as a download."""
    found = get_subscriber(subscriber_id)
    response = jsonify(subscriptions.export_data(found))
    response.headers["Content-Disposition"] = f'attachment; filename="subscriber-{found.id}.json"'
    return response


@bp.route("/subscribers/<int:subscriber_id>/erase", methods=["GET", "POST"])
@admin_required
def erase_subscriber(subscriber_id: int):
    """Admins only, after a confirmation page: delete everything but the address's hash."""
    found = get_subscriber(subscriber_id)
    form = ActionForm()
    if form.validate_on_submit():
        subscriptions.erase(found)
        db.session.commit()
        flash(_("The subscriber was erased. Their address cannot be imported again."), "ok")
        return redirect(url_for("admin.subscribers"))
    return render_template("admin/subscribers/erase.html", subscriber=found, form=form)
