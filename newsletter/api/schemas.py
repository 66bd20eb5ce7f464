"""What the API accepts and answers, as marshmallow schemas (the OpenAPI document's source)."""

import re
import unicodedata
from datetime import UTC

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import invitations, registrations
from ..campaigns import event_audience_of
from ..i18n import OUT_OF_RANGE
from ..links import external_url
from ..models import (
    DeliveryState,
    EventGroup,
    Fallback,
    IssueStatus,
    SubscriberStatus,
    TokenScope,
    TranslationState,
)
from ..subscriptions import InvalidEmail, normalize_email
from ..translation_status import is_stale

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
LIST_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # as the admin UI accepts


class Text(fields.String):
    """A string without NUL characters, which PostgreSQL can't store or compare."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError(str(_l("This text contains a NUL character.")))
        return text


def single_line(value: str | None) -> None:
    """No line breaks or control characters: names and subjects end up in mail headers."""
    if value and any(unicodedata.category(char).startswith("C") for char in value):
        raise ValidationError(str(_l("This must fit on one line, without control characters.")))


def list_slug(value: str) -> None:
    """As the admin UI accepts: the whole value, so a trailing newline is refused too."""
    if not LIST_SLUG.fullmatch(value):
        raise ValidationError(str(_l("Use lower-case letters, digits and hyphens only.")))


def known_language(value: str) -> None:
    if value not in current_app.config["LANGUAGES"]:
        raise ValidationError(str(_l("Please choose one of the languages offered.")))


def reader_language(value: str) -> None:
    if value not in current_app.config["READER_LANGUAGES"]:
        raise ValidationError(str(_l("Please choose one of the languages offered.")))


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError(str(_l("This field may not be empty.")))


def _id(strict: bool = True, **kwargs) -> fields.Integer:
    """An id: strictly a JSON number in bodies; query strings are text."""
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


class UtcDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset both ways: the database keeps naive UTC times."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:  # 9999-12-31T23:59-14:00 is in the year 10000 in UTC
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(str(OUT_OF_RANGE)) from None

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _when(**kwargs) -> UtcDateTime:
    return UtcDateTime(default_timezone=UTC, **kwargs)


def _choice(values: list[str], **kwargs) -> fields.String:
    return Text(validate=validate.OneOf(values), **kwargs)


class ErrorSchema(Schema):
    code = Text(
        required=True, metadata={"description": "Stable snake_case code", "example": "not_found"}
    )
    message = Text(required=True, metadata={"description": "In the caller's language"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=Text(),
        values=fields.List(Text()),
        required=True,
        metadata={"description": "Messages per field at fault (dotted paths for nested ones)"},
    )


class PageArgs(Schema):
    cursor = fields.Integer(
        validate=validate.Range(0, MAX_ID),
        load_default=0,
        metadata={"description": "The `next_cursor` of the previous page; 0 for the first"},
    )
    limit = fields.Integer(validate=validate.Range(1, 200), load_default=50)


class Page(Schema):
    next_cursor = fields.Integer(
        allow_none=True, required=True, metadata={"description": "null on the last page"}
    )


# Subscribers


class EmailField(Text):
    """An address as the subscribe form accepts it: normalized, no non-ASCII local part."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_email(text)
        except InvalidEmail:
            raise ValidationError(str(_l("Please enter a valid email address."))) from None


class SubscriberSchema(Schema):
    id = fields.Integer(required=True)
    email = Text(required=True)
    name = Text(allow_none=True, required=True)
    language = Text(required=True)
    second_language = Text(
        allow_none=True,
        required=True,
        metadata={"description": "Read when an issue has no variant in `language`"},
    )
    status = _choice([s.value for s in SubscriberStatus], required=True)
    lists = fields.Method(
        "sorted_lists", required=True, metadata={"type": "array", "items": {"type": "integer"}}
    )
    created_at = _when(required=True)
    updated_at = _when(required=True)
    confirmed_at = _when(allow_none=True, required=True)
    unsubscribed_at = _when(allow_none=True, required=True)

    def sorted_lists(self, subscriber) -> list[int]:
        return sorted(subscriber.list_ids)


# Only these may be set through the API; bounced and complained come from mail servers.
WRITABLE_STATUSES = [SubscriberStatus.CONFIRMED.value, SubscriberStatus.UNSUBSCRIBED.value]
LANGUAGE_DOC = {"description": "One of the configured LANGUAGES", "example": "en"}
READER_LANGUAGE_DOC = {
    "description": "One of the configured LANGUAGES or READER_LANGUAGES",
    "example": "en",
}


