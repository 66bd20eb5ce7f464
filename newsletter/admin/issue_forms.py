"""The issue forms of the editors' UI: the composer (one subject, preheader and body per
configured language), the test send and the schedule, and saving a composer through
``campaigns``."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from .. import campaigns, events, invitations, subscriptions, translators
from ..form_fields import MultiCheckboxField, small_number
from ..i18n import OUT_OF_RANGE, language_name, local_to_utc
from ..layouts import all_layouts, default_layout, layout_of
from ..models import EventGroup, Fallback, Issue, User
from ..organisation import current_organisation
from ..variant_versions import Draft, Outcome, outcomes


class VariantForm(Form):
    """One language's text; plain ``Form``: the composer around it carries the CSRF token."""

    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=200)])
    preheader = StringField(
        _l("Preheader"),
        validators=[Optional(), Length(max=200)],
        description=_l("The line mail apps show after the subject."),
    )
    body = TextAreaField(_l("Body (Markdown)"))
    # The version the text was loaded from: a save refuses to overwrite a later one.
    version = HiddenField()

    def is_empty(self) -> bool:
        return not (self.subject.data or "").strip() and not (self.body.data or "").strip()

    def is_partial(self) -> bool:
        return not self.is_empty() and not (
            (self.subject.data or "").strip() and (self.body.data or "").strip()
        )


class IssueForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("Only editors see it."),
    )
    default_language = SelectField(_l("Default language"))
    fallback = RadioField(
        _l("Readers whose language has no variant"),
        choices=[
            SelectChoice(Fallback.DEFAULT.value, _l("receive the default language")),
            SelectChoice(Fallback.SKIP.value, _l("receive nothing (counted as skipped)")),
        ],
        default=Fallback.DEFAULT.value,
    )
    lists = MultiCheckboxField(_l("Lists"), coerce=int)
    audience_event = SelectField(
        _l("People of an event"),
        description=_l("Only they receive the issue; ticked lists narrow them further."),
        validate_choice=False,
    )
    automatic = BooleanField(
        _l("Send automatically to each new subscriber of its lists"),
        description=_l(
            "A welcome or a follow-up: once switched on, it goes to everyone who joins its "
            "lists from then on, the number of days below after they joined, instead of "
            "once to today's subscribers."
        ),
    )
    sent_after_days = IntegerField(
        _l("Days after joining"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=365)],
        description=_l("0: at once (a welcome)."),
    )
    audience_languages = MultiCheckboxField(
        _l("Only readers of these languages"),
        description=_l("Leave all unticked to reach readers of every language."),
    )
    track_clicks = BooleanField(
        _l("Count clicks on its links"),
        description=_l(
            "Links lead through this site, which counts each reader's clicks (privacy: "
            "say so in your privacy notice)."
        ),
    )
    track_opens = BooleanField(
        _l("Count opens"),
        description=_l(
            "An invisible image counts who opened it. Unreliable: many mail programs load "
            "images on arrival, others never."
        ),
    )
    # A POST without it keeps the issue's layout (a new issue gets the default).
    layout = SelectField(
        _l("Layout"),
        coerce=int,
        validate_choice=False,
        description=_l("The colours, header and footer around the text (see Layouts)."),
    )

    def validate_lists(self, field):
        if not field.data and not self.audience_event.data:
            raise ValidationError(_l("Choose one or more lists."))

    def validate_audience_event(self, field):
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError(_l("Choose one of the events."))
        if field.data and self.automatic.data:
            raise ValidationError(campaigns.AUTOMATION_AUDIENCE)

    def validate_layout(self, field):
        if field.data is not None and field.data not in {c.value for c in field.choices}:
            raise ValidationError(_l("Choose one of the layouts."))


def variant_field_name(code: str) -> str:
    return f"variant_{code}"


def composer_form(issue: Issue | None = None) -> IssueForm:
    """The composer for the configured languages, filled from ``issue`` on a GET."""
    languages = current_app.config["LANGUAGES"]

    class ComposerForm(IssueForm):
        pass

    for code in languages:
        setattr(ComposerForm, variant_field_name(code), FormField(VariantForm))
    # On a POST the browser's fields are the truth; the saved issue only fills a GET.
    form = ComposerForm(data=issue_data(issue) if issue and request.method == "GET" else None)
    names = [SelectChoice(code, language_name(code)) for code in languages]
    form.default_language.choices = names
    form.audience_languages.choices = names
    locale = str(get_locale())
    form.lists.choices = [
        SelectChoice(item.id, item.name_in(locale)) for item in subscriptions.all_lists()
    ]
    form.layout.choices = [SelectChoice(item.id, item.name) for item in all_layouts()]
    form.audience_event.choices = [SelectChoice("", _("Nobody in particular: the lists"))] + [
        SelectChoice(event_audience_value(audience), label)
        for audience, label in event_audience_choices(locale)
    ]
    if issue is None and request.method == "GET":
        form.default_language.data = current_app.config["DEFAULT_LANGUAGE"]
        form.layout.data = default_layout().id
        organisation = current_organisation()
        form.track_clicks.data = organisation.track_clicks
        form.track_opens.data = organisation.track_opens
    if issue is not None and request.method == "POST" and current_user.is_translator:
        keep_translator_to_own(form, issue, translators.writable_languages(current_user))
    return form


