"""Customers and their contact points, matched across channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

CONTACT_KINDS = ("email", "phone", "postal")
PREFERRED_CONTACTS = ("email", "sms", "mail", "none")


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
    customer: Mapped[Customer] = relationship(back_populates="contacts")
