"""Customers and their contact points, matched across channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

CONTACT_KINDS = ("email", "phone", "postal")
PREFERRED_CONTACTS = ("email", "sms", "mail", "none")
# How a contact point's link to its customer was proven (None: only claimed, e.g. typed on a
# form beside another new contact). See docs/security.md, "Identity and case access".
PROOFS = (
    "intake",  # the one email/phone of the intake that created the customer: it defines them
    "code",  # a one-time code sent to a proven contact of the customer was entered
    "staff",  # a staff member linked it (a customer merge keeps each point's own proof)
)
# Where a contact on a case comes from.
CASE_CONTACT_SOURCES = ("intake", "code", "staff")


class Customer(db.Model):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    preferred_contact: Mapped[str | None] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    contacts: Mapped[list[ContactPoint]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="ContactPoint.id"
    )

    def contact(self, kind: str, *, usable: bool = False) -> str | None:
        """The first contact point of a kind; with `usable`, only one we may send to."""
        for point in self.contacts:
            if point.kind == kind and (not usable or point.status == "ok"):
                return point.value
        return None


class ContactPoint(db.Model):
    """One way to reach a customer. Email (normalized) and phone (E.164) are unique keys."""

    __tablename__ = "contact_points"
    __table_args__ = (
        # One customer per email address or phone number; postal addresses are kept as given.
        Index(
            "uq_contact_points_kind_value",
            "kind",
            "value",
            unique=True,
            sqlite_where=text("kind != 'postal'"),
            postgresql_where=text("kind != 'postal'"),
        ),
        Index("ix_contact_points_customer_id", "customer_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(Text)
    # ok | undeliverable (mail bounced) | opted_out (STOP by SMS): never send to a point
    # that is not ok; the customer is answered on another channel instead.
    status: Mapped[str] = mapped_column(String(16), default="ok")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Proven for this customer (may act on every case of theirs) or only claimed (None).
    proven_by: Mapped[str | None] = mapped_column(String(10))
    proven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customer: Mapped[Customer] = relationship(back_populates="contacts")

    @property
    def proven(self) -> bool:
        return self.proven_by is not None


class CaseContact(db.Model):
    """An email address or phone number that may act on one case: given on the intake that
    opened it, or proven for it later (a one-time code). Tracking, STATUS, CASE threading
    and deliveries accept these and the customer's proven contact points, nothing else."""

    __tablename__ = "case_contacts"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "value", name="uq_case_contacts_case_kind_value"),
        # "Which cases may this number act on": SMS conversations, STATUS by email.
        Index("ix_case_contacts_kind_value", "kind", "value", "case_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # email (match key) | phone (E.164)
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10), default="intake")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactCode(db.Model):
    """A one-time code that proves a new contact for a case: sent to a contact already on
    file, entered by the customer with the new one. Only a keyed hash of the code is kept."""

    __tablename__ = "contact_codes"
    __table_args__ = (
        Index("ix_contact_codes_case", "case_id", "created_at"),
        Index("ix_contact_codes_contact", "kind", "value", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # the contact being proven
    value: Mapped[str] = mapped_column(Text)
    sent_kind: Mapped[str] = mapped_column(String(10))  # the contact on file it went to
    sent_to: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Too many wrong guesses, or a newer code replaced it: it can never be used.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(20))


class CustomerMerge(db.Model):
    """The audit of a staff merge of two customers: who, when, from which into which, why,
    and what moved (case references, contact points)."""

    __tablename__ = "customer_merges"
    __table_args__ = (
        Index("ix_customer_merges_from", "from_customer_id"),
        Index("ix_customer_merges_into", "into_customer_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    from_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    into_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    moved: Mapped[dict | None] = mapped_column(JSON)
    actor = relationship("StaffUser")
