"""Print batches: letters spooled by the mail sender, printed together and marked mailed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db


class PrintBatch(db.Model):
    __tablename__ = "print_batches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | mailed
    letters: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_by = relationship("StaffUser", foreign_keys=[created_by_id])
    mailed_by = relationship("StaffUser", foreign_keys=[mailed_by_id])
