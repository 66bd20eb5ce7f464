"""Webhooks in the admins' UI: endpoints (address, events, paused or not), their secret,
and their recent deliveries, each of which can be sent again. ``webhooks`` decides."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from .. import webhooks
from ..extensions import db
from ..form_fields import ActionForm, MultiCheckboxField
from ..models import WebhookDelivery, WebhookEndpoint
from . import bp
from .auth import admin_required


class EndpointForm(FlaskForm):
    url = StringField(
        _l("Address"),
        validators=[InputRequired(), Length(max=500)],
        description=_l("Where the JSON is posted, e.g. https://crm.example.org/hooks/newsletter"),
    )
    events = MultiCheckboxField(
        _l("Events"),
        choices=[SelectChoice(key, label) for key, label in webhooks.EVENTS.items()],
        validators=[InputRequired(message=_l("Choose one or more events."))],
    )
    active = BooleanField(_l("Active"), default=True)


def index_page(form: EndpointForm, status: int = 200):
    return render_template(
        "admin/webhooks/index.html", form=form, endpoints=webhooks.all_endpoints()
    ), status


@bp.route("/webhooks", methods=["GET", "POST"])
@admin_required
def webhooks_index():
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint = webhooks.save_endpoint(
                None, form.url.data, form.events.data, form.active.data
            )
        except webhooks.RefusedEndpoint as refused:
            form.url.errors = [str(refused)]
            return index_page(form, 422)
        db.session.commit()
        flash(_("The endpoint is saved. Give its secret to the receiver."), "ok")
        return redirect(url_for("admin.webhook_endpoint", endpoint_id=endpoint.id))
    return index_page(form, 422 if form.is_submitted() else 200)


@bp.route("/webhooks/<int(max=2147483647):endpoint_id>", methods=["GET", "POST"])
@admin_required
def webhook_endpoint(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm(obj=endpoint)
    status = 200
    if form.validate_on_submit():
        try:
            webhooks.save_endpoint(endpoint, form.url.data, form.events.data, form.active.data)
        except webhooks.RefusedEndpoint as refused:
            db.session.rollback()
            form.url.errors = [str(refused)]
            status = 422
        else:
            db.session.commit()
            flash(_("The endpoint is saved."), "ok")
            return redirect(url_for("admin.webhook_endpoint", endpoint_id=endpoint.id))
    elif form.is_submitted():
        status = 422
    return render_template(
        "admin/webhooks/endpoint.html",
        endpoint=endpoint,
        form=form,
        action_form=ActionForm(),
        deliveries=webhooks.recent_deliveries(endpoint.id),
        events=webhooks.EVENTS,
        signature_header=webhooks.SIGNATURE_HEADER,
    ), status


@bp.post("/webhooks/<int(max=2147483647):endpoint_id>/delete")
@admin_required
def delete_webhook_endpoint(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    db.session.delete(endpoint)
    db.session.commit()
    flash(_("The endpoint and its deliveries are deleted."), "ok")
    return redirect(url_for("admin.webhooks_index"))


@bp.post("/webhooks/deliveries/<int(max=2147483647):delivery_id>/again")
@admin_required
def send_webhook_again(delivery_id: int):
    delivery = db.get_or_404(WebhookDelivery, delivery_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    webhooks.send_again(delivery)
    db.session.commit()
    flash(_("The delivery is sent again within a few seconds."), "ok")
    return redirect(url_for("admin.webhook_endpoint", endpoint_id=delivery.endpoint_id))
