"""Saved replies: an agency's stock answers that a caseworker picks and edits before sending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db


class SavedReply(db.Model):
    """A reply kept for reuse; agency-wide, or for every agency when agency_id is null."""

    __tablename__ = "saved_replies"
    __table_args__ = (Index("ix_saved_replies_agency", "agency_id", "title"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agency = relationship("Agency")
