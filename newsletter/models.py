"""Database models. The schema itself is built only by the migrations in ``migrations/``."""

import enum
import hashlib
import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def email_hash(email: str) -> str:
    """The only trace an erased address leaves: a SHA-256 of its normalized form."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Subscriber(db.Model):
    __tablename__ = "subscriber"
    __table_args__ = (
        CheckConstraint(
            "second_language IS NULL OR second_language <> language",
            name="second_language_differs",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    # Read when the issue has no variant in ``language``, before the issue's fallback rule.
    second_language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.PENDING, index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    confirmation_sent_at: Mapped[datetime | None]
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list["Subscription"]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )
    consents: Mapped[list["Consent"]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Consent.id"
    )
    confirmation_requests: Mapped[list["ConfirmationRequest"]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="ConfirmationRequest.id",
    )

    @property
    def list_ids(self) -> set[int]:
        return {s.list_id for s in self.subscriptions}


SEARCH_INDEXES = {"ix_subscriber_email_search", "ix_subscriber_name_search"}
"""Trigram indexes on search_fold(...) that migration 0008 makes on PostgreSQL only; the
models can't describe them, so comparisons of schema and models leave them out."""


def not_a_search_index(_object, name, type_, _reflected, _compare_to) -> bool:
    """An ``include_object`` hook for Alembic's comparisons."""
    return not (type_ == "index" and name in SEARCH_INDEXES)


class ConfirmationRequest(db.Model):
    """What one subscribe request asked for, applied only when its own link is used.

    Each request has its own nonce, carried by the link mailed for it, so nobody can change
    a subscriber's name, language or lists by subscribing the address again.
    """

    __tablename__ = "confirmation_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    second_language: Mapped[str | None] = mapped_column(String(8))
    list_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the request was chosen to be mailed (not throttled): a task run again after
    # a crash queues that mail again, and nothing else.
    mailed_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship(back_populates="confirmation_requests")


class MailingList(db.Model):
    """A topic people subscribe to. Names and descriptions are kept per language."""

    __tablename__ = "mailing_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    public: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def name_in(self, language: str, default: str = "en") -> str:
        return self.names.get(language) or self.names.get(default) or self.slug

    def description_in(self, language: str, default: str = "en") -> str:
        return self.descriptions.get(language) or self.descriptions.get(default) or ""


class Subscription(db.Model):
    __tablename__ = "subscription"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_list.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    mailing_list: Mapped[MailingList] = relationship()


