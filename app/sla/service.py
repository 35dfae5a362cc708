"""Start, pause, resume, meet and re-target SLA clocks against posted service standards."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.directory.models import Calendar, ServiceStandard
from app.extensions import db
from app.sla.calendar import BusinessCalendar, parse_weekly_hours
from app.sla.models import SlaClock
from app.sla.state import outcome

_cache_lock = threading.Lock()
_calendar_cache: dict[tuple, BusinessCalendar] = {}


def business_calendar(record: Calendar) -> BusinessCalendar:
    """The arithmetic calendar for a stored calendar, cached by its full content."""
    closures = tuple(sorted(c.date for c in record.closures))
    key = (
        record.id,
        record.timezone,
        tuple(sorted(record.hours.items())),
        record.holiday_country,
        closures,
    )
    cal = _calendar_cache.get(key)
    if cal is None:
        cal = BusinessCalendar(
            record.timezone,
            parse_weekly_hours(record.hours),
            holiday_country=record.holiday_country,
            closures=closures,
        )
        with _cache_lock:
            _calendar_cache[key] = cal
    return cal


def applicable_standards(agency_id: int, category_id: int | None) -> dict[str, ServiceStandard]:
    """The posted standard per metric: the category's own, else the agency's."""
    rows = db.session.scalars(
        db.select(ServiceStandard).where(ServiceStandard.agency_id == agency_id)
    ).all()
    chosen: dict[str, ServiceStandard] = {}
    for row in rows:
        if row.category_id is None:
            chosen.setdefault(row.metric, row)
    for row in rows:
        if category_id is not None and row.category_id == category_id:
            chosen[row.metric] = row
    return chosen


def _escalate_after_seconds() -> float:
    return float(current_app.config.get("SLA_ESCALATE_AFTER_BUSINESS_HOURS", 8)) * 3600


def _at_risk_fraction() -> float:
    return float(current_app.config.get("SLA_AT_RISK_FRACTION", 0.75))


def _schedule(clock: SlaClock, cal: BusinessCalendar) -> None:
    """Set due_at and at_risk_at from the start, the target and the time paused so far."""
    allowed = cal.allowed(clock.target, clock.unit)
    due = cal.due(clock.started_at, clock.target, clock.unit)
    risk = cal.due(clock.started_at, clock.target * _at_risk_fraction(), clock.unit)
    if clock.paused_total:
        due = cal.extend(due, clock.paused_total, clock.unit)
        risk = cal.extend(risk, clock.paused_total, clock.unit)
    clock.due_at = due
    clock.at_risk_at = min(risk, due) if allowed else due
    # Scheduled now, like the due time, so the sweep writes nothing per clock at a breach.
    clock.escalate_at = cal.add_business_seconds(due, _escalate_after_seconds())


@dataclass(frozen=True)
class ClockPlan:
    """What a new case's clocks need from the directory: the agency's business calendar and
    each metric's posted standard as (metric, standard id, target, unit)."""

    calendar: BusinessCalendar
    standards: tuple[tuple[str, int, float, str], ...]


# Every intake starts clocks: each process keeps the plan per (agency, category) for a few
# seconds, like the router (app/routing/service.py), instead of reading the calendar, its
# closures and the standards again. A directory load or a closure change in this process
# forgets them at once (`forget_clock_plans`); other processes see it within the TTL.
_PLAN_TTL = 10.0
_plans: dict[tuple[str, int, int | None], tuple[float, ClockPlan]] = {}


def clock_plan(agency, category_id: int | None) -> ClockPlan:
    key = (str(db.engine.url), agency.id, category_id)
    now = time.monotonic()
    cached = _plans.get(key)
    if cached is not None and now - cached[0] <= _PLAN_TTL:
        return cached[1]
    standards = sorted(applicable_standards(agency.id, category_id).items())
    plan = ClockPlan(
        business_calendar(agency.calendar),
        tuple((metric, s.id, float(s.target), s.unit) for metric, s in standards),
    )
    with _cache_lock:
        _plans[key] = (now, plan)
    return plan


def forget_clock_plans() -> None:
    """After the directory or a calendar's closures change in this process."""
    with _cache_lock:
        _plans.clear()


