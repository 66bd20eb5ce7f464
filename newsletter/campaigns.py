"""Issues (campaigns): variants per language, audience, states and the ledger.

Functions change the session; the caller commits. ``campaign_control`` runs the state
changes (lock, change, commit, queue delivery), ``campaign_progress`` reads the ledger,
and sending itself is in ``delivery.py``.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    String,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    update,
)

from . import invitations, translators, webhooks
from .extensions import db
from .layouts import default_layout
from .mail.message import one_line
from .models import (
    Delivery,
    DeliveryState,
    Event,
    EventGroup,
    Fallback,
    Issue,
    IssueList,
    IssueStatus,
    IssueVariant,
    Layout,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    User,
    VariantRevision,
    utcnow,
)
from .organisation import current_organisation

EDITABLE = {IssueStatus.DRAFT, IssueStatus.SCHEDULED}
"""Before sending starts, an issue's texts and audience may still change."""

# action: (the states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[set[IssueStatus], IssueStatus]] = {
    "schedule": (EDITABLE, IssueStatus.SCHEDULED),
    "start": (EDITABLE, IssueStatus.SENDING),
    "pause": ({IssueStatus.SENDING}, IssueStatus.PAUSED),
    "resume": ({IssueStatus.PAUSED}, IssueStatus.SENDING),
    "finish": ({IssueStatus.SENDING}, IssueStatus.SENT),
    "cancel": (EDITABLE | {IssueStatus.SENDING, IssueStatus.PAUSED}, IssueStatus.CANCELLED),
    "resend": ({IssueStatus.SENT, IssueStatus.SENDING, IssueStatus.PAUSED}, IssueStatus.SENDING),
}


# Why an action was refused, in the words of the person who asked (English on the CLI).
REFUSALS = {
    "schedule": _l("Only a draft or a scheduled issue can be scheduled."),
    "start": _l("Only a draft or a scheduled issue can be sent."),
    "pause": _l("Only an issue that is being sent can be paused."),
    "resume": _l("Only a paused issue can be resumed."),
    "finish": _l("Only an issue that is being sent can be finished."),
    "cancel": _l("A sent or cancelled issue can't be cancelled."),
    "resend": _l("Only an issue that went out can be sent again to its failed recipients."),
}


AUTOMATION_AUDIENCE = _l(
    "An automated issue goes to the new subscribers of lists, not to an event."
)


class CampaignError(ValueError):
    """The issue can't do what was asked; the message says why, in the caller's language.

    ``code`` names the kind of refusal for machines (the API's error codes).
    """

    def __init__(self, message: str, code: str = "campaign_refused"):
        super().__init__(message)
        self.code = code


def refusal(action: str) -> CampaignError:
    """The error for an action the issue's state does not allow."""
    return CampaignError(str(REFUSALS[action]), "invalid_state")


def check_allowed(issue: Issue, action: str) -> None:
    """Raise the refusal if the issue's state does not allow ``action``."""
    if issue.status not in TRANSITIONS[action][0]:
        raise refusal(action)


def transition(issue: Issue, action: str) -> None:
    """The one place an issue changes state."""
    check_allowed(issue, action)
    issue.status = TRANSITIONS[action][1]


@dataclass(frozen=True)
class EventAudience:
    """The people of one event an issue goes to."""

    event_id: int
    group: EventGroup


def event_audience_of(issue: Issue) -> EventAudience | None:
    if issue.audience_event_id is None or issue.audience_event_group is None:
        return None
    return EventAudience(issue.audience_event_id, issue.audience_event_group)


def create_issue(
    name: str,
    default_language: str,
    list_ids: set[int],
    fallback: Fallback = Fallback.DEFAULT,
    languages: list[str] | None = None,
    layout_id: int | None = None,
    event_audience: EventAudience | None = None,
) -> Issue:
    if default_language not in current_app.config["LANGUAGES"]:
        raise CampaignError(_("Unknown language %(code)s.", code=repr(default_language)))
    organisation = current_organisation()
    issue = Issue(
        name=name[:200],
        default_language=default_language,
        fallback=fallback,
        status=IssueStatus.DRAFT,
        track_clicks=organisation.track_clicks,
        track_opens=organisation.track_opens,
    )
    set_audience(issue, list_ids, languages, event_audience)
    set_layout(issue, layout_id)
    db.session.add(issue)
    return issue


