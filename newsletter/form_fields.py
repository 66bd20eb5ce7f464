"""WTForms pieces shared by the public pages and the editors' UI."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .mail.message import NO_BREAK_SPACES

SMALL_NUMBER = re.compile(r"[0-9]{1,9}")


def small_number(text: str | None) -> int | None:
    """A number written with at most nine ASCII digits (a row id, a version), else None.
    Not ``str.isdigit``: it accepts "²" and "١", which ``int`` refuses or reads as 1."""
    return int(text) if text and SMALL_NUMBER.fullmatch(text) else None


def strip_whitespace(value):
    return value.strip() if isinstance(value, str) else value


def on_one_line(message):
    """A validator: no line breaks or control characters (no-break spaces are welcome:
    French uses them), refused with ``message``."""

    def check(_form, field) -> None:
        if field.data and any(
            not ch.isprintable() and ch not in NO_BREAK_SPACES for ch in field.data
        ):
            raise ValidationError(message)

    return check


single_line = on_one_line(_l("A name must fit on one line, without control characters."))
line_of_text = on_one_line(_l("This must fit on one line, without control characters."))


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of check boxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""