def _new_clock(
    cal: BusinessCalendar,
    standard: tuple[str, int | None, float, str],
    calendar_id: int,
    started_at: datetime,
    created_at: datetime | None,
    paused: tuple[float, float] = (0.0, 0.0),
    calendar: Calendar | None = None,
) -> SlaClock:
    """A running clock for (metric, standard id, target, unit), scheduled on `cal`, with
    `paused` = (allowed time added back, real seconds waited) carried from earlier clocks."""
    metric, standard_id, target, unit = standard
    clock = SlaClock(
        metric=metric,
        standard_id=standard_id,
        target=target,
        unit=unit,
        calendar_id=calendar_id,
        phase="running",
        started_at=started_at,
        created_at=created_at,
        paused_total=paused[0],
        paused_seconds=paused[1],
    )
    if calendar is not None:
        clock.calendar = calendar
    _schedule(clock, cal)
    return clock


def start_clocks(case, agency, category_id: int | None) -> list[SlaClock]:
    """One clock per applicable posted standard, starting when the complaint was received."""
    with db.session.no_autoflush:  # the case is written once, with its next due time
        plan = clock_plan(agency, category_id)
    cal = plan.calendar
    clocks = []
    for standard in plan.standards:
        clock = _new_clock(cal, standard, agency.calendar_id, case.received_at, case.created_at)
        case.clocks.append(clock)
        clocks.append(clock)
    refresh_next_due(case)
    return clocks


def current_clocks(case) -> list[SlaClock]:
    """The clocks the case runs on now: those no newer clock of the same metric replaced."""
    return [c for c in case.clocks if c.superseded_at is None]


def refresh_next_due(case) -> None:
    running = [c.due_at for c in case.clocks if c.phase == "running"]
    case.next_due_at = min(running) if running else None


def meet(case, metrics: tuple[str, ...], at: datetime) -> list[str]:
    """Mark running (or paused) clocks for these metrics met; return the metrics met now."""
    met = []
    for clock in case.clocks:
        if clock.metric in metrics and clock.phase in ("running", "paused"):
            if clock.phase == "paused":
                _resume_clock(clock, at)
            clock.phase = "met"
            clock.met_at = at
            met.append(clock.metric)
    refresh_next_due(case)
    return met


def pause(case, metric: str, at: datetime) -> bool:
    """Stop a clock counting while we wait on the customer. A clock already past its due time
    is not paused: it was missed, and waiting now cannot move its due time back."""
    for clock in case.clocks:
        if clock.metric == metric and clock.phase == "running" and at < clock.due_at:
            clock.phase = "paused"
            clock.paused_at = at
            refresh_next_due(case)
            return True
    return False


def _resume_clock(clock: SlaClock, at: datetime) -> None:
    cal = business_calendar(clock.calendar)
    waited = cal.elapsed(clock.paused_at, at, clock.unit) if at > clock.paused_at else 0.0
    clock.paused_total = (clock.paused_total or 0.0) + waited
    clock.paused_seconds = (clock.paused_seconds or 0.0) + max(
        0.0, (at - clock.paused_at).total_seconds()
    )
    clock.paused_at = None
    clock.phase = "running"
    if clock.breached_at is None:  # a recorded breach keeps its due time
        _schedule(clock, cal)


def resume(case, at: datetime) -> list[str]:
    """Restart paused clocks, adding the paused time back onto their due times."""
    resumed = []
    for clock in case.clocks:
        if clock.phase == "paused":
            _resume_clock(clock, at)
            resumed.append(clock.metric)
    refresh_next_due(case)
    return resumed


def _stop_clock(clock: SlaClock, at: datetime, reason: str) -> None:
    if clock.phase == "paused":  # the waiting time counts up to now, fixing the due time
        _resume_clock(clock, at)
    clock.phase = "stopped"
    clock.stopped_at = at
    clock.stop_reason = reason
    if clock.breached_at is None and clock.due_at <= at:
        clock.breached_at = clock.due_at


def stop(case, at: datetime, reason: str) -> list[str]:
    """Clocks of a case closed unresolved, withdrawn or merged away stop running, keeping
    their outcome (app.sla.state.outcome): closed unresolved is a miss; withdrawn or merged
    is a miss when it happens after the due time. Returns the metrics stopped."""
    stopped = []
    for clock in case.clocks:
        if clock.phase in ("running", "paused"):
            _stop_clock(clock, at, reason)
            stopped.append(clock.metric)
    refresh_next_due(case)
    return stopped


