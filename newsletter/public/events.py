"""Public event pages: upcoming and past events, one event, and both as iCalendar; and
registering for an event, confirming it, seeing it and cancelling it."""

from flask import Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from markupsafe import Markup

from .. import event_calendar, events, invitations, registrations
from ..extensions import db
from ..mail.markdown_dialect import markdown_to_html
from ..models import Event, Registration
from ..request_limits import per_address, per_ip
from ..tasks import send_registration_mail
from .forms import (
    ConfirmForm,
    RegistrationForm,
    RsvpForm,
    answers,
    question_fields,
    registration_form,
)
from .routes import bp, request_info


def page_helpers() -> dict:
    return {
        "text_in": events.text_in,
        "shown_in_zone": events.shown_in_zone,
        "zone_name": events.zone_name,
        "description_html": lambda text: Markup(markdown_to_html(text.description)),
    }


@bp.route("/<lang>/events")
def events_page():
    upcoming, past = events.published_events()
    return render_template("public/events.html", upcoming=upcoming, past=past, **page_helpers())


def event_page(event: Event, form: RegistrationForm | None = None, status: int = 200, **extra):
    return (
        render_template(
            "public/event.html",
            event=event,
            form=form or registration_form(event, str(get_locale())),
            question_fields=question_fields,
            registration_open=registrations.is_open(event),
            full=registrations.is_full(event),
            **page_helpers(),
            **extra,
        ),
        status,
    )


def published_or_404(event_id: int) -> Event:
    found = events.published_event(event_id)
    if found is None:
        abort(404)
    return found


@bp.route("/<lang>/events/<int:event_id>")
def event(event_id: int):
    return event_page(published_or_404(event_id), sent=request.args.get("sent") == "1")


@bp.post("/<lang>/events/<int:event_id>/register")
@per_ip
@per_address
def register(event_id: int):
    """Take a registration; the answer is the same whoever the address belongs to."""
    found = published_or_404(event_id)
    form = registration_form(found, str(get_locale()))
    if not form.validate_on_submit():
        return event_page(found, form, 400)
    if form.is_bot:
        return redirect(url_for("public.event", event_id=found.id, sent=1))
    try:
        registration, mail = registrations.register(
            found, form.normalized_email, form.name.data, str(get_locale()), answers(form)
        )
    except registrations.Closed as error:
        db.session.rollback()
        return event_page(found, form, 409, refusal=str(error))
    db.session.commit()
    send_registration_mail.delay(registration.id, mail.value)
    return redirect(url_for("public.event", event_id=found.id, sent=1))


def registration_or_404(token: str) -> Registration:
    registration = registrations.by_token(token)
    if registration is None:
        abort(404)
    return registration


@bp.route("/<lang>/registrations/<token>/confirm", methods=["GET", "POST"])
def confirm_registration(token: str):
    """GET shows a button (mail scanners follow links); POST confirms."""
    registration = registration_or_404(token)
    form = ConfirmForm()
    refusal = None
    if form.validate_on_submit():
        try:
            mail = registrations.confirm(registration, request_info("event-registration"))
        except registrations.Closed as error:
            db.session.rollback()
            refusal = str(error)
        else:
            db.session.commit()
            if mail is not None:
                send_registration_mail.delay(registration.id, mail.value)
            return redirect(url_for("public.registration", token=token))
    return render_template(
        "public/registration_confirm.html",
        registration=registration,
        form=form,
        refusal=refusal,
        **page_helpers(),
    ), (409 if refusal else 200)


@bp.route("/<lang>/registrations/<token>", methods=["GET", "POST"])
def registration(token: str):
    """Where a registration stands; POST cancels it."""
    found = registration_or_404(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        promoted = registrations.cancel(found)
        db.session.commit()
        send_promoted(promoted)
    return render_template(
        "public/registration.html", registration=found, form=form, **page_helpers()
    )


def invitee_or_404(token: str) -> invitations.Invitee:
    invitee = invitations.invitee_of(token)
    if invitee is None:
        abort(make_response(render_template("public/rsvp_invalid.html"), 404))
    return invitee


def send_promoted(promoted: list[Registration]) -> None:
    for moved_up in promoted:
        send_registration_mail.delay(moved_up.id, registrations.Mail.PROMOTED.value)


@bp.route("/<lang>/rsvp/<token>", methods=["GET", "POST"])
@per_ip
def rsvp(token: str):
    """An invitation's answer. GET shows the buttons, the mail's choice first (scanners
    follow links); POST records; a Yes goes on to the registration questions."""
    invitee = invitee_or_404(token)
    form = RsvpForm()
    refusal = None
    if form.validate_on_submit():
        try:
            promoted = invitations.record_answer(invitee, form.answer.data)
        except registrations.Closed as error:
            db.session.rollback()
            refusal = str(error)
        else:
            db.session.commit()
            send_promoted(promoted)
            if form.answer.data == "yes":
                return redirect(url_for("public.rsvp_register", token=token))
            return redirect(url_for("public.rsvp", token=token))
    elif not registrations.is_open(invitee.event):
        refusal = str(invitations.EXPIRED)
    status = 409 if refusal else 400 if form.errors else 200
    return render_template(
        "public/rsvp.html",
        invitee=invitee,
        event=invitee.event,
        form=form,
        chosen=request.args.get("answer"),
        answered=invitations.answer_of(invitee),
        registration=invitations.registration_of(invitee),
        answer_labels=invitations.answer_labels(),
        refusal=refusal,
        **page_helpers(),
    ), status


@bp.route("/<lang>/rsvp/<token>/register", methods=["GET", "POST"])
@per_ip
def rsvp_register(token: str):
    """The registration questions for someone who said yes, their name and address known."""
    invitee = invitee_or_404(token)
    subscriber = invitee.subscriber
    posted = None
    if request.method == "POST":
        # The address is the invitation's: whatever is posted, this one registers.
        posted = request.form.copy()
        posted["email"] = subscriber.email
    form = registration_form(
        invitee.event, str(get_locale()), formdata=posted, name=subscriber.name or ""
    )
    if request.method == "POST":
        if not form.validate_on_submit():
            return rsvp_register_page(invitee, form, 400)
        try:
            registration, mail = registrations.register(
                invitee.event, subscriber.email, form.name.data, str(get_locale()), answers(form)
            )
        except registrations.Closed as error:
            db.session.rollback()
            return rsvp_register_page(invitee, form, 409, refusal=str(error))
        db.session.commit()
        send_registration_mail.delay(registration.id, mail.value)
        return redirect(url_for("public.registration", token=registration.token))
    return rsvp_register_page(invitee, form)


def rsvp_register_page(invitee, form, status: int = 200, refusal: str | None = None):
    return render_template(
        "public/rsvp_register.html",
        invitee=invitee,
        event=invitee.event,
        form=form,
        question_fields=question_fields,
        registration_open=registrations.is_open(invitee.event),
        refusal=refusal,
        **page_helpers(),
    ), status


def ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/<lang>/events/<int:event_id>.ics")
def event_ics(event_id: int):
    found = published_or_404(event_id)
    body = event_calendar.calendar_of([found], str(get_locale()))
    return ics(body, f"event-{found.id}.ics")


@bp.route("/<lang>/events.ics")
def events_feed():
    """The upcoming events as a calendar to subscribe to."""
    upcoming, _past = events.published_events()
    return ics(event_calendar.calendar_of(upcoming, str(get_locale())), "events.ics")
