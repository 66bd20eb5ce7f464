"""Where each language of an issue stands: its state (draft, ready for review, approved),
whether its translation still follows the source, what changed in the source since, and
whether the issue may be sent.

The source of every translation is the variant in the issue's default language. A
translation records the source's version it was last brought up to date with; it is stale
once the source has a newer version. Marking it up to date is an explicit act: writing the
translation does not say that it now covers every change of the source.

When the organisation requires approval, an issue is sent or scheduled only when every
language of its audience that has a variant is approved and up to date, or an editor chose
to send that language the issue's fallback instead.
"""

from collections import Counter
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup

from .campaigns import (
    CampaignError,
    check_editable,
    event_audience_of,
    reader_language_orders,
    reading_language,
)
from .i18n import language_name
from .models import (
    Fallback,
    FallbackChoice,
    Issue,
    IssueVariant,
    Role,
    TranslationState,
    User,
    VariantApproval,
    utcnow,
)
from .organisation import current_organisation
from .variant_versions import revision
from .word_diff import word_diff

DIFFED_FIELDS = ("subject", "preheader", "body")


class TranslationsNotReady(CampaignError):
    """Sending was refused: ``languages`` are not approved or not up to date."""

    def __init__(self, languages: list[str]):
        super().__init__(
            _(
                "These languages are not approved or not up to date with the source: "
                "%(languages)s. Approve them, or choose to send them the fallback.",
                languages=", ".join(f"{language_name(code)} ({code})" for code in languages),
            ),
            "translations_not_ready",
        )
        self.languages = languages


def may_approve(user: User | None) -> bool:
    """Whether ``user`` may approve a language's text (editors and admins)."""
    return user is not None and user.role in (Role.ADMIN, Role.EDITOR)


def source_variant(issue: Issue) -> IssueVariant | None:
    return issue.variant(issue.default_language)


def is_source(issue: Issue, variant: IssueVariant) -> bool:
    return variant.language == issue.default_language


def is_stale(issue: Issue, variant: IssueVariant) -> bool:
    """A translation whose source has changed since it was brought up to date (one never
    brought up to date with an existing source counts as stale)."""
    source = source_variant(issue)
    if source is None or is_source(issue, variant):
        return False
    return variant.source_version is None or source.version > variant.source_version


def track_source(issue: Issue, variant: IssueVariant) -> None:
    """Record the source's current version as the one ``variant`` is up to date with."""
    if is_source(issue, variant):
        return
    source = source_variant(issue)
    variant.source_version = source.version if source is not None else None
    variant.up_to_date_at = utcnow()


def adopt_new_source(issue: Issue, source: IssueVariant) -> None:
    """Translations written before the source existed follow its first version: they can
    not lag behind a text that was not there."""
    for variant in issue.variants:
        if variant is not source and variant.source_version is None:
            variant.source_version = source.version


def follow_new_source(issue: Issue) -> None:
    """After the default language changed, the versions a translation followed are those
    of another text: each now follows the new source as it is."""
    for variant in issue.variants:
        variant.source_version = None
        track_source(issue, variant)


def reset_to_draft(variant: IssueVariant) -> None:
    """A changed text is no longer the one that was reviewed or approved."""
    variant.state = TranslationState.DRAFT
    variant.approval = None


def variant_or_error(issue: Issue, language: str) -> IssueVariant:
    variant = issue.variant(language) if isinstance(language, str) else None
    if variant is None:
        raise CampaignError(_("The issue has no text in this language."), "variant_not_found")
    return variant


def not_a_translation() -> CampaignError:
    return CampaignError(
        _("The default language is the source of the translations."), "not_a_translation"
    )


def mark_up_to_date(issue: Issue, language: str) -> IssueVariant:
    """Say that the translation in ``language`` now covers the source as it is."""
    check_editable(issue)
    variant = variant_or_error(issue, language)
    if is_source(issue, variant):
        raise not_a_translation()
    track_source(issue, variant)
    return variant


def request_review(issue: Issue, language: str) -> IssueVariant:
    """Move a draft to "ready for review" (an approved text stays approved)."""
    check_editable(issue)
    variant = variant_or_error(issue, language)
    if variant.state == TranslationState.APPROVED:
        raise CampaignError(_("This language is already approved."), "already_approved")
    variant.state = TranslationState.READY
    return variant


def approve(issue: Issue, language: str, user: User | None) -> IssueVariant:
    """Approve the text in ``language`` as it is now, recording who and when."""
    check_editable(issue)
    if not may_approve(user):
        raise CampaignError(_("You may not approve texts."), "forbidden")
    variant = variant_or_error(issue, language)
    if variant.state == TranslationState.APPROVED:
        raise CampaignError(_("This language is already approved."), "already_approved")
    if is_stale(issue, variant):
        raise CampaignError(
            _("The source changed since this translation: mark it up to date first."),
            "translation_stale",
        )
    variant.state = TranslationState.APPROVED
    variant.approval = VariantApproval(approved_by=user, approved_at=utcnow())
    return variant


