"""Subscribers for editors: find, read, edit, unsubscribe, erase (admins), export as CSV."""

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

from .. import subscriber_changes, subscriptions
from ..csv_export import csv_lines
from ..extensions import db
from ..form_fields import ActionForm, MultiCheckboxField, single_line, strip_whitespace
from ..i18n import language_name
from ..models import (
    Delivery,
    Issue,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from ..subscriber_queries import (
    SubscriberFilter,
    count_matching,
    export_rows,
    list_ids_of,
    subscriber_page,
)
from ..subscriptions import MAX_NAME_LENGTH, RequestInfo
from . import bp
from .auth import admin_required
from .presentation import (
    CONSENT_ACTIONS,
    DELIVERY_STATES,
    SUBSCRIBER_BADGES,
    subscriber_status_label,
)

SHOWN_DELIVERIES = 100
# --- Finding subscribers ----------------------------------------------------------------


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
        status_label=subscriber_status_label,
        badges=SUBSCRIBER_BADGES,
    )


# --- Export -----------------------------------------------------------------------------


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
    second_language = SelectField(_l("Second language"), default="")
    lists = MultiCheckboxField(_l("Lists"), coerce=int)

    def __init__(self, *args, lists: list[MailingList], **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [
            (code, language_name(code)) for code in current_app.config["READER_LANGUAGES"]
        ]
        self.second_language.choices = [("", _l("None"))] + self.language.choices
        language = str(get_locale())
        self.lists.choices = [(item.id, item.name_in(language)) for item in lists]


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
        deliveries=deliveries_of(subscriber),
        status_label=subscriber_status_label,
        badges=SUBSCRIBER_BADGES,
        lists_editable=subscriber_changes.lists_editable(subscriber),
        action_labels=CONSENT_ACTIONS,
        delivery_labels=DELIVERY_STATES,
    ), status


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber(subscriber_id: int):
    found = db.get_or_404(Subscriber, subscriber_id)
    form = SubscriberForm(obj=found, lists=subscriptions.all_lists())
    form.second_language.data = found.second_language or ""
    form.lists.data = sorted(found.list_ids)
    return _render_subscriber(found, form)


@bp.post("/subscribers/<int:subscriber_id>")
def edit_subscriber(subscriber_id: int):
    """Save name, language and (for confirmed people) lists; recorded as source "admin"."""
    found = db.get_or_404(Subscriber, subscriber_id)
    form = SubscriberForm(lists=subscriptions.all_lists())
    if not form.validate():
        return _render_subscriber(found, form, 400)
    changes = {"name": form.name.data, "language": form.language.data}
    if "second_language" in request.form:  # a form without the field leaves it as it is
        changes["second_language"] = form.second_language.data or None
    if form.lists.data or subscriber_changes.lists_editable(found):
        # Only a confirmed person's page offers lists; lists sent for anyone else are refused.
        changes["lists"] = set(form.lists.data or [])
    try:
        subscriber_changes.change_subscriber(found, changes, admin_info())
    except subscriber_changes.ChangeRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.subscriber", subscriber_id=found.id))
    db.session.commit()
    flash(_("The subscriber was saved."), "ok")
    return redirect(url_for("admin.subscriber", subscriber_id=found.id))


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
def unsubscribe_subscriber(subscriber_id: int):
    found = db.get_or_404(Subscriber, subscriber_id)
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
    found = db.get_or_404(Subscriber, subscriber_id)
    response = jsonify(subscriptions.export_data(found))
    response.headers["Content-Disposition"] = f'attachment; filename="subscriber-{found.id}.json"'
    return response


@bp.route("/subscribers/<int:subscriber_id>/erase", methods=["GET", "POST"])
@admin_required
def erase_subscriber(subscriber_id: int):
    """Admins only, after a confirmation page: delete everything but the address's hash."""
    found = db.get_or_404(Subscriber, subscriber_id)
    form = ActionForm()
    if form.validate_on_submit():
        subscriptions.erase(found)
        db.session.commit()
        flash(_("The subscriber was erased. Their address cannot be imported again."), "ok")
        return redirect(url_for("admin.subscribers"))
    return render_template("admin/subscribers/erase.html", subscriber=found, form=form)
