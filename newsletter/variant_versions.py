"""Versions of an issue's variants: what each save left, and what to do with a text written
from an older version than the one saved since (write it, keep theirs, or ask the editor).

``campaigns.set_variant`` numbers the versions and stores each one; this module reads
them, decides conflicts for a whole composer before anything is written, and restores.
"""

import enum
from dataclasses import dataclass

from .campaigns import normalized_text, set_variant, stored_text
from .extensions import db
from .models import Issue, IssueVariant, User, VariantRevision


@dataclass(frozen=True)
class Draft:
    """One language's text as an editor sends it, and the version it was written from
    (0: the language had no variant; None: the sender did not say, so nothing is checked)."""

    subject: str
    preheader: str
    body: str
    base_version: int | None

    @property
    def text(self) -> tuple[str, str, str]:
        return normalized_text(self.subject, self.preheader, self.body)

    @property
    def empty(self) -> bool:
        return not self.subject.strip() and not self.body.strip()


class Outcome(enum.Enum):
    WRITE = "write"  # up to date, or the same text as saved
    KEEP_SAVED = "keep_saved"  # changed by someone else only: the editor left it as it was
    CONFLICT = "conflict"  # changed on both sides


@dataclass(frozen=True)
class Conflict:
    """A language both editors changed: the text saved meanwhile (``saved`` is None when
    that save removed the variant) against the editor's draft."""

    language: str
    draft: Draft
    saved_version: int
    saved: VariantRevision | None


def current_version(variant: IssueVariant | None) -> int:
    return variant.version if variant is not None else 0


def revision(variant: IssueVariant, version: int) -> VariantRevision | None:
    return db.session.execute(
        db.select(VariantRevision).filter_by(variant_id=variant.id, version=version)
    ).scalar_one_or_none()


def latest_revision(variant: IssueVariant) -> VariantRevision | None:
    return revision(variant, variant.version)


def revisions(variant: IssueVariant) -> list[VariantRevision]:
    """Every saved version of a variant, newest first, with who saved it."""
    return list(
        db.session.execute(
            db.select(VariantRevision)
            .filter_by(variant_id=variant.id)
            .order_by(VariantRevision.version.desc())
            .options(db.joinedload(VariantRevision.saved_by))
        ).scalars()
    )


def outcome(issue: Issue, language: str, draft: Draft) -> Outcome:
    variant = issue.variant(language)
    saved = current_version(variant)
    if draft.base_version is None or draft.base_version == saved:
        return Outcome.WRITE
    if (draft.empty and variant is None) or draft.text == stored_text(variant):
        return Outcome.WRITE
    # The editor's text is still the version they started from: only the other side changed.
    if draft.base_version == 0:
        untouched = draft.empty
    else:
        base = revision(variant, draft.base_version) if variant is not None else None
        untouched = base is not None and draft.text == stored_text(base)
    return Outcome.KEEP_SAVED if untouched else Outcome.CONFLICT


def outcomes(issue: Issue, drafts: dict[str, Draft]) -> dict[str, Outcome]:
    return {language: outcome(issue, language, draft) for language, draft in drafts.items()}


def conflicts(issue: Issue | None, drafts: dict[str, Draft]) -> list[Conflict]:
    """The languages where a save of ``drafts`` would overwrite someone else's change."""
    if issue is None:
        return []
    found = []
    for language, result in outcomes(issue, drafts).items():
        if result is Outcome.CONFLICT:
            variant = issue.variant(language)
            found.append(
                Conflict(
                    language,
                    drafts[language],
                    current_version(variant),
                    latest_revision(variant) if variant is not None else None,
                )
            )
    return found


def restore(issue: Issue, language: str, version: int, saved_by: User | None) -> IssueVariant:
    """Save an earlier version's text again, as the newest version (``CampaignError`` once
    sending started). Raises LookupError for a version that does not exist."""
    variant = issue.variant(language)
    old = revision(variant, version) if variant is not None else None
    if old is None:
        raise LookupError(version)
    return set_variant(
        issue, language, old.subject, old.body, old.preheader, saved_by, variant.version
    )