def choose_fallback(issue: Issue, language: str, user: User | None) -> FallbackChoice:
    """Send ``language`` the issue's fallback instead of its own translation."""
    check_editable(issue)
    variant = variant_or_error(issue, language)
    if is_source(issue, variant):
        raise CampaignError(
            _("The default language can't fall back to itself."), "not_a_translation"
        )
    choice = fallback_choice(issue, language)
    if choice is None:
        choice = FallbackChoice(language=language, chosen_by_id=user.id if user else None)
        issue.fallback_choices.append(choice)
    return choice


def revoke_fallback(issue: Issue, language: str) -> None:
    """Send ``language`` its own translation again (once it is ready)."""
    check_editable(issue)
    choice = fallback_choice(issue, language) if isinstance(language, str) else None
    if choice is None:
        raise CampaignError(_("No fallback was chosen for this language."), "fallback_not_chosen")
    issue.fallback_choices.remove(choice)


def fallback_choice(issue: Issue, language: str) -> FallbackChoice | None:
    return next((c for c in issue.fallback_choices if c.language == language), None)


def approval_required() -> bool:
    return current_organisation().require_approval


def audience_languages(issue: Issue) -> list[str]:
    return list(issue.audience_languages or current_app.config["LANGUAGES"])


def unready_languages(issue: Issue) -> list[str]:
    """The audience's languages that keep the issue from going out, by language code;
    none when the organisation does not require approval."""
    if not approval_required():
        return []
    audience = audience_languages(issue)
    return [
        variant.language
        for variant in issue.variants
        if variant.language in audience
        and variant.language in issue.sent_languages
        and (variant.state != TranslationState.APPROVED or is_stale(issue, variant))
    ]


def check_ready_to_send(issue: Issue) -> None:
    languages = unready_languages(issue)
    if languages:
        raise TranslationsNotReady(languages)


@dataclass(frozen=True)
class LanguageStatus:
    """One configured language of an issue, as the composer and lists show it."""

    language: str
    variant: IssueVariant | None
    stale: bool
    fallback: FallbackChoice | None

    @property
    def state(self) -> TranslationState | None:
        return self.variant.state if self.variant is not None else None


def statuses(issue: Issue) -> dict[str, LanguageStatus]:
    """Every configured language with its variant (or None), staleness and fallback."""
    result = {}
    for language in current_app.config["LANGUAGES"]:
        variant = issue.variant(language)
        result[language] = LanguageStatus(
            language,
            variant,
            variant is not None and is_stale(issue, variant),
            fallback_choice(issue, language),
        )
    return result


@dataclass(frozen=True)
class SourceChanges:
    """What changed in the source since a translation was brought up to date."""

    language: str
    from_version: int | None
    to_version: int
    diffs: dict[str, Markup]


def source_changes(issue: Issue, language: str) -> SourceChanges:
    """Word-level diffs of the source's subject, preheader and body between the version
    the translation follows and the source's current text."""
    variant = variant_or_error(issue, language)
    source = source_variant(issue)
    if source is None or is_source(issue, variant):
        raise not_a_translation()
    old = revision(source, variant.source_version) if variant.source_version else None
    diffs = {
        name: word_diff(getattr(old, name) if old else "", getattr(source, name))
        for name in DIFFED_FIELDS
    }
    return SourceChanges(language, variant.source_version, source.version, diffs)


@dataclass(frozen=True)
class SendPlan:
    """Readers of one language who get the same thing, and how many they are."""

    language: str
    # "own" (its approved or accepted text), "second_language" (the text in their second
    # language), "fallback", "skipped"
    outcome: str
    readers: int


def send_plan(issue: Issue) -> list[SendPlan]:
    """What the readers of each language would receive if the issue were sent now, by the
    rule ``start_sending`` follows: one row per language and outcome."""
    groups = reader_language_orders(
        issue.list_ids, issue.audience_languages, event_audience_of(issue)
    )
    languages = audience_languages(issue)
    languages += sorted({first for first, _second, _count in groups} - set(languages))
    sent = issue.sent_languages
    fallback = issue.default_language if issue.fallback == Fallback.DEFAULT else None

    def outcome(language: str, second: str | None) -> str:
        code = reading_language(language, second, sent, fallback)
        if code is None:
            return "skipped"
        if code == language:
            return "own"
        return "second_language" if code == second else "fallback"

    plan = []
    for language in languages:
        readers = Counter()
        for first, second, count in groups:
            if first == language:
                readers[outcome(language, second)] += count
        if not readers:
            readers[outcome(language, None)] = 0
        plan.extend(SendPlan(language, name, count) for name, count in readers.items())
    return plan