class SubscriberUpdate(Schema):
    name = Text(allow_none=True, validate=[validate.Length(max=100), single_line])
    language = Text(validate=reader_language, metadata=READER_LANGUAGE_DOC)
    second_language = Text(
        allow_none=True,
        validate=reader_language,
        metadata={"description": "Read when an issue has no variant in `language`; null: none"},
    )
    status = _choice(WRITABLE_STATUSES)
    lists = fields.List(_id(), validate=validate.Length(max=100))


class SubscriberCreate(SubscriberUpdate):
    """Absent fields: the default language, no lists, confirmed (on creation only)."""

    email = EmailField(required=True, validate=validate.Length(max=254))


class SubscriberFilter(PageArgs):
    email = Text(
        validate=validate.Length(max=254), metadata={"description": "Substring of the address"}
    )
    name = Text(
        validate=validate.Length(max=100), metadata={"description": "Substring of the name"}
    )
    status = _choice([s.value for s in SubscriberStatus])
    language = Text(validate=validate.Length(max=8))
    list = _id(strict=False, metadata={"description": "Only subscribers of this list"})


class SubscriberPage(Page):
    items = fields.List(fields.Nested(SubscriberSchema), required=True)


class BulkSubscribers(Schema):
    subscribers = fields.List(
        fields.Nested(SubscriberCreate), required=True, validate=validate.Length(1, 1000)
    )


class BulkItem(Schema):
    email = Text(required=True)
    id = fields.Integer(allow_none=True, required=True)
    result = _choice(["created", "updated", "skipped"], required=True)
    code = Text(allow_none=True, required=True, metadata={"description": "Why it was skipped"})


class BulkResult(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    items = fields.List(fields.Nested(BulkItem), required=True)


class DeleteArgs(Schema):
    suppress = fields.Boolean(
        load_default=True,
        metadata={"description": "Keep a hash of the address so it is never imported again"},
    )


# Lists


def _names(**kwargs) -> fields.Dict:
    return fields.Dict(
        keys=Text(validate=known_language),
        values=Text(validate=[validate.Length(1, 100), single_line, not_blank]),
        **kwargs,
    )


class ListSchema(Schema):
    id = fields.Integer(required=True)
    slug = Text(required=True)
    names = fields.Dict(keys=Text(), values=Text(), required=True)
    descriptions = fields.Dict(keys=Text(), values=Text(), required=True)
    public = fields.Boolean(required=True)
    created_at = _when(required=True)


class ListUpdate(Schema):
    slug = Text(validate=list_slug)
    names = _names(validate=validate.Length(min=1))
    descriptions = fields.Dict(
        keys=Text(validate=known_language),
        values=Text(validate=validate.Length(max=500)),
    )
    public = fields.Boolean()


class ListCreate(ListUpdate):
    slug = Text(required=True, validate=list_slug)
    names = _names(required=True, validate=validate.Length(min=1))
    descriptions = fields.Dict(
        keys=Text(validate=known_language),
        values=Text(validate=validate.Length(max=500)),
        load_default=dict,
    )
    public = fields.Boolean(load_default=True)


class ListPage(Page):
    items = fields.List(fields.Nested(ListSchema), required=True)


# Issues


class VariantInput(Schema):
    subject = Text(required=True, validate=[validate.Length(1, 200), single_line])
    preheader = Text(load_default="", validate=[validate.Length(max=200), single_line])
    body = Text(required=True, validate=[validate.Length(1, 200_000), not_blank])
    version = fields.Integer(
        validate=validate.Range(0, 2_147_483_647),
        metadata={
            "description": "The version this text was written from (0: the language had no"
            " text). If another text was saved since, nothing is written: 409 `conflict`."
        },
    )


class VariantSchema(Schema):
    language = Text(required=True)
    subject = Text(required=True)
    preheader = Text(required=True)
    body = Text(required=True)
    version = fields.Integer(
        required=True, metadata={"description": "1 for the first text, +1 per saved change."}
    )
    updated_at = _when(required=True)
    state = _choice(
        [s.value for s in TranslationState],
        required=True,
        metadata={"description": "draft, ready (for review) or approved"},
    )
    approved_at = fields.Method(
        "approval_time",
        required=True,
        metadata={"type": "string", "format": "date-time", "nullable": True},
    )
    source_version = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The default language's version this translation follows"},
    )
    stale = fields.Method(
        "is_stale",
        required=True,
        metadata={"type": "boolean", "description": "The source changed since source_version"},
    )

    def is_stale(self, variant) -> bool:
        return is_stale(variant.issue, variant)

    def approval_time(self, variant) -> str | None:
        if variant.approval is None:
            return None
        return variant.approval.approved_at.replace(tzinfo=UTC).isoformat()


