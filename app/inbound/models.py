"""The raw inbound store: every message as received, with what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

# pending -> case_opened | threaded | ignored | failed (failed may be retried -> pending)
OUTCOMES = ("pending", "case_opened", "threaded", "ignored", "failed")
DONE = ("case_opened", "threaded", "ignored")


class InboundMessage(db.Model):
    """One raw inbound message: an RFC 5322 message, a Twilio form body, a scan file.

    Written (and committed) before we answer the sender, so that parsing and routing can
    fail and be retried without losing anything. `dedupe_key` (a Message-ID, a Twilio
    MessageSid, a file's SHA-256) makes a redelivery land on the same row.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "dedupe_key", name="uq_inbound_channel_dedupe"),
        Index("ix_inbound_outcome", "outcome", "id"),
        Index("ix_inbound_channel_outcome", "channel", "outcome", "id"),
        Index("ix_inbound_case", "case_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | mail
    source: Mapped[str] = mapped_column(String(20))  # smtp | imap | webhook | file | twilio | scan
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    # Envelope and transport facts: MAIL FROM, RCPT TO, IMAP UID, file name, remote address.
    meta: Mapped[dict | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    # Why it was ignored or failed, in words an operator can act on.
    reason: Mapped[str | None] = mapped_column(Text)
    # What the message was, once parsed: new_case, reply, auto_reply, bounce, keyword, ...
    kind: Mapped[str | None] = mapped_column(String(20))
    # What we answered the sender at once (an SMS reply), repeated if they redeliver.
    reply: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    case = relationship("Case")
    message = relationship("Message", foreign_keys=[message_id])