class ConsentAction(enum.StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"


class Consent(db.Model):
    """Evidence of what a person agreed to, when, and from where."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[ConsentAction] = mapped_column(_enum(ConsentAction, "consent_action"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(64))
    list_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    wording_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class Suppression(db.Model):
    """Addresses that must never be mailed or re-imported, kept only as a hash."""

    __tablename__ = "suppression"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class IssueStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class Fallback(enum.StrEnum):
    """What subscribers whose language has no variant receive."""

    DEFAULT = "default"  # the default language's variant
    SKIP = "skip"  # nothing; counted as skipped


class TranslationState(enum.StrEnum):
    """Where one language's text stands on its way to being sent."""

    DRAFT = "draft"
    READY = "ready"  # ready for review
    APPROVED = "approved"


class RsvpAnswer(enum.StrEnum):
    """What someone answered to an invitation."""

    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


class EventGroup(enum.StrEnum):
    """The people of an event an issue can be sent to."""

    REGISTERED = "registered"
    WAITING = "waiting"
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"
    NO_ANSWER = "no_answer"  # invited, and neither answered nor registered


class Issue(db.Model):
    """One issue of the newsletter (a campaign), written once per language."""

    __tablename__ = "issue"
    __table_args__ = (
        CheckConstraint(
            "sent_after_days IS NULL OR sent_after_days BETWEEN 0 AND 365",
            name="sent_after_days_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8))
    fallback: Mapped[Fallback] = mapped_column(_enum(Fallback, "issue_fallback"))
    status: Mapped[IssueStatus] = mapped_column(
        _enum(IssueStatus, "issue_status"), default=IssueStatus.DRAFT, index=True
    )
    audience_languages: Mapped[list[str] | None] = mapped_column(JSON)
    # None: the organisation's default layout.
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layout.id", ondelete="RESTRICT"))
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The ledger of a started issue is written in chunks (ledger.py): the rows written so
    # far, the last subscriber id written, the expected total, and when it was complete.
    ledger_total: Mapped[int | None]
    ledger_written: Mapped[int] = mapped_column(default=0, server_default="0")
    ledger_cursor: Mapped[int | None]
    ledger_ready_at: Mapped[datetime | None]
    # When the translators' mail about changes of the source is due (None: no change
    # waiting to be told).
    translators_due_at: Mapped[datetime | None]
    # The people of an event the issue goes to (an EventGroup of it), instead of or within
    # its lists.
    audience_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("event.id", ondelete="SET NULL")
    )
    audience_event_group: Mapped[EventGroup | None] = mapped_column(
        _enum(EventGroup, "audience_event_group")
    )
    # Whether its links lead through the redirect that counts clicks, and whether its mail
    # has the image that counts opens (tracking.py).
    track_clicks: Mapped[bool] = mapped_column(default=False, server_default=false())
    track_opens: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Automated (automations.py): sent to each new subscriber of its lists this many days
    # after they joined (0: a welcome, at once), instead of once to the audience of the
    # day. None: an ordinary campaign.
    sent_after_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    variants: Mapped[list["IssueVariant"]] = relationship(
        back_populates="issue", cascade="all, delete-orphan", order_by="IssueVariant.language"
    )
    audience: Mapped[list["IssueList"]] = relationship(cascade="all, delete-orphan")
    fallback_choices: Mapped[list["FallbackChoice"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="FallbackChoice.language"
    )
    layout: Mapped["Layout | None"] = relationship()

    @property
    def list_ids(self) -> set[int]:
        return {item.list_id for item in self.audience}

    @property
    def automated(self) -> bool:
        return self.sent_after_days is not None

    @property
    def preparing(self) -> bool:
        """Started, and its ledger is still being written."""
        return self.started_at is not None and self.ledger_ready_at is None

    def variant(self, language: str) -> "IssueVariant | None":
        return next((v for v in self.variants if v.language == language), None)

    @property
    def sent_languages(self) -> set[str]:
        """Languages whose readers get their own variant: all with a variant except those
        an editor chose to send the fallback instead."""
        chosen = {c.language for c in self.fallback_choices} - {self.default_language}
        return {v.language for v in self.variants} - chosen


class Layout(db.Model):
    """How an issue's mail looks around its text: colours, and a header and a footer block
    with text per language (Markdown). The default layout, with no blocks and the
    organisation's colours, is the plain mail every issue had before layouts."""

    __tablename__ = "layout"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    brand_color: Mapped[str | None] = mapped_column(String(7))  # None: the organisation's
    background_color: Mapped[str | None] = mapped_column(String(7))
    header: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    footer: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SavedBlock(db.Model):
    """A snippet editors insert into issues ("About the network", a donation call), with
    its text per language (Markdown)."""

    __tablename__ = "saved_block"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IssueList(db.Model):
    """A list an issue goes to."""

    __tablename__ = "issue_list"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_list.id", ondelete="RESTRICT"), primary_key=True
    )


class IssueVariant(db.Model):
    """The issue in one language."""

    __tablename__ = "issue_variant"
    __table_args__ = (UniqueConstraint("issue_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    preheader: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # Counts the saved changes of the text; an editor's save names the version it started
    # from, so a change saved meanwhile by someone else is refused instead of overwritten.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    state: Mapped[TranslationState] = mapped_column(
        _enum(TranslationState, "translation_state"),
        default=TranslationState.DRAFT,
        server_default=TranslationState.DRAFT.value,
    )
    # The version of the default language's variant this translation was last brought up
    # to date with (None for the default language itself, which is the source).
    source_version: Mapped[int | None]
    up_to_date_at: Mapped[datetime | None]

    issue: Mapped[Issue] = relationship(back_populates="variants")
    approval: Mapped["VariantApproval | None"] = relationship(
        back_populates="variant", cascade="all, delete-orphan", passive_deletes=True
    )
    revisions: Mapped[list["VariantRevision"]] = relationship(
        back_populates="variant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="VariantRevision.version.desc()",
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="variant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: (Attachment.position, Attachment.id),
    )


class VariantApproval(db.Model):
    """Who approved a variant's text and when; removed when the text changes. (A table of
    its own: SQLite can add a column with a foreign key to issue_variant only by copying
    the table, which would cascade into its revisions and files.)"""

    __tablename__ = "variant_approval"

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("issue_variant.id", ondelete="CASCADE"), primary_key=True
    )
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)

    variant: Mapped[IssueVariant] = relationship(back_populates="approval")
    approved_by: Mapped["User | None"] = relationship()


class FallbackChoice(db.Model):
    """An editor's choice to send one language the issue's fallback instead of its own
    translation, which is not approved or not up to date; revocable until sending."""

    __tablename__ = "fallback_choice"
    __table_args__ = (UniqueConstraint("issue_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    chosen_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)

    chosen_by: Mapped["User | None"] = relationship()


class VariantRevision(db.Model):
    """The text of a variant as one save left it; version n of a variant is its n-th save."""

    __tablename__ = "variant_revision"
    __table_args__ = (UniqueConstraint("variant_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("issue_variant.id", ondelete="CASCADE"))
    version: Mapped[int]
    subject: Mapped[str] = mapped_column(String(200))
    preheader: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    variant: Mapped[IssueVariant] = relationship(back_populates="revisions")
    saved_by: Mapped["User | None"] = relationship()


class Attachment(db.Model):
    """A file sent with one language variant: attached to the mail, or, when
    ``link_only``, offered in it as a download link (``/files/<token>/<filename>``).

    The bytes live in the database so that every web and worker process sees them.
    """

    __tablename__ = "attachment"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("issue_variant.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    link_only: Mapped[bool] = mapped_column(default=False)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    variant: Mapped[IssueVariant] = relationship(back_populates="attachments")


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Delivery(db.Model):
    """The ledger: one row per (issue, subscriber), written when sending starts.

    A row in ``sending`` whose lease has run out belongs to a worker that died; it is
    claimed again and re-sent with the same Message-ID.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        Index("ix_delivery_claim", "issue_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[DeliveryState] = mapped_column(
        _enum(DeliveryState, "delivery_state"), default=DeliveryState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_code: Mapped[int | None]
    last_response: Mapped[str | None] = mapped_column(String(500))
    # Set by the worker that handles the row: derived from the issue and the subscriber
    # (mail/identifiers.py), so a re-send carries the same one.
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportKind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    COMPLAINT = "complaint"


class UnattributedReason(enum.StrEnum):
    NOT_OURS = "not-ours"  # neither a VERP return path nor a Message-ID of ours
    OTHER_RECIPIENT = "other-recipient"  # our Message-ID, but the report names someone else
    DELIVERY_GONE = "delivery-gone"  # ours, but the delivery was deleted since


class UnattributedReport(db.Model):
    """A bounce or complaint that could not be tied to one of our deliveries: counted, and
    not acted on (it may be forged)."""

    __tablename__ = "unattributed_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReportKind] = mapped_column(_enum(ReportKind, "report_kind"))
    reason: Mapped[UnattributedReason] = mapped_column(
        _enum(UnattributedReason, "unattributed_reason")
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Role(enum.StrEnum):
    ADMIN = "admin"  # also manages users, settings, tokens and erasure
    EDITOR = "editor"  # writes, tests and sends issues; manages lists and subscribers
    TRANSLATOR = "translator"  # writes the variants of their languages; reads the others


class User(UserMixin, db.Model):
    """Someone who logs in to the editors' UI."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.EDITOR)
    language: Mapped[str] = mapped_column(String(8), default="en")
    time_zone: Mapped[str | None] = mapped_column(String(64))  # None: the organisation's
    # The languages a translator writes (ignored for editors and admins, who write all).
    translation_languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Two-factor sign-in: the TOTP secret (pending until totp_enabled_at is set) and the
    # last time step whose code was accepted, so no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(32))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        return self.active

    # The key of the user_session this request runs in, which Flask-Login keeps in the
    # cookie (its id_attribute): set at login and by the user loader. Not a column.
    session_key = None

    def get_session_key(self) -> str | None:
        return self.session_key

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_translator(self) -> bool:
        return self.role == Role.TRANSLATOR

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None


class UserSession(db.Model):
    """One login in one browser. The cookie holds the session's secret; only its SHA-256
    is stored, so the table can't be used to take over a session."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A one-time code for logging in without the authenticator app; stored hashed."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class TokenScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"  # read as well


class ApiToken(db.Model):
    """A key for the JSON API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[TokenScope] = mapped_column(_enum(TokenScope, "token_scope"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Organisation(db.Model):
    """The publisher's identity shown in every mail and page: one row, id 1."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    logo: Mapped[str | None] = mapped_column(String(100))  # a file name in instance/uploads
    brand_color: Mapped[str] = mapped_column(String(7), default="#0b6e4f")
    text_color: Mapped[str] = mapped_column(String(7), default="#1f2933")
    background_color: Mapped[str] = mapped_column(String(7), default="#f4f5f7")
    postal_address: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Every language of an issue's audience must be approved (and translations up to date)
    # before it is sent or scheduled.
    require_approval: Mapped[bool] = mapped_column(default=False, server_default=false())
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # What new issues record about their readers (tracking.py); off unless chosen.
    track_clicks: Mapped[bool] = mapped_column(default=False, server_default=false())
    track_opens: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def address_lines(self, language: str, default: str) -> list[str]:
        """The postal address in ``language`` (else in ``default``), line by line, whatever
        line endings it was typed with."""
        text = self.postal_address.get(language) or self.postal_address.get(default) or ""
        return tidy_lines(text).splitlines()


def tidy_lines(text: str) -> str:
    """Lines joined by "\n" (browsers send "\r\n"), each stripped, blank ones dropped."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


class ImportStatus(enum.StrEnum):
    ANALYSING = "analysing"  # uploaded: a worker checks the file (the dry run)
    ANALYSED = "analysed"  # dry run done, waiting for the editor's confirmation
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(db.Model):
    """A CSV file of subscribers: its dry-run report, then its import by a worker."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.ANALYSING
    )
    list_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8))
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class MediaFile(db.Model):
    """An image of the media library, re-encoded without metadata.

    The bytes live in the database so every web process serves the same files; they are
    deferred, so listing the library never loads them.
    """

    __tablename__ = "media_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # Per language; suggestions the editor's image dialog fills in, changed there or here.
    alt_text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    created_by: Mapped[User | None] = relationship()


class Event(db.Model):
    """Something the organisation invites to: its times once, its texts per language.

    Times are stored in UTC with the zone they were given in, in which pages show them.
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(64))
    registration_deadline: Mapped[datetime | None]
    capacity: Mapped[int | None]
    waiting_list: Mapped[bool] = mapped_column(default=False)
    online_url: Mapped[str | None] = mapped_column(String(500))
    published: Mapped[bool] = mapped_column(default=False)
    # The questions the registration form asks: {"country": "required", "dietary":
    # "optional", ...} (events.QUESTIONS); "free_text" is labelled per language.
    questions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    texts: Mapped[list["EventText"]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventText.language"
    )

    def text(self, language: str) -> "EventText | None":
        return next((text for text in self.texts if text.language == language), None)

    @property
    def texts_by_language(self) -> dict[str, "EventText"]:
        return {text.language: text for text in self.texts}


class EventText(db.Model):
    """An event in one language: what it is called and where it takes place."""

    __tablename__ = "event_text"
    __table_args__ = (UniqueConstraint("event_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown
    place_name: Mapped[str] = mapped_column(String(200), default="")
    place_address: Mapped[str] = mapped_column(String(500), default="")
    free_question: Mapped[str] = mapped_column(String(200), default="")  # its label here

    event: Mapped[Event] = relationship(back_populates="texts")


class RegistrationStatus(enum.StrEnum):
    PENDING = "pending"  # waits for its address to be confirmed
    REGISTERED = "registered"
    WAITING = "waiting"  # on the waiting list, in the order they came
    CANCELLED = "cancelled"


class Registration(db.Model):
    """Someone's place at an event, reached from their mails by ``token``.

    One per address and event: registering again comes back to the same row.
    """

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("event_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[RegistrationStatus] = mapped_column(
        _enum(RegistrationStatus, "registration_status"), default=RegistrationStatus.PENDING
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # by question
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship()


class Invitation(db.Model):
    """An issue that invites to an event: written when it starts sending, from the event
    blocks of its texts, so that "invited" means "was sent such an issue"."""

    __tablename__ = "invitation"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Rsvp(db.Model):
    """A subscriber's answer to an invitation; answering again replaces it."""

    __tablename__ = "rsvp"
    __table_args__ = (UniqueConstraint("event_id", "subscriber_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), index=True
    )
    answer: Mapped[RsvpAnswer] = mapped_column(_enum(RsvpAnswer, "rsvp_answer"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(db.Model):
    """An address of another system that is told what happens here (webhooks.py)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # Signs each delivery (HMAC-SHA256); shown to admins, who give it to the receiver.
    secret: Mapped[str] = mapped_column(String(64))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # webhooks.EVENTS
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deliveries: Mapped[list["WebhookDelivery"]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True
    )


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waits for its first or next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; an admin may send it again


class WebhookDelivery(db.Model):
    """One event for one endpoint, written with the change it reports so that none is
    lost, and sent by the worker until the endpoint answers 2xx."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, exactly as sent
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")


class IssueLink(db.Model):
    """A link of a sent variant that is tracked, by its position in the variant."""

    __tablename__ = "issue_link"
    __table_args__ = (UniqueConstraint("issue_id", "language", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    position: Mapped[int]
    url: Mapped[str] = mapped_column(String(2000))


class TrackingKind(enum.StrEnum):
    CLICK = "click"
    OPEN = "open"


class TrackingEvent(db.Model):
    """A click or an open of one delivered message. ``counted`` is False for what a mail
    scanner or a prefetch did (tracking.py says how that is told)."""

    __tablename__ = "tracking_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[TrackingKind] = mapped_column(_enum(TrackingKind, "tracking_kind"))
    position: Mapped[int | None]  # the link clicked
    at: Mapped[datetime] = mapped_column(index=True)
    counted: Mapped[bool]
    user_agent: Mapped[str | None] = mapped_column(String(200))


class TrackingTotal(db.Model):
    """Counted clicks or opens of one issue's language (and link) that are older than the
    retention: their per-person rows are gone, their numbers stay."""

    __tablename__ = "tracking_total"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    kind: Mapped[TrackingKind] = mapped_column(_enum(TrackingKind, "tracking_kind"))
    position: Mapped[int | None]
    total: Mapped[int]
    people: Mapped[int]


class SystemMail(db.Model):
    """A mail the system sends (system_mails.KINDS), as an editor wrote it for one
    language: it replaces the built-in text until it is reset."""

    __tablename__ = "system_mail"
    __table_args__ = (UniqueConstraint("kind", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown with {placeholders}
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