SETTINGS_FIELDS = (
    "name",
    "default_language",
    "fallback",
    "lists",
    "audience_languages",
    "audience_event",
    "automatic",
    "sent_after_days",
    "track_clicks",
    "track_opens",
    "layout",
)


def event_audience_value(audience: campaigns.EventAudience | None) -> str:
    return f"{audience.event_id}:{audience.group.value}" if audience else ""


def event_audience_from(value: str | None) -> campaigns.EventAudience | None:
    """The form's value back as an audience; None for none (or anything forged)."""
    event_id, _sep, group = (value or "").partition(":")
    if not event_id.isdigit() or group not in {g.value for g in EventGroup}:
        return None
    return campaigns.EventAudience(int(event_id), EventGroup(group))


def event_audience_choices(locale: str):
    """Every group of every event, newest events first, named in ``locale``."""
    for event in events.all_events():
        title = events.text_in(event, locale).title
        for group in EventGroup:
            yield campaigns.EventAudience(event.id, group), invitations.group_label(group, title)


def keep_translator_to_own(form: IssueForm, issue: Issue, languages: list[str]) -> None:
    """A translator's form changes only the texts of ``languages``: every other field is
    what is saved, whatever the browser sent."""
    saved = issue_data(issue)
    for name in SETTINGS_FIELDS:
        getattr(form, name).data = saved[name]
    for code, variant in variant_forms(form).items():
        if code not in languages:
            text = saved[variant_field_name(code)]
            variant.subject.data = text.get("subject", "")
            variant.preheader.data = text.get("preheader", "")
            variant.body.data = text.get("body", "")
            variant.version.data = str(text["version"])


def issue_data(issue: Issue) -> dict:
    data = {
        "name": issue.name,
        "default_language": issue.default_language,
        "fallback": issue.fallback.value,
        "lists": sorted(issue.list_ids),
        "audience_languages": issue.audience_languages or [],
        "audience_event": event_audience_value(campaigns.event_audience_of(issue)),
        "automatic": issue.automated,
        "sent_after_days": issue.sent_after_days or 0,
        "track_clicks": issue.track_clicks,
        "track_opens": issue.track_opens,
        "layout": layout_of(issue).id,
    }
    for variant in issue.variants:
        data[variant_field_name(variant.language)] = {
            "subject": variant.subject,
            "preheader": variant.preheader,
            "body": variant.body,
            "version": variant.version,
        }
    for code in current_app.config["LANGUAGES"]:
        data.setdefault(variant_field_name(code), {"version": 0})
    return data


def variant_forms(form: IssueForm) -> dict[str, VariantForm]:
    return {
        code: getattr(form, variant_field_name(code)).form
        for code in current_app.config["LANGUAGES"]
    }


class TestSendForm(FlaskForm):
    test_address = EmailField(_l("Send a test to"), validators=[DataRequired(), Length(max=254)])
    test_language = SelectField(_l("Language"))


class AttachmentForm(FlaskForm):
    """A file for one language's message, attached or offered as a download link."""

    file = FileField(_l("Add a file"), validators=[FileRequired(_l("Please choose a file."))])
    link_only = BooleanField(_l("Send as a download link instead of attaching it"))


class XliffForm(FlaskForm):
    """A translated XLIFF file coming back from a translator."""

    file = FileField(
        _l("Translated XLIFF file"), validators=[FileRequired(_l("Please choose a file."))]
    )


class ScheduleForm(FlaskForm):
    """A time typed in the editor's own zone (else the organisation's); stored in UTC."""

    scheduled_at = DateTimeLocalField(
        _l("Date and time"),
        format="%Y-%m-%dT%H:%M",
        # Not DataRequired: it would hide "Not a valid datetime value." (year 10000) behind
        # "This field is required.".
        validators=[InputRequired()],
    )

    def scheduled_at_utc(self) -> datetime | None:
        """The time typed, in UTC; None (with the error on the field) if it can't be."""
        try:
            return local_to_utc(self.scheduled_at.data)
        except OverflowError:
            self.scheduled_at.errors = [str(OUT_OF_RANGE)]
            return None


