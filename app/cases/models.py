"""Cases, their messages and their append-only event history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

STATUSES = ("new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed")
CHANNELS = ("web", "api", "email", "sms", "mail", "phone", "open311")
OPEN_STATUSES = ("new", "assigned", "in_progress", "waiting_on_customer")


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # Queues: an agency's open cases in a status; the due time comes from the clocks.
        Index("ix_cases_agency_status", "agency_id", "status", "id"),
        Index("ix_cases_queue_status", "queue_id", "status", "id"),
        Index("ix_cases_assignee_status", "assignee_id", "status", "id"),
        Index("ix_cases_customer", "customer_id"),
        Index("ix_cases_routing_rule", "routing_rule_id"),
        # "What is due first": the earliest due time among the case's running clocks.
        Index("ix_cases_agency_next_due", "agency_id", "next_due_at", "id"),
        # An admin's all-agency queue, due first; and a case page's "merged into this case".
        Index("ix_cases_next_due", "next_due_at", "id"),
        Index("ix_cases_merged_into", "merged_into_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(24), default="new")
    channel: Mapped[str] = mapped_column(String(10))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    subject: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    zip: Mapped[str | None] = mapped_column(String(10))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(10), default="en")
    preferred_contact: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    # The routing decision, kept so anyone can see why the case went where it did.
    routing_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_rules.id", ondelete="SET NULL")
    )
    routing_source: Mapped[str | None] = mapped_column(String(10))
    routing_explanation: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # A case opened from a message that cited another case (e.g. a reply from a different
    # sender): linked for a caseworker to review, never silently appended.
    related_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # Things a caseworker must look at: contact_undeliverable, sms_opted_out, review_link ...
    flags: Mapped[list | None] = mapped_column(JSON)

    agency = relationship("Agency")
    queue = relationship("Queue")
    category = relationship("Category")
    customer = relationship("Customer")
    assignee = relationship("StaffUser")
    merged_into: Mapped[Case | None] = relationship(remote_side=[id], foreign_keys=[merged_into_id])
    related_case: Mapped[Case | None] = relationship(
        remote_side=[id], foreign_keys=[related_case_id]
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="case", order_by="Message.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="case", order_by="Event.id", cascade="all, delete-orphan"
    )
    clocks = relationship(
        "SlaClock", back_populates="case", order_by="SlaClock.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    # The contacts that may act on this case besides the customer's proven ones
    # (app.customers.access).
    case_contacts = relationship(
        "CaseContact", order_by="CaseContact.id", cascade="all, delete-orphan"
    )

    def has_flag(self, name: str) -> bool:
        return name in (self.flags or [])


class Message(db.Model):
    """A message on a case: inbound from the customer, outbound to them, or an internal note."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_case", "case_id", "id"),
        Index("ix_messages_external_id", "external_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound | internal
    channel: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The channel's own id: an email Message-ID, a Twilio MessageSid.
    external_id: Mapped[str | None] = mapped_column(String(300))
    # Channel details worth keeping: email subject and threading headers, trimmed parts.
    meta: Mapped[dict | None] = mapped_column(JSON)
    case: Mapped[Case] = relationship(back_populates="messages")
    author = relationship("StaffUser")
    # The raw input this message came from (the full original, before trimming).
    inbound = relationship(
        "InboundMessage",
        primaryjoin="InboundMessage.message_id == Message.id",
        viewonly=True,
        uselist=False,
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )
    deliveries = relationship("OutboxItem", back_populates="message", order_by="OutboxItem.id")
    # Corrections (a scan's text as a person read it), oldest first. `body` stays as received.
    versions: Mapped[list[MessageVersion]] = relationship(
        back_populates="message", order_by="MessageVersion.id", cascade="all, delete-orphan"
    )

    @property
    def current_body(self) -> str:
        """The text as last corrected (the original when nobody corrected it)."""
        return self.versions[-1].body if self.versions else self.body


class MessageVersion(db.Model):
    """A correction of a customer's message, kept beside the original and never replacing
    it: what a customer sent is evidence. Append-only, like events."""

    __tablename__ = "message_versions"
    __table_args__ = (Index("ix_message_versions_message", "message_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(20))  # ocr_review | staff_edit
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[Message] = relationship(back_populates="versions")
    author = relationship("StaffUser")


class Event(db.Model):
    """One change to a case. Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_type: Mapped[str] = mapped_column(String(10))  # staff | customer | system
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)
    case: Mapped[Case] = relationship(back_populates="events")
    actor = relationship("StaffUser")


class IdempotencyKey(db.Model):
    """A client's Idempotency-Key, so that a retried complaint returns the first case."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case: Mapped[Case] = relationship()


class Attachment(db.Model):
    """A file sent with a message (a document, a photo, a scan), stored by content hash
    under ATTACHMENT_DIR; staff download it, never rendered inline."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(150))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Inline parts (images referenced by an HTML body) and TNEF containers are still kept.
    disposition: Mapped[str] = mapped_column(String(20), default="attachment")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case: Mapped[Case] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship(back_populates="attachments")
