"""Nightly roll-up of SLA outcomes per agency, metric and channel, for published figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.cases.models import Case
from app.common.time import utcnow
from app.common.types import BigId
from app.extensions import db
from app.sla.models import SlaClock


class PerformanceDaily(db.Model):
    """How many clocks settled on a day (UTC) met their standard and how many missed it."""

    __tablename__ = "performance_daily"
    __table_args__ = (UniqueConstraint("day", "agency_id", "metric", "channel"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    met: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)


def rollup(day: date | None = None) -> dict[str, int]:
    """Count the day's outcomes (re-running replaces the day's rows, so it is idempotent).

    A clock counts on the day it was met (on time or late), or on the day it fell due while
    still unmet; paused and stopped clocks do not count.
    """
    day = day or (utcnow() - timedelta(days=1)).date()
    start = datetime.combine(day, time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    met_today = and_(SlaClock.phase == "met", SlaClock.met_at >= start, SlaClock.met_at < end)
    missed_unmet = and_(
        SlaClock.phase == "running", SlaClock.due_at >= start, SlaClock.due_at < end
    )
    on_time = and_(met_today, SlaClock.met_at <= SlaClock.due_at)
    rows = db.session.execute(
        select(
            Case.agency_id,
            SlaClock.metric,
            Case.channel,
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((on_time, 0), else_=1)),
        )
        .join(Case, Case.id == SlaClock.case_id)
        .where(or_(met_today, missed_unmet))
        .group_by(Case.agency_id, SlaClock.metric, Case.channel)
    ).all()
    db.session.execute(delete(PerformanceDaily).where(PerformanceDaily.day == day))
    if rows:
        db.session.execute(
            insert(PerformanceDaily),
            [
                {
                    "day": day,
                    "agency_id": a,
                    "metric": m,
                    "channel": c,
                    "met": int(ok),
                    "missed": int(bad),
                }
                for a, m, c, ok, bad in rows
            ],
        )
    db.session.commit()
    return {"day": day.isoformat(), "rows": len(rows)}