def check_variants(form: IssueForm) -> bool:
    """A language with a subject but no body (or the reverse) is an error, not a variant."""
    ok = True
    for variant in variant_forms(form).values():
        if variant.is_partial():
            variant.body.errors = [*variant.body.errors, _("A variant needs a subject and a body.")]
            ok = False
    return ok


def base_version(variant: VariantForm) -> int | None:
    """The version a language's text was loaded from; None if the form did not say."""
    return small_number((variant.version.data or "").strip())


def variant_drafts(form: IssueForm) -> dict[str, Draft]:
    return {
        code: Draft(
            variant.subject.data or "",
            variant.preheader.data or "",
            variant.body.data or "",
            base_version(variant),
        )
        for code, variant in variant_forms(form).items()
    }


@dataclass(frozen=True)
class SavedComposer:
    issue: Issue
    kept: set[str]  # languages left as someone else saved them meanwhile (not changed here)


def save_issue(form: IssueForm, issue: Issue | None, saved_by: User | None) -> SavedComposer:
    """Write the form through ``campaigns``; raises CampaignError once sending started.

    A language this form did not change is left as someone else saved it meanwhile. The
    caller checks ``variant_versions.conflicts`` first: a language changed on both sides
    raises ``VersionConflict`` here, after some writes (roll back).
    """
    languages = form.audience_languages.data or None
    event_audience = event_audience_from(form.audience_event.data)
    drafts = variant_drafts(form)
    results = outcomes(issue, drafts) if issue is not None else {}
    if issue is None:
        if saved_by is not None and saved_by.is_translator:
            raise campaigns.CampaignError(_("Translators can't create issues."), "forbidden")
        issue = campaigns.create_issue(
            form.name.data.strip(),
            form.default_language.data,
            set(form.lists.data),
            Fallback(form.fallback.data),
            languages,
            form.layout.data,
            event_audience,
        )
        issue.track_clicks, issue.track_opens = form.track_clicks.data, form.track_opens.data
        campaigns.set_automation(issue, automation_days(form))
    elif saved_by is None or not saved_by.is_translator:
        # refuses first
        campaigns.set_audience(issue, set(form.lists.data or []), languages, event_audience)
        issue.name = form.name.data.strip()[:200]
        campaigns.set_default_language(issue, form.default_language.data)
        issue.fallback = Fallback(form.fallback.data)
        issue.track_clicks, issue.track_opens = form.track_clicks.data, form.track_opens.data
        if automation_days(form) != issue.sent_after_days:
            campaigns.set_automation(issue, automation_days(form))
        if form.layout.data is not None:
            campaigns.set_layout(issue, form.layout.data)
    kept = {code for code, result in results.items() if result is Outcome.KEEP_SAVED}
    for code, draft in drafts.items():
        if code not in kept and (saved_by is None or translators.may_write(saved_by, code)):
            save_variant(issue, code, draft, saved_by)
    return SavedComposer(issue, kept)


def automation_days(form: IssueForm) -> int | None:
    """None for a campaign; else the days after joining (0 when left empty)."""
    return (form.sent_after_days.data or 0) if form.automatic.data else None


def save_variant(issue: Issue, code: str, draft: Draft, saved_by: User | None) -> None:
    """Empty fields mean "no variant in this language": none is created, any is removed."""
    existing = issue.variant(code)
    if draft.empty:
        if existing is not None:
            if draft.base_version not in (None, existing.version):
                raise campaigns.VersionConflict(code)
            issue.variants.remove(existing)
        return
    campaigns.set_variant(
        issue, code, draft.subject, draft.body, draft.preheader, saved_by, draft.base_version
    )


def form_audience_counts(form: IssueForm) -> campaigns.AudienceCounts:
    """Counts for the composer's unsaved choices (a language with text counts as a variant)."""
    known = current_app.config["LANGUAGES"]
    list_ids = {value for value in form.lists.data or [] if isinstance(value, int)}
    languages = [code for code in form.audience_languages.data or [] if code in known]
    variants = {code for code, variant in variant_forms(form).items() if not variant.is_empty()}
    default = form.default_language.data
    if default not in known:
        default = current_app.config["DEFAULT_LANGUAGE"]
    fallback = Fallback.SKIP if form.fallback.data == Fallback.SKIP.value else Fallback.DEFAULT
    return campaigns.audience_counts(
        list_ids,
        languages or None,
        variants,
        default,
        fallback,
        event_audience_from(form.audience_event.data),
    )
