"""Per-number SMS conversation state: which case texts go to, language, rate window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db


class SmsConversation(db.Model):
    """One phone number texting us. `current_case` is the case chosen with CASE <reference>
    (or last opened by text); the window counts texts for the per-number rate limit."""

    __tablename__ = "sms_conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    current_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    # NEW was texted: the next ordinary text opens a case instead of adding to one.
    start_new: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(10), default="en")
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    # When we last told the number to slow down (once per window, never more).
    limited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    current_case = relationship("Case")
