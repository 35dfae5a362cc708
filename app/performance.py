"""Published performance: measured results per posted standard (computed from the clocks,
refreshed by a worker job, stored with the time computed), the clocks behind every figure
for a public recount, and the nightly roll-up per day.

docs/public-accountability.md is the definition; in short: every clock has an outcome
(app.sla.state.outcome) and counts in the calendar month, in its agency's time zone, of its
due time - or of the time it started, for a clock that started already past due (a letter
scanned late, a transfer) - so that a month's figures never change once it is over. Percent
met = met on time / (met on time + missed), where missed = met late + stopped unmet + still
open past due.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
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
    text,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column

from app.cases.models import Case
from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.directory.models import Agency, Calendar, ServiceStandard
from app.extensions import db
from app.sla.models import SlaClock
from app.sla.state import COUNTED_OUTCOMES, OUTCOMES, SHOWN_OUTCOMES, ClockTimes, outcome

# Fewer counted clocks than this in a period: say so instead of printing a percentage.
MIN_SAMPLE = 10
TREND_MONTHS = 12  # the month-by-month trend, this month (so far) included
QUARTERS = 4  # complete calendar quarters shown, besides this quarter so far
_METRIC_ORDER = {"acknowledge": 0, "first_response": 1, "resolve": 2}
_CODE = {name: i for i, name in enumerate(OUTCOMES)}


class PerformanceDaily(db.Model):
    """Of the clocks that counted on a day (in the agency's time zone), how many met their
    standard on time and how many missed it."""

    __tablename__ = "performance_daily"
    __table_args__ = (UniqueConstraint("day", "agency_id", "metric", "channel"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    met: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)


class PerformanceSnapshot(db.Model):
    """The published figures as computed at one time; pages and the API read the latest."""

    __tablename__ = "performance_snapshots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    figures: Mapped[dict] = mapped_column(JSON)


# --- The counting, in SQL and in Python -----------------------------------------------------


def counted_at_sql():
    """When a clock counts: its due time, or when it started if that was later."""
    C = SlaClock
    return case((C.created_at > C.due_at, C.created_at), else_=C.due_at)


def counted_at(clock) -> datetime:
    created = clock.created_at
    return created if created is not None and created > clock.due_at else clock.due_at


def outcome_sql(now: datetime):
    """app.sla.state.outcome as a SQL expression: the index of the outcome in OUTCOMES."""
    C = SlaClock

    def excused(reason: str):
        return and_(C.phase == "stopped", C.stop_reason == reason, C.stopped_at < C.due_at)

    return case(
        (and_(C.phase == "met", C.met_at <= C.due_at), _CODE["met"]),
        (C.phase == "met", _CODE["met_late"]),
        (excused("withdrawn"), _CODE["withdrawn_by_customer"]),
        (excused("transferred"), _CODE["handed_over"]),
        (excused("merged"), _CODE["merged_before_due"]),
        (C.phase == "stopped", _CODE["stopped_unmet"]),
        (C.phase == "paused", _CODE["waiting_on_customer"]),
        (C.due_at <= now, _CODE["open_past_due"]),
        else_=_CODE["not_yet_due"],
    )


def counted_outcome_sql(now: datetime):
    """True for a clock whose outcome counts towards the percentage (COUNTED_OUTCOMES)."""
    return outcome_sql(now).in_([_CODE[o] for o in COUNTED_OUTCOMES])


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


def _local_month(year: int, month: int, zone: ZoneInfo) -> datetime:
    """Midnight starting the month in the zone, in UTC."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Months:
    """The months and quarters of one time zone as of `now`: month i is [starts[i],
    starts[i + 1]) (the last ends at now); the first month starts the earliest quarter
    shown, so that quarters, 12 months and the trend are sums of whole months."""

    zone: str
    labels: tuple[str, ...]  # "2026-07" per month
    starts: tuple[datetime, ...]  # one more than labels: the last is now

    @classmethod
    def of(cls, zone: str, now: datetime) -> Months:
        tz = ZoneInfo(zone)
        local = now.astimezone(tz)
        quarter_month = 3 * ((local.month - 1) // 3) + 1
        first = (local.year - 1, quarter_month)  # QUARTERS complete quarters back
        count = 3 * QUARTERS + (local.month - quarter_month) + 1
        months = [(first[0], first[1] + i) for i in range(count)]
        starts = [_local_month(y, m, tz) for y, m in months]
        labels = [f"{s.astimezone(tz):%Y-%m}" for s in starts]
        return cls(zone, tuple(labels), (*starts, now))

    def periods(self) -> dict[str, tuple[int, int]]:
        """Published period name -> [first, last) month indexes."""
        this = len(self.labels) - 1  # this month, so far
        quarter = 3 * QUARTERS  # this quarter's first month
        return {
            "last_quarter": (quarter - 3, quarter),
            "last_12_months": (this - 12, this),
        }

    def quarters(self) -> list[tuple[str, int, int]]:
        out = []
        for q in range(QUARTERS + 1):
            first = 3 * q
            year, month = self.labels[first].split("-")
            last = min(first + 3, len(self.labels))
            out.append((f"{year}Q{(int(month) - 1) // 3 + 1}", first, last))
        return out


def _bucket_sql(calendars: dict[int, Months], zone_of: dict[int, str]):
    """Month index of a clock's counting time in its standard's zone; -1 before the first
    month shown, len(months) after now."""
    by_zone: dict[str, list[int]] = {}
    for sid, zone in zone_of.items():
        by_zone.setdefault(zone, []).append(sid)
    whens = []
    for _zone, sids in sorted(by_zone.items()):
        cal = calendars[sids[0]]

        def month_of(at, cal=cal):
            return case(
                (at < cal.starts[0], -1),
                *[(at < s, i) for i, s in enumerate(cal.starts[1:-1])],
                (at <= cal.starts[-1], len(cal.labels) - 1),
                else_=len(cal.labels),
            )

        # counted_at_sql() spelt out, so that each comparison reads a plain column.
        inner = case(
            (SlaClock.created_at > SlaClock.due_at, month_of(SlaClock.created_at)),
            else_=month_of(SlaClock.due_at),
        )
        whens.append((SlaClock.standard_id.in_(sorted(sids)), inner))
    return case(*whens, else_=-2) if whens else None


def _tune_for_one_big_aggregate() -> None:
    """On PostgreSQL, for the rest of this transaction: no JIT (compiling the CASE
    expressions cost 2.7 s of a 3.4 s query at 3M clocks) and enough work_mem to hash the
    few hundred groups instead of sorting every clock to disk (the planner cannot estimate
    how few groups a CASE makes). See docs/performance.md."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


def outcome_counts(
    calendars: dict[int, Months], zone_of: dict[int, str], now: datetime
) -> dict[tuple[int, str, int], list[int]]:
    """Clocks per (standard id, case channel, month index) and outcome (a list indexed like
    OUTCOMES), for every clock that counts in a month shown, every clock still open past due
    from before them, and every clock waiting on the customer. One pass over the clocks."""
    bucket = _bucket_sql(calendars, zone_of)
    if bucket is None:
        return {}
    low = min(cal.starts[0] for cal in calendars.values())
    at = counted_at_sql()
    code = outcome_sql(now)
    _tune_for_one_big_aggregate()
    rows = db.session.execute(
        select(SlaClock.standard_id, Case.channel, bucket.label("b"), code.label("o"), func.count())
        .join(Case, Case.id == SlaClock.case_id)
        .where(
            SlaClock.standard_id.is_not(None),
            or_(
                # Counting by now means due by now: the plain column first, cheaply.
                and_(
                    SlaClock.due_at <= now, at <= now, or_(at >= low, SlaClock.phase == "running")
                ),
                SlaClock.phase == "paused",
            ),
        )
        .group_by(SlaClock.standard_id, Case.channel, bucket, code)
    ).all()
    out: dict[tuple[int, str, int], list[int]] = {}
    for sid, channel, b, o, n in rows:
        out.setdefault((sid, channel, int(b)), [0] * len(OUTCOMES))[int(o)] += int(n)
    return out


def figure(counts: list[int], channels: dict[str, int], open_before: int) -> dict:
    """One published figure from the outcome counts of a period (docs/public-accountability.md)."""
    by = dict(zip(OUTCOMES, counts, strict=True))
    met = by["met"]
    missed = by["met_late"] + by["stopped_unmet"] + by["open_past_due"]
    sample = met + missed
    enough = sample >= MIN_SAMPLE
    shown = {name: by[name] for name in SHOWN_OUTCOMES}
    return {
        "due": sample + sum(shown.values()) + by["waiting_on_customer"],
        "sample": sample,
        "met": met,
        "missed": missed,
        "met_late": by["met_late"],
        "stopped_unmet": by["stopped_unmet"],
        "open_past_due": by["open_past_due"],
        **shown,
        "waiting_on_customer": by["waiting_on_customer"],
        "still_open_from_earlier": open_before,
        "enough_data": enough,
        # Never a percentage of too few clocks (and never a division by zero).
        "percent_met": round(100 * met / sample, 1) if enough else None,
        "channels": dict(sorted(channels.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


class _Standard:
    """One standard's counts by month, summed into published figures."""

    def __init__(self, cal: Months) -> None:
        self.cal = cal
        size = len(cal.labels)
        self.months = [[0] * len(OUTCOMES) for _ in range(size + 2)]  # + before, + after
        self.channels: list[dict[str, int]] = [{} for _ in range(size + 2)]

    def add(self, channel: str, bucket: int, counts: list[int]) -> None:
        i = bucket if bucket >= 0 else len(self.months) - 1  # -1: before the first month
        row = self.months[i]
        for k, n in enumerate(counts):
            row[k] += n
        counted = sum(counts[_CODE[o]] for o in COUNTED_OUTCOMES)
        if counted:
            self.channels[i][channel] = self.channels[i].get(channel, 0) + counted

    def figure(self, first: int, last: int) -> dict:
        counts = [sum(self.months[i][k] for i in range(first, last)) for k in range(len(OUTCOMES))]
        channels: dict[str, int] = {}
        for i in range(first, last):
            for ch, n in self.channels[i].items():
                channels[ch] = channels.get(ch, 0) + n
        opd = _CODE["open_past_due"]
        before = self.months[-1][opd] + sum(self.months[i][opd] for i in range(first))
        return figure(counts, channels, before)

    def live(self) -> dict:
        every = range(len(self.months))
        return {
            "open_past_due_now": sum(self.months[i][_CODE["open_past_due"]] for i in every),
            "waiting_on_customer_now": sum(
                self.months[i][_CODE["waiting_on_customer"]] for i in every
            ),
        }


def standard_key(s: ServiceStandard) -> str:
    """How the API names a posted standard: AGENCY/metric, or AGENCY/category/metric."""
    parts = [s.agency.code, *([s.category.code] if s.category else []), s.metric]
    return "/".join(parts)


def _standards() -> list[ServiceStandard]:
    return db.session.scalars(
        select(ServiceStandard).options(
            joinedload(ServiceStandard.agency).joinedload(Agency.calendar),
            joinedload(ServiceStandard.category),
        )
    ).all()


def compute(now: datetime | None = None) -> dict:
    """The measured result of every posted standard, as of `now`: the last complete calendar
    quarter and 12 complete months, each of the last four quarters and this one so far, and
    the trend month by month - all in the standard's agency's time zone."""
    now = (now or utcnow()).astimezone(UTC)
    standards = _standards()
    zone_of = {s.id: s.agency.calendar.timezone for s in standards}
    by_zone = {zone: Months.of(zone, now) for zone in set(zone_of.values())}
    calendars = {sid: by_zone[zone] for sid, zone in zone_of.items()}
    tallies = {sid: _Standard(cal) for sid, cal in calendars.items()}
    for (sid, channel, b), counts in outcome_counts(calendars, zone_of, now).items():
        if sid in tallies and b >= -1:
            tallies[sid].add(channel, b, counts)
    out = []
    for s in standards:
        t, cal = tallies[s.id], calendars[s.id]

        def period(first: int, last: int, ident: str, *, t=t, cal=cal) -> dict:
            return {
                "id": ident,
                "start": cal.starts[first].isoformat(),
                "end": cal.starts[last].isoformat(),
                "complete": last < len(cal.labels),
                **t.figure(first, last),
            }

        periods = {}
        for name, (first, last) in cal.periods().items():
            ident = (
                next(q for q, f, _ in cal.quarters() if f == first)
                if name == "last_quarter"
                else f"{cal.labels[first]}..{cal.labels[last - 1]}"
            )
            periods[name] = period(first, last, ident)
        this = len(cal.labels) - 1
        out.append(
            {
                "standard": standard_key(s),
                "agency": {"code": s.agency.code, "name": s.agency.name},
                "category": s.category.code if s.category else None,
                "category_name": s.category.name if s.category else None,
                "metric": s.metric,
                "wording": s.wording,
                "target": s.target,
                "unit": s.unit,
                "goal": s.goal,
                "timezone": cal.zone,
                **t.live(),
                "periods": periods,
                "quarters": [
                    {"quarter": q, **period(first, last, q)} for q, first, last in cal.quarters()
                ],
                "trend": [
                    {"month": cal.labels[i], **period(i, i + 1, cal.labels[i])}
                    for i in range(this - TREND_MONTHS + 1, this + 1)
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


# --- The recount: the clocks behind a figure ------------------------------------------------

_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
_QUARTER = re.compile(r"(\d{4})Q([1-4])\Z")


PERIOD_HELP = (
    "Give the period as 2026Q4, 2026-11, 2025-12..2026-11, last_quarter or last_12_months."
)


def parse_period(text: str, zone: str, when: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of 2026Q4, 2026-11 or 2025-12..2026-11 in the zone's local months,
    or of a published period's name as of `when`; ValueError with a message otherwise."""
    text = (text or "").strip()
    months = Months.of(zone, when)
    if text.lower() in months.periods():
        first, last = months.periods()[text.lower()]
        return months.starts[first], months.starts[last]
    text = text.upper()
    tz = ZoneInfo(zone)

    def month(part: str, *, end: bool) -> datetime:
        m = _MONTH.match(part)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(PERIOD_HELP)
        return _local_month(int(m.group(1)), int(m.group(2)) + (1 if end else 0), tz)

    q = _QUARTER.match(text)
    if q:
        year, quarter = int(q.group(1)), int(q.group(2))
        return _local_month(year, 3 * quarter - 2, tz), _local_month(year, 3 * quarter + 1, tz)
    first, _, last = text.partition("..")
    start, end = month(first, end=False), month(last or first, end=True)
    if end <= start:
        raise ValueError("The period's last month comes before its first.")
    return start, end


def _hash_key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"redress performance recount v1", hashlib.sha256).digest()


def case_hash(reference: str, key: bytes | None = None) -> str:
    """A case's reference, de-identified for the public recount: a keyed hash (HMAC-SHA256
    under a key derived from SECRET_KEY), stable across calls, that nobody without the key
    can link back to a reference by hashing candidate references."""
    return hmac.new(key or _hash_key(), reference.encode(), hashlib.sha256).hexdigest()[:20]


def as_of(clock, when: datetime) -> ClockTimes | None:
    """The clock as it stood at `when` (the published figures' time), from what is stored
    now: a clock met or stopped since was still running then; one started since did not
    exist. (A clock paused then and resumed since has its due time moved past `when`.)"""
    if clock.created_at is not None and clock.created_at > when:
        return None
    phase, met_at = clock.phase, clock.met_at
    if phase == "met" and met_at is not None and met_at > when:
        phase, met_at = "running", None
    if phase == "stopped" and clock.stopped_at is not None and clock.stopped_at > when:
        phase = "running"
    if phase == "paused" and clock.paused_at is not None and clock.paused_at > when:
        phase = "running"
    return ClockTimes(
        phase=phase,
        due_at=clock.due_at,
        at_risk_at=clock.at_risk_at,
        met_at=met_at,
        stopped_at=clock.stopped_at,
        stop_reason=clock.stop_reason,
    )


def recount_plan(
    standard: str | None, period: str, when: datetime
) -> list[tuple[list[ServiceStandard], datetime, datetime]]:
    """The standards asked for (one by its key, or all) grouped by time zone, each group with
    the period's [start, end) in that zone. ValueError says what is wrong with the input."""
    standards = _standards()
    if standard:
        standards = [s for s in standards if standard_key(s) == standard.strip()]
        if not standards:
            raise ValueError(f"No posted standard '{standard}'; see GET /api/v1/performance.")
    by_zone: dict[str, list[ServiceStandard]] = {}
    for s in standards:
        by_zone.setdefault(s.agency.calendar.timezone, []).append(s)
    return [(group, *parse_period(period, zone, when)) for zone, group in sorted(by_zone.items())]


def clock_rows(
    standards: list[ServiceStandard], start: datetime, end: datetime, when: datetime
) -> Iterator[dict]:
    """The de-identified clocks that count in [start, end) for these standards, with their
    outcome as of `when` (the published figures' time), in due order."""
    at = counted_at_sql()
    keys = {s.id: standard_key(s) for s in standards}
    hash_key = _hash_key()
    query = (
        select(SlaClock, Case.reference, Case.channel)
        .join(Case, Case.id == SlaClock.case_id)
        .where(
            SlaClock.standard_id.in_(sorted(keys)),
            at >= start,
            at < end,
            at <= when,
        )
        .order_by(SlaClock.due_at, SlaClock.id)
        .execution_options(yield_per=2000)
    )
    for clock, reference, channel in db.session.execute(query):
        then = as_of(clock, when)
        if then is None:
            continue
        result = outcome(then, when)
        if result == "not_yet_due":
            continue
        yield {
            "standard": keys[clock.standard_id],
            "case": case_hash(reference, hash_key),
            "channel": channel,
            "metric": clock.metric,
            "started_at": clock.started_at.isoformat(),
            "due_at": clock.due_at.isoformat(),
            "counted_at": counted_at(clock).isoformat(),
            "ended_at": _iso(then.met_at or (then.stopped_at if then.phase == "stopped" else None)),
            "paused_seconds": round(clock.paused_seconds or 0.0),
            "outcome": result,
            "counted": result in COUNTED_OUTCOMES,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- The nightly roll-up ---------------------------------------------------------------------


def _last_whole_day(now: datetime, zones: set[str]) -> date:
    """The latest date that has ended in every one of these time zones."""
    return min((now.astimezone(ZoneInfo(z)) - timedelta(days=1)).date() for z in zones or {"UTC"})


def rollup(day: date | None = None) -> dict[str, int]:
    """Count the day's outcomes per agency (re-running replaces the day's rows, so it is
    idempotent): the clocks that counted on that day in their agency's time zone, met on
    time or missed, as the published figures count them. Paused clocks and those withdrawn,
    handed over or merged before their due time are not in it."""
    now = utcnow()
    owner = {
        sid: (agency_id, zone)
        for sid, agency_id, zone in db.session.execute(
            select(ServiceStandard.id, ServiceStandard.agency_id, Calendar.timezone)
            .join(Agency, Agency.id == ServiceStandard.agency_id)
            .join(Calendar, Calendar.id == Agency.calendar_id)
        )
    }
    zones = {zone for _, zone in owner.values()}
    day = day or _last_whole_day(now, zones)
    at = counted_at_sql()
    C = SlaClock
    windows, low, high = [], None, None
    for zone in sorted(zones):
        tz = ZoneInfo(zone)
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        low, high = min(low or start, start), max(high or end, end)
        ids = sorted(sid for sid, (_, z) in owner.items() if z == zone)
        windows.append(and_(C.standard_id.in_(ids), at >= start, at < end))
    # Counted: met, open past due (counting by then means due by then), or stopped unmet.
    counted = or_(
        C.phase.in_(("met", "running")),
        and_(
            C.phase == "stopped",
            or_(
                C.stop_reason.is_(None),
                C.stop_reason == "closed",
                C.stopped_at.is_(None),
                C.stopped_at >= C.due_at,
            ),
        ),
    )
    on_time = case((and_(C.phase == "met", C.met_at <= C.due_at), 1), else_=0)
    totals: dict[tuple[int, str, str], list[int]] = {}
    if windows:
        _tune_for_one_big_aggregate()
        rows = db.session.execute(
            select(C.standard_id, C.metric, Case.channel, on_time, func.count())
            .join(Case, Case.id == C.case_id)
            .where(
                # Plain columns first, so that most clocks are passed over cheaply: a clock
                # counting in [low, high) fell due before high and started or fell due after low.
                C.due_at < high,
                C.due_at <= now,
                or_(C.due_at >= low, C.created_at >= low),
                or_(*windows),
                counted,
            )
            .group_by(C.standard_id, C.metric, Case.channel, on_time)
        )
        for sid, metric, channel, ok, n in rows:
            tally = totals.setdefault((owner[sid][0], metric, channel), [0, 0])
            tally[0 if ok else 1] += int(n)
    db.session.execute(delete(PerformanceDaily).where(PerformanceDaily.day == day))
    if totals:
        db.session.execute(
            insert(PerformanceDaily),
            [
                {"day": day, "agency_id": a, "metric": m, "channel": c, "met": ok, "missed": bad}
                for (a, m, c), (ok, bad) in sorted(totals.items())
            ],
        )
    db.session.commit()
    return {"day": day.isoformat(), "rows": len(totals)}
