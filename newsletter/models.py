"""Database models. The schema itself is built only by the migrations in ``migrations/``."""

import enum
import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import JSON, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.PENDING, index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    confirmation_sent_at: Mapped[datetime | None]
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

    @property
    def list_ids(self) -> set[int]:
        return {s.list_id for s in self.subscriptions}


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
