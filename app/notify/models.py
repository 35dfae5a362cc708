"""The outbox: every notification is a row, written in the transaction that caused it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

# queued -> sending -> sent | recorded (no provider configured) | retrying -> ... | failed
# delivered / failed may later come from a provider's status callback.
STATES = ("queued", "sending", "retrying", "sent", "recorded", "delivered", "failed")
PENDING = ("queued", "retrying")


class OutboxItem(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (
        # What the reconciler and the delivery claim look for: pending rows by due time.
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            sqlite_where=text("state IN ('queued', 'retrying')"),
            postgresql_where=text("state IN ('queued', 'retrying')"),
        ),
        Index("ix_outbox_case", "case_id", "id"),
        Index("ix_outbox_state", "state", "id"),
        # Provider callbacks (Twilio status) and email threading find a send by its id.
        Index("ix_outbox_provider_ref", "provider_ref"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    # The customer-facing message this delivers (shown on the case with its state).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    audience: Mapped[str] = mapped_column(String(10))  # customer | staff
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # acknowledgment, reply, at_risk, breach, ...
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | mail
    recipient: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10), default="en")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    # Printed letters: the batch the mailroom printed this in (None: waiting to be batched).
    print_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("print_batches.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    case = relationship("Case")
    message = relationship("Message", back_populates="deliveries")
