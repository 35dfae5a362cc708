"""Published performance: measured results per posted standard (computed from the clocks,
refreshed by a worker job, stored with the time computed) and the nightly roll-up per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    JSON,
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
from app.common.types import BigId, UTCDateTime
from app.directory.models import ServiceStandard
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


# --- Measured results per posted standard --------------------------------------------------

# Fewer settled clocks than this in a period: say so instead of printing a percentage.
MIN_SAMPLE = 10
PERIODS = (("last_quarter", 3), ("last_12_months", 12))
TREND_MONTHS = 12
_METRIC_ORDER = {"acknowledge": 0, "first_response": 1, "resolve": 2}


class PerformanceSnapshot(db.Model):
    """The published figures as computed at one time; pages and the API read the latest."""

    __tablename__ = "performance_snapshots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    figures: Mapped[dict] = mapped_column(JSON)


def months_back(moment: datetime, months: int) -> datetime:
    """The same instant `months` calendar months earlier (day clipped to the month's end)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def settled_buckets(bounds: list[datetime]) -> dict[tuple[int, str, int], list[int]]:
    """[met on time, met late, open past due] per (standard id, case channel, bucket) for the
    clocks that settled in [bounds[0], bounds[-1]); bucket i is [bounds[i], bounds[i + 1]).

    A clock settles when it is met (on time or late: then it counts as breached) or, while
    still running, when it falls due. Paused clocks (waiting on the customer), stopped ones
    (merged, closed unresolved) and running clocks not yet due do not count. One pass over
    the clocks answers every period and month at once.
    """
    low, high = bounds[0], bounds[-1]
    met_in = and_(SlaClock.phase == "met", SlaClock.met_at >= low, SlaClock.met_at < high)
    past_due = and_(SlaClock.phase == "running", SlaClock.due_at >= low, SlaClock.due_at < high)
    settled_at = case((SlaClock.phase == "met", SlaClock.met_at), else_=SlaClock.due_at)
    bucket = case(
        *[(settled_at < b, i) for i, b in enumerate(bounds[1:-1])], else_=len(bounds) - 2
    ).label("bucket")
    on_time = and_(SlaClock.phase == "met", SlaClock.met_at <= SlaClock.due_at)
    late = and_(SlaClock.phase == "met", SlaClock.met_at > SlaClock.due_at)
    rows = db.session.execute(
        select(
            SlaClock.standard_id,
            Case.channel,
            bucket,
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
            func.sum(case((SlaClock.phase == "running", 1), else_=0)),
        )
        .join(Case, Case.id == SlaClock.case_id)
        .where(SlaClock.standard_id.is_not(None), or_(met_in, past_due))
        .group_by(SlaClock.standard_id, Case.channel, bucket)
    ).all()
    return {(sid, ch, int(b)): [int(x), int(y), int(z)] for sid, ch, b, x, y, z in rows}


def settled_counts(
    buckets: dict[tuple[int, str, int], list[int]],
    bounds: list[datetime],
    start: datetime,
    end: datetime,
) -> dict[tuple[int, str], list[int]]:
    """The buckets' counts summed over [start, end) (both must be among the bounds)."""
    first, last = bounds.index(start), bounds.index(end)
    out: dict[tuple[int, str], list[int]] = {}
    for (sid, channel, b), counts in buckets.items():
        if first <= b < last:
            total = out.setdefault((sid, channel), [0, 0, 0])
            for i, n in enumerate(counts):
                total[i] += n
    return out


def _figure(counts: dict[tuple[int, str], list[int]], standard_id: int) -> dict:
    met = breached = past_due = 0
    channels: dict[str, int] = {}
    for (sid, channel), (ok, late, open_late) in counts.items():
        if sid != standard_id:
            continue
        met, breached, past_due = met + ok, breached + late, past_due + open_late
        channels[channel] = channels.get(channel, 0) + ok + late + open_late
    sample = met + breached + past_due
    enough = sample >= MIN_SAMPLE
    return {
        "met": met,
        "breached": breached,
        "open_past_due": past_due,
        "sample": sample,
        "enough_data": enough,
        # Never a percentage of too few cases (and never a division by zero).
        "percent_met": round(100 * met / sample, 1) if enough else None,
        "channels": dict(sorted(channels.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def compute(now: datetime | None = None) -> dict:
    """The measured result of every posted standard, for the last quarter (3 months), the
    last 12 months and month by month (the trend), as of `now`."""
    now = now or utcnow()
    standards = db.session.scalars(select(ServiceStandard)).all()
    windows = {name: (months_back(now, months), now) for name, months in PERIODS}
    first = _month_start(months_back(now, TREND_MONTHS - 1))
    month_bounds = [months_back(first, -i) for i in range(TREND_MONTHS)] + [now]
    bounds = sorted({*month_bounds, *(w[0] for w in windows.values())})
    buckets = settled_buckets(bounds)
    counts = {name: settled_counts(buckets, bounds, *w) for name, w in windows.items()}
    months = [
        (start, end, settled_counts(buckets, bounds, start, end))
        for start, end in zip(month_bounds, month_bounds[1:], strict=False)
    ]
    out = []
    for s in standards:
        out.append(
            {
                "agency": {"code": s.agency.code, "name": s.agency.name},
                "category": s.category.code if s.category else None,
                "category_name": s.category.name if s.category else None,
                "metric": s.metric,
                "wording": s.wording,
                "target": s.target,
                "unit": s.unit,
                "goal": s.goal,
                "periods": {
                    name: {
                        "start": windows[name][0].isoformat(),
                        "end": windows[name][1].isoformat(),
                        **_figure(counts[name], s.id),
                    }
                    for name, _ in PERIODS
                },
                "trend": [
                    {"month": start.strftime("%Y-%m")}
                    | {
                        k: v
                        for k, v in _figure(month_counts, s.id).items()
                        if k in ("sample", "met", "percent_met")
                    }
                    for start, _end, month_counts in months
                ],
            }
        )
    out.sort(
        key=lambda f: (
            f["agency"]["name"].lower(),
            f["category"] is not None,
            (f["category_name"] or "").lower(),
            _METRIC_ORDER.get(f["metric"], 9),
        )
    )
    return {"computed_at": now.isoformat(), "minimum_sample": MIN_SAMPLE, "standards": out}


def publish(now: datetime | None = None) -> PerformanceSnapshot:
    """Compute the figures and store them as the published snapshot (older ones go)."""
    figures = compute(now)
    snapshot = PerformanceSnapshot(
        computed_at=datetime.fromisoformat(figures["computed_at"]), figures=figures
    )
    db.session.execute(delete(PerformanceSnapshot))
    db.session.add(snapshot)
    db.session.commit()
    return snapshot


def published() -> PerformanceSnapshot:
    """The latest published figures; computed now if the worker has not published any yet."""
    snapshot = db.session.scalar(
        select(PerformanceSnapshot).order_by(PerformanceSnapshot.computed_at.desc()).limit(1)
    )
    return snapshot or publish()
