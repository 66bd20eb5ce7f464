"""Events in the editors' UI: the list, and one form for an event's times and its texts in
every language. ``events`` decides; a refusal is shown on the form."""

from datetime import datetime

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from .. import event_issues, events, invitations, registrations
from ..campaigns import CampaignError
from ..csv_export import csv_lines
from ..extensions import db
from ..form_fields import ActionForm, line_of_text
from ..i18n import OUT_OF_RANGE, TIME_ZONES, local_to_utc, utc_to_local
from ..models import Event, Registration, RegistrationStatus
from ..organisation import current_organisation
from ..tasks import send_registration_mail
from . import bp

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class EventTextForm(Form):
    """One language's text; plain ``Form``: the event form around it carries the CSRF token."""

    title = StringField(_l("Title"), validators=[Optional(), Length(max=200), line_of_text])
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=500)])
    description = TextAreaField(
        _l("Description (Markdown)"), validators=[Optional(), Length(max=20_000)]
    )
    place_name = StringField(_l("Place"), validators=[Optional(), Length(max=200), line_of_text])
    place_address = StringField(
        _l("Address"), validators=[Optional(), Length(max=500), line_of_text]
    )
    free_question = StringField(
        _l("Your own question"),
        validators=[Optional(), Length(max=200), line_of_text],
        description=_l("Asked when “Your own question” is asked below."),
    )


def web_address(_form, field) -> None:
    if field.data and not field.data.startswith(("https://", "http://")):
        raise ValidationError(_l("Enter an address that starts with https:// or http://."))


class EventForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Starts"), format=LOCAL_FORMAT, validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=LOCAL_FORMAT, validators=[InputRequired()])
    time_zone = SelectField(
        _l("Time zone"),
        choices=[SelectChoice(zone, zone) for zone in TIME_ZONES],
        description=_l("The times above are in this zone, and pages show them in it."),
    )
    registration_deadline = DateTimeLocalField(
        _l("Registration deadline"), format=LOCAL_FORMAT, validators=[Optional()]
    )
    capacity = IntegerField(
        _l("Capacity"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
        description=_l("Leave empty for no limit."),
    )
    waiting_list = BooleanField(_l("Open a waiting list when it is full"))
    online_url = URLField(
        _l("Online link (optional)"), validators=[Optional(), Length(max=500), web_address]
    )
    published = BooleanField(_l("Shown on the public events page"))


ASKED_CHOICES = [
    SelectChoice("", _l("Not asked")),
    SelectChoice("optional", _l("Optional")),
    SelectChoice("required", _l("Required")),
]


def question_field_name(key: str) -> str:
    return f"question_{key}"


def text_field_name(code: str) -> str:
    return f"text_{code}"


def event_form(event: Event | None = None) -> EventForm:
    class LanguagesForm(EventForm):
        pass

    for code in current_app.config["LANGUAGES"]:
        setattr(LanguagesForm, text_field_name(code), FormField(EventTextForm))
    for key in events.QUESTIONS:
        field = SelectField(events.QUESTION_LABELS[key], choices=ASKED_CHOICES, default="")
        setattr(LanguagesForm, question_field_name(key), field)
    form = LanguagesForm(data=event_data(event) if event else None)
    if event is None and not form.is_submitted():
        form.time_zone.data = current_organisation().time_zone or "UTC"
    return form


def in_zone(moment: datetime | None, zone: str) -> datetime | None:
    return utc_to_local(moment, zone) if moment is not None else None


def from_zone(moment: datetime | None, zone: str) -> datetime | None:
    return local_to_utc(moment, zone) if moment is not None else None


def event_data(event: Event) -> dict:
    zone = event.time_zone
    data = {
        "starts_at": in_zone(event.starts_at, zone),
        "ends_at": in_zone(event.ends_at, zone),
        "time_zone": zone,
        "registration_deadline": in_zone(event.registration_deadline, zone),
        "capacity": event.capacity,
        "waiting_list": event.waiting_list,
        "online_url": event.online_url or "",
        "published": event.published,
    }
    for key, asked in (event.questions or {}).items():
        data[question_field_name(key)] = asked
    for text in event.texts:
        data[text_field_name(text.language)] = {
            name: getattr(text, name) for name in events.TEXT_FIELDS
        }
    return data


def text_forms(form: EventForm) -> dict[str, EventTextForm]:
    return {
        code: getattr(form, text_field_name(code)).form for code in current_app.config["LANGUAGES"]
    }


def question_fields(form: EventForm) -> dict[str, SelectField]:
    return {key: getattr(form, question_field_name(key)) for key in events.QUESTIONS}


def save(form: EventForm, event: Event | None) -> Event | None:
    """The event as the form says, or None with the reason on the form."""
    zone = form.time_zone.data
    try:
        times = events.EventTimes(
            from_zone(form.starts_at.data, zone),
            from_zone(form.ends_at.data, zone),
            zone,
            from_zone(form.registration_deadline.data, zone),
        )
    except OverflowError:
        form.starts_at.errors = [str(OUT_OF_RANGE)]
        return None
    texts = {code: sub.data for code, sub in text_forms(form).items()}
    try:
        return events.save_event(
            event,
            times,
            texts,
            capacity=form.capacity.data,
            waiting_list=form.waiting_list.data,
            online_url=(form.online_url.data or "").strip() or None,
            published=form.published.data,
            questions={key: question_fields(form)[key].data for key in events.QUESTIONS},
        )
    except events.EventError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return None


def edit_page(form: EventForm, event: Event | None):
    status = 422 if form.is_submitted() else 200
    return (
        render_template(
            "admin/events/edit.html",
            form=form,
            event=event,
            texts=text_forms(form),
            questions=question_fields(form),
        ),
        status,
    )


def submit(form: EventForm, event: Event | None):
    if form.validate_on_submit():
        saved = save(form, event)
        if saved is not None:
            db.session.commit()
            flash(_("The event is saved."), "ok")
            return redirect(url_for("admin.edit_event", event_id=saved.id))
    return edit_page(form, event)


@bp.get("/events")
def events_index():
    return render_template(
        "admin/events/index.html", rows=events.all_events(), text_in=events.text_in
    )


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    return submit(event_form(), None)


@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
def edit_event(event_id: int):
    event = db.get_or_404(Event, event_id)
    return submit(event_form(event), event)


REGISTRATION_COLUMNS = ("email", "name", "language", "status", "registered_at", "confirmed_at")


@bp.get("/events/<int:event_id>/registrations")
def event_registrations(event_id: int):
    """Who registered, who waits, who cancelled, by language."""
    event = db.get_or_404(Event, event_id)
    rows = registrations.event_registrations(event.id)
    return render_template(
        "admin/events/registrations.html",
        event=event,
        rows=rows,
        counts=registrations.counts(rows),
        answers=invitations.answer_counts(event.id),
        text_in=events.text_in,
        action_form=ActionForm(),
        asked=events.asked_questions(event),
        labels=events.QUESTION_LABELS,
    )


@bp.post("/events/<int:event_id>/registrations/<int:registration_id>/place")
def give_place(event_id: int, registration_id: int):
    """Move one person from the waiting list to a place, and tell them."""
    registration = db.get_or_404(Registration, registration_id)
    if registration.event_id != event_id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if registrations.give_place(registration):
        db.session.commit()
        send_registration_mail.delay(registration.id, registrations.Mail.PROMOTED.value)
        flash(_("%(name)s has a place now and is told so.", name=registration.name), "ok")
    return redirect(url_for("admin.event_registrations", event_id=event_id))


@bp.post("/events/<int:event_id>/invitation")
def write_invitation(event_id: int):
    """A draft issue inviting to the event, opened in the composer."""
    event = db.get_or_404(Event, event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        issue = event_issues.write_invitation(event, current_user)
    except CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.event_registrations", event_id=event_id))
    db.session.commit()
    flash(
        _("The invitation is written in each language of the event: read it, then send it."), "ok"
    )
    return redirect(url_for("admin.edit_issue", issue_id=issue.id))


@bp.post("/events/<int:event_id>/reminders")
def write_reminders(event_id: int):
    """Reminders to the registered, 7 days and 1 day before the event."""
    event = db.get_or_404(Event, event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    written = event_issues.write_reminders(event, current_user)
    db.session.commit()
    if not written:
        flash(_("The event is too close for reminders 7 days or 1 day before."), "error")
    elif all(issue.scheduled_at for issue in written):
        flash(_("The reminders are scheduled; each goes to those registered at that time."), "ok")
    else:
        flash(_("The reminders are written: approve them, then schedule them."), "ok")
    return redirect(url_for("admin.issues"))


@bp.get("/events/<int:event_id>/check-in")
def check_in_list(event_id: int):
    """The registered, by name, to print for the door."""
    event = db.get_or_404(Event, event_id)
    people = sorted(
        (
            r
            for r in registrations.event_registrations(event.id)
            if r.status == RegistrationStatus.REGISTERED
        ),
        key=lambda r: (r.name.casefold(), r.email),
    )
    return render_template(
        "admin/events/check_in.html", event=event, people=people, text_in=events.text_in
    )


@bp.get("/events/<int:event_id>/registrations.csv")
def export_registrations(event_id: int):
    event = db.get_or_404(Event, event_id)
    asked = events.asked_questions(event)
    rows = (
        (
            r.email,
            r.name,
            r.language,
            r.status.value,
            r.created_at.isoformat(timespec="seconds") + "Z",
            r.confirmed_at.isoformat(timespec="seconds") + "Z" if r.confirmed_at else "",
            *((r.answers or {}).get(key, "") for key in asked),
        )
        for r in registrations.event_registrations(event.id)
    )
    return Response(
        csv_lines(rows, (*REGISTRATION_COLUMNS, *asked)),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="event-{event.id}-registrations.csv"'
        },
    )
