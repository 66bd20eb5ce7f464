"""Forms of the public pages. Every message is translated; every field has a size limit."""

import re
import unicodedata

from babel import Locale
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import events
from ..form_fields import line_of_text, single_line, strip_whitespace
from ..i18n import language_name, reader_languages
from ..models import Event, MailingList, RsvpAnswer
from ..subscriptions import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    InvalidEmail,
    RequestInfo,
    normalize_email,
    public_lists,
    queue_subscription,
)


def list_label(mailing_list: MailingList) -> str:
    """A topic's name in the reader's language, else in the default one."""
    return mailing_list.name_in(str(get_locale()), current_app.config["DEFAULT_LANGUAGE"])


class ProfileFields(FlaskForm):
    """Name, languages and lists: asked when subscribing and in the preference centre."""

    name = StringField(
        _l("Name (optional)"),
        filters=[strip_whitespace],
        validators=[
            Length(max=MAX_NAME_LENGTH, message=_l("A name can be at most %(max)d characters.")),
            single_line,
        ],
    )
    language = SelectField(_l("Language"), validate_choice=False)
    second_language = SelectField(_l("Second language (optional)"), validate_choice=False)
    lists = SelectMultipleField(_l("Topics"), validate_choice=False, coerce=str)

    def __init__(self, *args, allowed_lists=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_lists = public_lists() if allowed_lists is None else allowed_lists
        self.language.choices = [(code, language_name(code)) for code in reader_languages()]
        self.second_language.choices = [("", _l("None"))] + self.language.choices
        self.lists.choices = [(str(item.id), item.slug) for item in self.allowed_lists]

    def validate_language(self, field) -> None:
        if field.data not in reader_languages():
            raise ValidationError(_l("Please choose one of the languages offered."))

    def validate_second_language(self, field) -> None:
        if not field.data:
            field.data = None
        elif field.data not in reader_languages():
            raise ValidationError(_l("Please choose one of the languages offered."))
        elif field.data == self.language.data:
            raise ValidationError(_l("Your second language must differ from your first."))

    def validate_lists(self, field) -> None:
        allowed = {str(item.id) for item in self.allowed_lists}
        if len(field.data or []) > len(allowed) or not set(field.data or []) <= allowed:
            raise ValidationError(_l("Please choose among the topics shown."))

    @property
    def list_ids(self) -> set[int]:
        return {int(value) for value in self.lists.data or []}


class AddressFields(FlaskForm):
    """An email address, checked and normalized, and the field bots fill in."""

    email = StringField(
        _l("Email address"),
        filters=[strip_whitespace],
        validators=[InputRequired(message=_l("Please enter your email address."))],
    )
    # A field people never see; bots fill it in.
    website = StringField(_l("Leave this field empty"))

    def validate_email(self, field) -> None:
        if len(field.data or "") > MAX_EMAIL_LENGTH:
            raise ValidationError(_l("This email address is too long."))
        try:
            self.normalized_email = normalize_email(field.data)
        except InvalidEmail:
            raise ValidationError(_l("Please enter a valid email address.")) from None

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)


class SubscribeForm(ProfileFields, AddressFields):
    def validate_lists(self, field) -> None:
        super().validate_lists(field)
        if not field.data:
            raise ValidationError(_l("Please choose at least one topic."))

    def queue(self, info: RequestInfo) -> bool:
        """Hand a validated form to the worker; the answer is the same whatever it finds.

        A bot is thanked and ignored. False when the broker can't be reached: the caller
        answers with an error page, not a thanks, as the request would be lost.
        """
        if self.is_bot:
            return True
        return queue_subscription(
            self.normalized_email,
            self.name.data,
            self.language.data,
            self.list_ids,
            info,
            self.second_language.data,
        )


class PreferencesForm(ProfileFields):
    """What a subscriber changes in the preference centre: the profile fields as they are."""


class EraseForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that all my data will be deleted and cannot be restored."),
        validators=[DataRequired(message=_l("Please tick the box to confirm."))],
    )


class ConfirmForm(FlaskForm):
    pass


class RsvpForm(FlaskForm):
    """The answer to an invitation: one button per answer, each sending its value."""

    answer = RadioField(
        choices=[SelectChoice(answer.value, answer.value) for answer in RsvpAnswer],
        validators=[InputRequired(message=_l("Choose yes, maybe or no."))],
    )


class RegistrationForm(AddressFields):
    """Registering for an event: a name and an address (and the field bots fill in)."""

    name = StringField(
        _l("Name"),
        filters=[strip_whitespace],
        validators=[
            InputRequired(message=_l("Please enter your name.")),
            Length(max=MAX_NAME_LENGTH, message=_l("A name can be at most %(max)d characters.")),
            single_line,
        ],
    )


ANSWER_MAX_LENGTH = 500
ORGANISATION_MAX_LENGTH = 200


# Characters that reorder the text around them, a way to disguise what an answer says.
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def no_control_characters(_form, field) -> None:
    """Line breaks and tabs are fine in an answer; other control characters (DEL, C1) and
    bidirectional overrides are not. Joiners stay: Persian and emoji need them."""
    if field.data and any(
        (unicodedata.category(ch) == "Cc" and ch not in "\r\n\t") or ch in BIDI_CONTROLS
        for ch in field.data
    ):
        raise ValidationError(_l("An answer can't contain control characters."))


def countries(language: str) -> list[tuple[str, str]]:
    """Every country by its two-letter code, named and sorted in ``language``."""
    territories = Locale.parse(language).territories
    named = [(code, name) for code, name in territories.items() if re.fullmatch("[A-Z]{2}", code)]
    return sorted(named, key=lambda item: item[1].casefold())


def registration_form(event: Event, language: str, **kwargs) -> RegistrationForm:
    """The registration form with the questions ``event`` asks, worded in ``language``."""

    class EventRegistrationForm(RegistrationForm):
        pass

    free_label = events.text_in(event, language).free_question
    for key in events.asked_questions(event):
        validators = [
            InputRequired(message=_l("Please answer this question."))
            if event.questions[key] == "required"
            else Optional()
        ]
        label = free_label if key == "free_text" else events.QUESTION_LABELS[key]
        if key == "country":
            choices = [SelectChoice("", "—")] + [
                SelectChoice(code, name) for code, name in countries(language)
            ]
            field = SelectField(label, choices=choices, validators=validators)
        elif key == "organisation":
            field = StringField(
                label,
                filters=[strip_whitespace],
                validators=[*validators, Length(max=ORGANISATION_MAX_LENGTH), line_of_text],
            )
        else:
            field = TextAreaField(
                label,
                filters=[strip_whitespace],
                validators=[*validators, Length(max=ANSWER_MAX_LENGTH), no_control_characters],
            )
        setattr(EventRegistrationForm, answer_field_name(key), field)
    return EventRegistrationForm(**kwargs)


def answer_field_name(key: str) -> str:
    return f"answer_{key}"


def question_fields(form: RegistrationForm) -> dict:
    """The fields of the questions ``form`` asks, by question, in the form's order."""
    return {
        key: getattr(form, answer_field_name(key))
        for key in events.QUESTIONS
        if hasattr(form, answer_field_name(key))
    }


def answers(form: RegistrationForm) -> dict[str, str]:
    """The questions answered, by question."""
    return {key: field.data for key, field in question_fields(form).items() if field.data}
