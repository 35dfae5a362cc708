"""Post-resolution survey invitations and responses (OMB Circular A-11 §280), one per case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import BigId, UTCDateTime
from app.extensions import db


class SurveyInvitation(db.Model):
    """The survey offered to a case's customer: the token is kept only as its hash, so a
    database reader cannot answer for the customer."""

    __tablename__ = "survey_invitations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(10))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case = relationship("Case")


class SurveyResponse(db.Model):
    """One customer's answers: 1 (strongly disagree) to 5 (strongly agree); a skipped
    question is null. Whether the case met its resolve standard is kept with the answers,
    as it stood when they were given, so comparisons do not shift later."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="CASCADE")
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(10))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    trust: Mapped[int | None] = mapped_column(Integer)
    effectiveness: Mapped[int | None] = mapped_column(Integer)
    ease: Mapped[int | None] = mapped_column(Integer)
    efficiency: Mapped[int | None] = mapped_column(Integer)
    transparency: Mapped[int | None] = mapped_column(Integer)
    humanity: Mapped[int | None] = mapped_column(Integer)
    employee: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    standard_met: Mapped[bool | None] = mapped_column(db.Boolean)
    case = relationship("Case")
    invitation: Mapped[SurveyInvitation] = relationship()