def set_default_language(issue: Issue, language: str) -> None:
    """Make ``language`` the issue's default, and so the source of its translations."""
    if language == issue.default_language:
        return
    if language not in current_app.config["LANGUAGES"]:
        raise CampaignError(_("Unknown language %(code)s.", code=repr(language)))
    from . import translation_status  # it builds on this module's refusals

    issue.default_language = language
    translation_status.follow_new_source(issue)


def is_editable(issue: Issue) -> bool:
    """Before sending starts: every subscriber of a campaign gets the same issue. An
    automated issue may also change while it is paused: its next readers get the new text."""
    return (
        issue.status is None
        or issue.status in EDITABLE
        or (issue.automated and issue.status == IssueStatus.PAUSED)
    )


def not_editable() -> CampaignError:
    return CampaignError(
        _("This issue can no longer be changed: sending has started."), "issue_not_editable"
    )


def check_editable(issue: Issue) -> None:
    """Refuse changes once sending started (see ``is_editable``)."""
    if not is_editable(issue):
        raise not_editable()


def set_layout(issue: Issue, layout_id: int | None) -> None:
    """The issue's layout; None picks the current default, so the issue keeps its look
    when another layout becomes the default later."""
    check_editable(issue)
    if layout_id is None:
        layout = default_layout()
        issue.layout = layout if layout.id is not None else None  # none saved: no row to name
        return
    layout = db.session.get(Layout, layout_id)
    if layout is None:
        raise CampaignError(_("There is no such layout."), "unknown_layout")
    issue.layout = layout


def set_audience(
    issue: Issue,
    list_ids: set[int],
    languages: list[str] | None = None,
    event_audience: EventAudience | None = None,
) -> None:
    """Who the issue goes to: the subscribers of ``list_ids``, or the people of an event
    (then the lists, if any, narrow them), of ``languages`` when given."""
    check_editable(issue)
    known = set(
        db.session.execute(select(MailingList.id).where(MailingList.id.in_(list_ids))).scalars()
    )
    if known != set(list_ids) or not (list_ids or event_audience):
        raise CampaignError(_("Choose one or more lists."))
    if event_audience is not None and db.session.get(Event, event_audience.event_id) is None:
        raise CampaignError(_("There is no such event."), "unknown_event")
    unknown = set(languages or []) - set(current_app.config["LANGUAGES"])
    if unknown:
        raise CampaignError(_("Unknown languages: %(codes)s.", codes=", ".join(sorted(unknown))))
    issue.audience = [IssueList(list_id=list_id) for list_id in sorted(list_ids)]
    issue.audience_languages = sorted(languages) if languages else None
    issue.audience_event_id = event_audience.event_id if event_audience else None
    issue.audience_event_group = event_audience.group if event_audience else None


def set_automation(issue: Issue, days: int | None) -> None:
    """Make the issue automated, sent ``days`` after each new subscriber of its lists
    joined (0: at once, a welcome), or an ordinary campaign (None). Only before it is
    switched on: a running automation can't turn into a campaign."""
    if issue.status is not None and issue.status not in EDITABLE:
        raise not_editable()
    if days is not None and not 0 <= days <= 365:
        raise CampaignError(_("Choose a number of days from 0 to 365."), "invalid_days")
    issue.sent_after_days = days


class VersionConflict(CampaignError):
    """Someone saved the variant after the version this text was written from."""

    def __init__(self, language: str):
        super().__init__(
            _("Someone else saved this text in the meantime: compare it with yours first."),
            "conflict",
        )
        self.language = language