class FallbackChoiceSchema(Schema):
    language = Text(required=True)
    chosen_at = _when(required=True)


class SendPlanSchema(Schema):
    language = Text(required=True)
    outcome = _choice(["own", "second_language", "fallback", "skipped"], required=True)
    readers = fields.Integer(required=True)


class TranslationsSchema(Schema):
    require_approval = fields.Boolean(required=True)
    not_ready = fields.List(
        Text(),
        required=True,
        metadata={"description": "Languages that keep the issue from being sent"},
    )
    fallback_choices = fields.List(fields.Nested(FallbackChoiceSchema), required=True)
    plan = fields.List(fields.Nested(SendPlanSchema), required=True)


class SourceChangesSchema(Schema):
    language = Text(required=True)
    from_version = fields.Integer(allow_none=True, required=True)
    to_version = fields.Integer(required=True)
    subject = Text(required=True, metadata={"description": "HTML: <del> and <ins> words"})
    preheader = Text(required=True)
    body = Text(required=True)


AUTOMATION_DOC = {
    "description": "Automated: sent to each new subscriber of its lists this many days "
    "after they joined (0: a welcome), from when it is started; null: a campaign"
}


class IssueSchema(Schema):
    id = fields.Integer(required=True)
    name = Text(required=True)
    status = _choice([s.value for s in IssueStatus], required=True)
    default_language = Text(required=True)
    fallback = _choice([f.value for f in Fallback], required=True)
    lists = fields.Method(
        "sorted_lists", required=True, metadata={"type": "array", "items": {"type": "integer"}}
    )
    audience_languages = fields.List(Text(), allow_none=True, required=True)
    layout_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "See /layouts; null: the default"}
    )
    audience_event = fields.Method(
        "event_audience",
        required=True,
        metadata={
            "description": "The people of an event it goes to (within its lists, if any)",
            "type": "object",
            "nullable": True,
            "properties": {
                "event_id": {"type": "integer"},
                "group": {"type": "string", "enum": [g.value for g in EventGroup]},
            },
        },
    )
    variants = fields.List(fields.Nested(VariantSchema), required=True)
    track_clicks = fields.Boolean(required=True)
    track_opens = fields.Boolean(required=True)
    sent_after_days = fields.Integer(allow_none=True, required=True, metadata=AUTOMATION_DOC)
    scheduled_at = _when(allow_none=True, required=True)
    started_at = _when(allow_none=True, required=True)
    finished_at = _when(allow_none=True, required=True)
    created_at = _when(required=True)
    updated_at = _when(required=True)

    def sorted_lists(self, issue) -> list[int]:
        return sorted(issue.list_ids)

    def event_audience(self, issue) -> dict | None:
        audience = event_audience_of(issue)
        return {"event_id": audience.event_id, "group": audience.group.value} if audience else None


class EventAudienceInput(Schema):
    event_id = _id(required=True)
    group = _choice([g.value for g in EventGroup], required=True)


class IssueUpdate(Schema):
    name = Text(validate=[validate.Length(1, 200), single_line, not_blank])
    default_language = Text(validate=known_language, metadata=LANGUAGE_DOC)
    fallback = _choice([f.value for f in Fallback])
    lists = fields.List(_id(), validate=validate.Length(1, 100))
    audience_languages = fields.List(
        Text(validate=known_language),
        allow_none=True,
        metadata={"description": "Send only to subscribers of these languages; null: all"},
    )
    layout_id = _id(metadata={"description": "A layout's id (see /layouts); default: the default"})
    track_clicks = fields.Boolean(metadata={"description": "Count clicks on its links"})
    track_opens = fields.Boolean(metadata={"description": "Count opens (unreliable)"})
    audience_event = fields.Nested(
        EventAudienceInput,
        allow_none=True,
        metadata={"description": "Send to the people of an event; null: to the lists"},
    )
    sent_after_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 365), metadata=AUTOMATION_DOC
    )