def _successor(clock: SlaClock, at: datetime, since: datetime) -> SlaClock:
    """A new clock continuing `clock` from `at`, not counting the time since `since` (when
    the case was resolved or closed); the old one keeps its outcome."""
    cal = business_calendar(clock.calendar)
    new = _new_clock(
        cal,
        (clock.metric, clock.standard_id, clock.target, clock.unit),
        clock.calendar_id,
        clock.started_at,
        at,
        (
            (clock.paused_total or 0.0) + cal.elapsed(since, at, clock.unit),
            clock.paused_seconds or 0.0,
        ),
        clock.calendar,
    )
    clock.superseded_at = at
    return new


def reopen(case, at: datetime) -> None:
    """A reopened case runs its unmet clocks again and its resolve clock anew.

    A clock that closing counted as missed simply runs again with its due time unchanged: if
    that time has passed it stays missed (a later reply meets it late), otherwise it can
    still be met. A clock with another outcome (a met resolve clock, one withdrawn by the
    customer or merged before its due time) keeps it, and a new clock takes over that does
    not count the time the case sat resolved or closed.
    """
    for clock in current_clocks(case):
        if clock.phase == "stopped" and outcome(clock, at) == "stopped_unmet":
            clock.phase = "running"
            clock.stopped_at = None
            clock.stop_reason = None
        elif clock.phase == "stopped" or (clock.phase == "met" and clock.metric == "resolve"):
            since = clock.met_at if clock.phase == "met" else clock.stopped_at
            case.clocks.append(_successor(clock, at, min(since or at, at)))
    refresh_next_due(case)


def transfer(case, agency, category_id: int | None, at: datetime) -> None:
    """After a transfer the sending agency keeps every outcome it owned: clocks it met stay
    met, clocks still unmet stop (missed if past their due time, else handed over). The
    receiving agency's clocks start at the customer's original received time - the customer
    does not pay for our routing - and one that was waiting on the customer waits on, until
    the next message either way resumes it."""
    cal = business_calendar(agency.calendar)
    standards = applicable_standards(agency.id, category_id)
    current = {c.metric: c for c in current_clocks(case)}
    carried: dict[str, tuple[str, float, float, datetime | None]] = {}
    for clock in current.values():
        if clock.phase in ("running", "paused"):
            carried[clock.metric] = (
                clock.unit,
                clock.paused_total or 0.0,
                clock.paused_seconds or 0.0,
                clock.paused_at if clock.phase == "paused" else None,
            )
            _stop_clock(clock, at, "transferred")
            clock.superseded_at = at
    for metric, standard in standards.items():
        old = current.get(metric)
        if old is not None and old.phase == "met":
            continue
        unit, paused_total, paused_seconds, paused_since = carried.get(
            metric, (standard.unit, 0.0, 0.0, None)
        )
        if unit != standard.unit:
            # Earlier pauses were measured in the old unit and cannot be carried over.
            paused_total = paused_seconds = 0.0
        clock = _new_clock(
            cal,
            (metric, standard.id, float(standard.target), standard.unit),
            agency.calendar_id,
            case.received_at,
            at,
            (paused_total, paused_seconds),
            agency.calendar,
        )
        if paused_since is not None and paused_since < clock.due_at:
            clock.phase = "paused"
            clock.paused_at = paused_since
        case.clocks.append(clock)
    refresh_next_due(case)


def reschedule_calendar(calendar: Calendar, since: datetime) -> int:
    """After closures are added to or removed from a calendar: running clocks on it that are
    due after `since` get due times that skip (or use) those days. A clock whose breach was
    recorded keeps its due time: a missed promise stays missed. Returns how many moved."""
    from sqlalchemy.orm import selectinload

    from app.cases.models import Case

    forget_clock_plans()
    cal = business_calendar(calendar)
    affected = db.session.scalars(
        db.select(Case)
        .where(
            Case.id.in_(
                db.select(SlaClock.case_id).where(
                    SlaClock.calendar_id == calendar.id,
                    SlaClock.phase == "running",
                    SlaClock.breached_at.is_(None),
                    SlaClock.due_at >= since,
                )
            )
        )
        .options(selectinload(Case.clocks))
    ).all()
    moved = 0
    for case in affected:
        for clock in case.clocks:
            if (
                clock.calendar_id == calendar.id
                and clock.phase == "running"
                and clock.breached_at is None
            ):
                before = clock.due_at
                _schedule(clock, cal)
                moved += clock.due_at != before
        refresh_next_due(case)
    return moved
