"""Duplicating an issue as the start of the next one: a new draft with the same texts in
every language, the same audience and the same language rules, whatever the original's
state (a sent issue is the usual template).

Every column and relationship of ``Issue`` and ``IssueVariant`` is named below as copied or
not; tests/test_duplicate.py fails when a new one is in neither set, so a field added later
(attachments, a template) is copied by deciding where it belongs.
"""

from flask_babel import gettext as _

from . import campaigns
from .models import Attachment, Issue, IssueVariant, User

COPIED_ISSUE_FIELDS = (
    "default_language",
    "fallback",
    "audience_languages",
    "audience_event_id",
    "audience_event_group",
    "layout_id",
    "track_clicks",
    "track_opens",
    "sent_after_days",  # a copy of a welcome is a welcome, switched off
)
COPIED_ISSUE_RELATIONSHIPS = ("variants", "audience", "layout")
NOT_COPIED_ISSUE_FIELDS = (
    "id",
    "name",  # "Copy of …"
    "status",
    "scheduled_at",
    "started_at",
    "finished_at",
    "ledger_total",
    "ledger_written",
    "ledger_cursor",
    "ledger_ready_at",
    "translators_due_at",  # the copy has told nobody yet
    "created_at",
    "updated_at",
    "fallback_choices",  # a copy is a new text to review
)

COPIED_VARIANT_FIELDS = ("language", "subject", "preheader", "body")
COPIED_VARIANT_RELATIONSHIPS = ("attachments",)  # same files, each with a new link token
# Every copied text starts as a draft, up to date with the copied source.
NOT_COPIED_VARIANT_FIELDS = (
    "id",
    "issue_id",
    "version",
    "updated_at",
    "revisions",
    "issue",
    "state",
    "approval",
    "source_version",
    "up_to_date_at",
)
COPIED_ATTACHMENT_FIELDS = (
    "filename",
    "content_type",
    "size",
    "sha256",
    "data",
    "link_only",
    "position",
)


def copy_name(name: str) -> str:
    return _("Copy of %(name)s", name=name)[:200]


def duplicate_issue(original: Issue, saved_by: User | None = None) -> Issue:
    """A new draft like ``original`` (added to the session; the caller commits). Its
    variants start at version 1, saved by ``saved_by``."""
    copy = campaigns.create_issue(
        copy_name(original.name),
        original.default_language,
        original.list_ids,
        original.fallback,
        original.audience_languages,
        original.layout_id,
        campaigns.event_audience_of(original),
    )
    for name in COPIED_ISSUE_FIELDS:
        setattr(copy, name, getattr(original, name))
    # The source first, so that each translation is recorded against its version.
    source_first = sorted(original.variants, key=lambda v: v.language != copy.default_language)
    for variant in source_first:
        copy_variant(copy, variant, saved_by)
    return copy


def copy_variant(copy: Issue, variant: IssueVariant, saved_by: User | None) -> IssueVariant:
    text = {name: getattr(variant, name) for name in COPIED_VARIANT_FIELDS}
    copied = campaigns.set_variant(
        copy, text["language"], text["subject"], text["body"], text["preheader"], saved_by
    )
    for attachment in variant.attachments:
        fields = {name: getattr(attachment, name) for name in COPIED_ATTACHMENT_FIELDS}
        copied.attachments.append(Attachment(**fields))
    return copied