class IssueCreate(IssueUpdate):
    name = Text(required=True, validate=[validate.Length(1, 200), single_line, not_blank])
    lists = fields.List(
        _id(),
        required=True,
        validate=validate.Length(0, 100),
        metadata={"description": "May be empty when audience_event is given"},
    )

    @validates_schema(skip_on_field_errors=False)
    def lists_or_event(self, data: dict, **_kwargs) -> None:
        if not data.get("lists") and not data.get("audience_event"):
            raise ValidationError(str(_l("Choose one or more lists.")), "lists")

    variants = fields.Dict(
        keys=Text(validate=known_language),
        values=fields.Nested(VariantInput),
        load_default=dict,
        metadata={"description": "Texts by language code"},
    )


class LayoutSchema(Schema):
    id = fields.Integer(required=True)
    name = Text(required=True)
    is_default = fields.Boolean(required=True)
    brand_color = Text(
        allow_none=True, required=True, metadata={"description": "null: the organisation's"}
    )
    background_color = Text(allow_none=True, required=True)
    header = fields.Dict(
        keys=Text(), values=Text(), required=True, metadata={"description": "Markdown by language"}
    )
    footer = fields.Dict(
        keys=Text(), values=Text(), required=True, metadata={"description": "Markdown by language"}
    )
    updated_at = _when(required=True)


class LayoutList(Schema):
    items = fields.List(fields.Nested(LayoutSchema), required=True)


class IssueFilter(PageArgs):
    status = _choice([s.value for s in IssueStatus])


class IssuePage(Page):
    items = fields.List(fields.Nested(IssueSchema), required=True)


class AttachmentSchema(Schema):
    id = fields.Integer(required=True)
    filename = Text(required=True, metadata={"description": "As sent (made safe)"})
    content_type = Text(required=True, metadata={"description": "From the file's content"})
    size = fields.Integer(required=True, metadata={"description": "Bytes"})
    sha256 = Text(required=True)
    link_only = fields.Boolean(
        required=True, metadata={"description": "Offered as a download link, not attached"}
    )
    url = fields.Method("download_url", required=True, metadata={"type": "string"})
    position = fields.Integer(required=True)
    created_at = _when(required=True)

    def download_url(self, attachment) -> str:
        return external_url(
            "public.hosted_file", token=attachment.token, filename=attachment.filename
        )


class AttachmentList(Schema):
    items = fields.List(fields.Nested(AttachmentSchema), required=True)


class AttachmentUpload(Schema):
    """A multipart/form-data body."""

    file = Upload(required=True, metadata={"description": "PDF, ICS, image or office document"})
    link_only = fields.Boolean(
        load_default=False,
        metadata={"description": "Offer the file as a download link instead of attaching it"},
    )


class LanguageArgs(Schema):
    name = Text(
        validate=[validate.Length(max=100), single_line],
        metadata={"description": "Preview as seen by a subscriber with this name"},
    )


class PreviewSchema(Schema):
    language = Text(required=True)
    subject = Text(required=True)
    from_ = Text(data_key="from", required=True)
    html = Text(required=True)
    text = Text(required=True)


class TestSendInput(Schema):
    to = EmailField(required=True, validate=validate.Length(max=254))
    language = Text(required=True, validate=known_language, metadata=LANGUAGE_DOC)


class ScheduleInput(Schema):
    at = _when(required=True, metadata={"description": "When to start sending (UTC if naive)"})


class SendResult(Schema):
    issue = fields.Nested(IssueSchema, required=True)
    recipients = fields.Integer(required=True, metadata={"description": "Rows in the ledger"})


class CountsSchema(Schema):
    queued = fields.Integer(required=True)
    sending = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    total = fields.Integer(required=True)


class PreparationSchema(Schema):
    written = fields.Integer(required=True, metadata={"description": "Ledger rows written"})
    total = fields.Integer(
        required=True, metadata={"description": "Rows the ledger will have (counted at start)"}
    )


class ProgressSchema(Schema):
    status = _choice([s.value for s in IssueStatus], required=True)
    preparing = fields.Nested(
        PreparationSchema,
        allow_none=True,
        required=True,
        metadata={"description": "How far the ledger is written; null once it is complete"},
    )
    overall = fields.Nested(CountsSchema, required=True)
    languages = fields.Dict(keys=Text(), values=fields.Nested(CountsSchema), required=True)
    rate = fields.Float(required=True, metadata={"description": "Messages per second, recently"})
    window = fields.Integer(required=True, metadata={"description": "Seconds the rate is over"})