def normalized_text(subject: str, preheader: str, body: str) -> tuple[str, str, str]:
    """A variant's text as it is stored: subject and preheader on one line (keeping
    no-break spaces), cut to size; the body with LF line ends (browsers post CRLF)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return one_line(subject)[:200], one_line(preheader)[:200], body


def stored_text(variant: IssueVariant | None) -> tuple[str, str, str]:
    """The text of a variant (all empty for a language without one)."""
    if variant is None:
        return "", "", ""
    return variant.subject, variant.preheader, variant.body


def set_variant(
    issue: Issue,
    language: str,
    subject: str,
    body: str,
    preheader: str = "",
    saved_by: User | None = None,
    base_version: int | None = None,
) -> IssueVariant:
    """Write or replace the issue's text in one language; a change is a new version.

    ``base_version`` is the version the text was written from (0: the language had no
    variant); a different text saved since then is not overwritten (``VersionConflict``).
    """
    check_editable(issue)
    if language not in current_app.config["LANGUAGES"]:
        raise CampaignError(_("Unknown language %(code)s.", code=repr(language)))
    text = normalized_text(subject, preheader, body)
    if not text[0] or not text[2].strip():
        raise CampaignError(_("A variant needs a subject and a body."))
    variant = issue.variant(language)
    current = variant.version if variant is not None else 0
    unchanged = text == stored_text(variant)
    if base_version is not None and base_version != current and not unchanged:
        raise VersionConflict(language)
    if unchanged:
        return variant
    from . import translation_status  # it builds on this module's refusals

    if variant is None:
        variant = IssueVariant(language=language, version=0)
        issue.variants.append(variant)
        # A new translation is written from the source as it is now.
        translation_status.track_source(issue, variant)
    translation_status.reset_to_draft(variant)
    variant.subject, variant.preheader, variant.body = text
    variant.version += 1
    if language == issue.default_language:
        translators.note_source_change(issue)
    if variant.version == 1 and language == issue.default_language:
        translation_status.adopt_new_source(issue, variant)
    # The unique (variant, version) makes the later of two simultaneous saves fail.
    db.session.add(
        VariantRevision(
            variant=variant,
            version=variant.version,
            subject=variant.subject,
            preheader=variant.preheader,
            body=variant.body,
            saved_at=utcnow(),
            saved_by=saved_by,
        )
    )
    return variant


def _check_ready(issue: Issue, action: str) -> None:
    """Refuse ``action`` if the state does not allow it, then if the issue is incomplete."""
    if issue.status not in TRANSITIONS[action][0]:
        raise refusal(action)
    if issue.variant(issue.default_language) is None:
        raise CampaignError(
            _("The issue has no variant in its default language."), "issue_not_ready"
        )
    if not issue.audience and event_audience_of(issue) is None:
        raise CampaignError(_("The issue has no audience."), "issue_not_ready")
    if issue.automated and (not issue.audience or issue.audience_event_id is not None):
        raise CampaignError(str(AUTOMATION_AUDIENCE), "issue_not_ready")
    from . import translation_status  # it builds on this module's refusals

    translation_status.check_ready_to_send(issue)


def schedule(issue: Issue, when: datetime) -> None:
    _check_ready(issue, "schedule")
    transition(issue, "schedule")
    issue.scheduled_at = when


def variant_language(variants: list[str], fallback: str | None):
    """The variant a subscriber reads, as SQL: their language, else their second language,
    else ``fallback`` (the default language, or None: skipped). The one rule the ledger,
    the audience counts and the archive follow."""
    return case(
        (Subscriber.language.in_(variants), Subscriber.language),
        (Subscriber.second_language.in_(variants), Subscriber.second_language),
        else_=literal(fallback, String) if fallback else null(),
    )


def reading_language(
    language: str, second_language: str | None, variants: set[str], fallback: str | None
) -> str | None:
    """The same rule for one reader in Python: the language of the variant they read, or
    None when skipped."""
    for code in (language, second_language):
        if code and code in variants:
            return code
    return fallback


def chosen_variant(issue: Issue, language: str, second_language: str | None = None):
    """The variant one reader gets, or None when skipped."""
    fallback = issue.default_language if issue.fallback == Fallback.DEFAULT else None
    code = reading_language(language, second_language, issue.sent_languages, fallback)
    return issue.variant(code) if code else None


def start_sending(issue: Issue) -> int:
    """Fix the audience in the ledger and move to ``sending``; return the ledger's size.

    The ledger is written in chunks (ledger.py): the first one now, the rest by the
    delivery tasks. The Message-ID, signed per subscriber (which SQL can't do portably),
    is the worker's job.
    """
    _check_ready(issue, "start")
    transition(issue, "start")
    issue.started_at = utcnow()
    db.session.flush()
    from . import ledger, tracking  # they build on this module's rules

    invitations.record_invitations(issue)
    tracking.record_links(issue)
    webhooks.campaign_event("campaign.started", issue)
    if issue.automated:  # its rows are added as people join (automations.py)
        issue.ledger_total = issue.ledger_written = 0
        issue.ledger_ready_at = issue.started_at
        return 0
    return ledger.begin(issue)


def pause(issue: Issue) -> None:
    transition(issue, "pause")


def resume(issue: Issue) -> None:
    transition(issue, "resume")
    if issue.automated:  # it may have been edited while paused
        if issue.variant(issue.default_language) is None:
            raise CampaignError(
                _("The issue has no variant in its default language."), "issue_not_ready"
            )
        from . import tracking  # it builds on this module's rules

        invitations.record_invitations(issue)
        tracking.record_links(issue)


def cancel(issue: Issue) -> None:
    transition(issue, "cancel")
    issue.finished_at = utcnow()


def resend_failed(issue: Issue) -> int:
    """Queue the failed deliveries again (only those; nobody else gets a second copy)."""
    transition(issue, "resend")
    issue.finished_at = None
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.issue_id == issue.id, Delivery.state == DeliveryState.FAILED)
        .values(state=DeliveryState.QUEUED, attempts=0, next_attempt_at=utcnow())
    )
    return result.rowcount


def claimable(issue_id: int, now):
    """Rows ready to send: queued and due, or in flight under a lease that ran out."""
    return and_(
        Delivery.issue_id == issue_id,
        or_(
            and_(Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at <= now),
            and_(Delivery.state == DeliveryState.SENDING, Delivery.lease_until < now),
        ),
    )


def finish_if_done(issue_id: int) -> bool:
    """Mark a sending issue sent once no delivery is queued or in flight."""
    issue = db.session.get(Issue, issue_id, with_for_update=True)
    if issue is None or issue.status != IssueStatus.SENDING or issue.preparing:
        return False
    if issue.automated:  # it goes on for every new subscriber until switched off
        return False
    open_rows = db.session.execute(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.issue_id == issue_id,
            Delivery.state.in_([DeliveryState.QUEUED, DeliveryState.SENDING]),
        )
    ).scalar()
    if open_rows:
        return False
    transition(issue, "finish")
    issue.finished_at = utcnow()
    webhooks.campaign_event("campaign.finished", issue)
    return True


def due_scheduled_issues() -> list[int]:
    """Scheduled issues whose time has come."""
    return list(
        db.session.execute(
            select(Issue.id).where(
                Issue.status == IssueStatus.SCHEDULED, Issue.scheduled_at <= utcnow()
            )
        ).scalars()
    )


def stalled_issues(grace_seconds: int) -> list[int]:
    """Sending issues with rows to send (or to write) but no ledger activity for
    ``grace_seconds``.

    Every claim and every result touches ``updated_at``, so a campaign that is merely slow
    (a rate limit, retries) is not mistaken for one whose workers died.
    """
    now = utcnow()
    recent = exists().where(
        Delivery.issue_id == Issue.id,
        Delivery.updated_at >= now - timedelta(seconds=grace_seconds),
    )
    return list(
        db.session.execute(
            select(Issue.id).where(
                Issue.status == IssueStatus.SENDING,
                Issue.sent_after_days.is_(None),  # automations.due_issues has its own rule
                or_(Issue.ledger_ready_at.is_(None), exists().where(claimable(Issue.id, now))),
                ~recent,
            )
        ).scalars()
    )


@dataclass(frozen=True)
class ArchiveEntry:
    issue_id: int
    language: str
    subject: str
    preheader: str
    sent_at: datetime


def archive(language: str, limit: int = 50) -> list[ArchiveEntry]:
    """Sent issues as readers of ``language`` received them, newest first.

    An issue without a variant in that language appears in its default language, unless
    its fallback rule skipped those readers.
    """
    issues = db.session.execute(
        select(Issue)
        .where(Issue.status == IssueStatus.SENT)
        .order_by(Issue.finished_at.desc(), Issue.id.desc())
        .limit(limit)
    ).scalars()
    entries = []
    for issue in issues:
        variant = chosen_variant(issue, language)
        if variant is not None:
            entries.append(
                ArchiveEntry(
                    issue.id,
                    variant.language,
                    variant.subject,
                    variant.preheader,
                    issue.finished_at or issue.started_at,
                )
            )
    return entries


@dataclass
class AudienceCounts:
    """How many confirmed readers get each variant, and how many are skipped."""

    per_variant: dict[str, int] = field(default_factory=dict)
    via_fallback: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_variant.values())


def reader_languages(
    list_ids: set[int], languages: list[str] | None, event_audience: EventAudience | None = None
) -> dict[str, int]:
    """Confirmed subscribers of the audience per language: the same rows ``start_sending``
    puts in the ledger."""
    counts: dict[str, int] = {}
    for language, _second, count in reader_language_orders(list_ids, languages, event_audience):
        counts[language] = counts.get(language, 0) + count
    return counts


def issue_audience_counts(issue: Issue) -> AudienceCounts:
    """Readers per variant of a saved issue, as ``start_sending`` would assign them now."""
    return audience_counts(
        issue.list_ids,
        issue.audience_languages,
        issue.sent_languages,
        issue.default_language,
        issue.fallback,
        event_audience_of(issue),
    )


def audience_counts(
    list_ids: set[int],
    languages: list[str] | None,
    variants: set[str],
    default_language: str,
    fallback: Fallback,
    event_audience: EventAudience | None = None,
) -> AudienceCounts:
    """Readers per variant following the fallback rule, as ``start_sending`` assigns them."""
    counts = AudienceCounts(
        per_variant=dict.fromkeys(current_app.config["LANGUAGES"], 0),
        via_fallback=dict.fromkeys(current_app.config["LANGUAGES"], 0),
    )
    for language, second, count in reader_language_orders(list_ids, languages, event_audience):
        chosen = reading_language(language, second, variants, None)
        if chosen is not None:
            counts.per_variant[chosen] = counts.per_variant.get(chosen, 0) + count
        elif fallback == Fallback.DEFAULT:
            counts.per_variant[default_language] += count
            counts.via_fallback[default_language] += count
        else:
            counts.skipped += count
    return counts


def audience_conditions(
    list_ids: set[int], languages: list[str] | None, event_audience: EventAudience | None = None
) -> list:
    """Who an issue goes to, as SQL conditions on ``Subscriber``: the confirmed
    subscribers of its lists, or of its event group (within its lists, if it has some), of
    its languages when it names some. The one rule the ledger (ledger.py) and the counts
    before sending follow."""
    conditions = [Subscriber.status == SubscriberStatus.CONFIRMED]
    if list_ids or not event_audience:
        conditions.append(
            exists().where(
                Subscription.subscriber_id == Subscriber.id,
                Subscription.list_id.in_(list_ids),
            )
        )
    if event_audience:
        conditions.append(
            invitations.audience_condition(event_audience.event_id, event_audience.group)
        )
    if languages:
        conditions.append(Subscriber.language.in_(languages))
    return conditions


def reader_language_orders(
    list_ids: set[int], languages: list[str] | None, event_audience: EventAudience | None = None
):
    """Confirmed readers per (language, second language), in one GROUP BY."""
    if not list_ids and not event_audience:
        return []
    query = (
        select(Subscriber.language, Subscriber.second_language, func.count())
        .where(*audience_conditions(list_ids, languages, event_audience))
        .group_by(Subscriber.language, Subscriber.second_language)
    )
    return db.session.execute(query).all()