class LanguageResultsSchema(Schema):
    delivered = fields.Integer(required=True)
    opened = fields.Integer(required=True, metadata={"description": "People (a click counts)"})
    clicked = fields.Integer(required=True, metadata={"description": "People"})
    clicks = fields.Integer(required=True)
    click_rate = fields.Float(required=True, metadata={"description": "clicked / delivered"})
    bounced = fields.Integer(required=True)
    unsubscribed = fields.Integer(required=True)
    complained = fields.Integer(required=True)


class LinkResultsSchema(Schema):
    language = Text(required=True)
    position = fields.Integer(required=True)
    url = Text(required=True)
    clicks = fields.Integer(required=True)
    people = fields.Integer(required=True)


class ResultsSchema(Schema):
    track_clicks = fields.Boolean(required=True)
    track_opens = fields.Boolean(required=True)
    languages = fields.Dict(keys=Text(), values=fields.Nested(LanguageResultsSchema), required=True)
    links = fields.List(fields.Nested(LinkResultsSchema), required=True)


class DeliveryFilter(PageArgs):
    state = _choice([s.value for s in DeliveryState])


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    subscriber_id = fields.Integer(required=True)
    language = Text(allow_none=True, required=True)
    state = _choice([s.value for s in DeliveryState], required=True)
    attempts = fields.Integer(required=True)
    last_code = fields.Integer(allow_none=True, required=True)
    last_response = Text(allow_none=True, required=True)
    message_id = Text(allow_none=True, required=True)
    sent_at = _when(allow_none=True, required=True)
    updated_at = _when(required=True)


class DeliveryPage(Page):
    items = fields.List(fields.Nested(DeliverySchema), required=True)


TOKEN_SCOPES = [s.value for s in TokenScope]


# Events


class EventTextSchema(Schema):
    title = Text(required=True)
    free_question = Text(required=True, metadata={"description": "The wording of its own question"})
    summary = Text(required=True)
    description = Text(required=True, metadata={"description": "Markdown"})
    place_name = Text(required=True)
    place_address = Text(required=True)


class EventSchema(Schema):
    id = fields.Integer(required=True)
    starts_at = _when(required=True)
    ends_at = _when(required=True)
    time_zone = Text(required=True, metadata={"description": "IANA zone the event is shown in"})
    registration_deadline = _when(allow_none=True, required=True)
    capacity = fields.Integer(
        allow_none=True, required=True, metadata={"description": "null: no limit"}
    )
    waiting_list = fields.Boolean(required=True)
    online_url = Text(allow_none=True, required=True)
    published = fields.Boolean(required=True)
    texts = fields.Dict(
        keys=Text(),
        values=fields.Nested(EventTextSchema),
        attribute="texts_by_language",
        required=True,
        metadata={"description": "By language; a language without a text is absent"},
    )
    questions = fields.Dict(
        keys=Text(),
        values=Text(),
        required=True,
        metadata={"description": "Asked questions: optional or required"},
    )
    registrations = fields.Method(
        "registration_counts",
        required=True,
        metadata={
            "description": "How many registrations have each status",
            "type": "object",
            "additionalProperties": {"type": "integer"},
        },
    )

    rsvps = fields.Method(
        "rsvp_counts",
        required=True,
        metadata={
            "description": "Subscribers sent an invitation, and each answer",
            "type": "object",
            "additionalProperties": {"type": "integer"},
        },
    )

    def registration_counts(self, event) -> dict[str, int]:
        return registrations.totals(event.id)

    def rsvp_counts(self, event) -> dict[str, int]:
        return {key: row["all"] for key, row in invitations.answer_counts(event.id).items()}


class RegistrationSchema(Schema):
    id = fields.Integer(required=True)
    email = Text(required=True)
    name = Text(required=True)
    language = Text(required=True)
    status = Text(required=True, attribute="status.value")
    answers = fields.Dict(keys=Text(), values=Text(), required=True)
    created_at = _when(required=True)
    confirmed_at = _when(allow_none=True, required=True)
    cancelled_at = _when(allow_none=True, required=True)


class RegistrationList(Schema):
    items = fields.List(fields.Nested(RegistrationSchema), required=True)


class EventList(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
