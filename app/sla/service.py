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


def start_clocks(case, agency, category_id: int | None) -> list[SlaClock]:
    """One clock per applicable posted standard, starting when the complaint was received."""
    with db.session.no_autoflush:  # the case is written once, with its next due time
        plan = clock_plan(agency, category_id)
    cal = plan.calendar
    clocks = []
    for metric, standard_id, target, unit in plan.standards:
        clock = SlaClock(
            metric=metric,
            standard_id=standard_id,
            target=target,
            unit=unit,
            calendar_id=agency.calendar_id,
            phase="running",
            started_at=case.received_at,
            paused_total=0.0,
        )
        _schedule(clock, cal)
        case.clocks.append(clock)
        clocks.append(clock)
    refresh_next_due(case)
    return clocks


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
    """Stop a clock counting while we wait on the customer."""
    for clock in case.clocks:
        if clock.metric == metric and clock.phase == "running":
            clock.phase = "paused"
            clock.paused_at = at
            refresh_next_due(case)
            return True
    return False


def _resume_clock(clock: SlaClock, at: datetime) -> None:
    cal = business_calendar(clock.calendar)
    waited = cal.elapsed(clock.paused_at, at, clock.unit) if at > clock.paused_at else 0.0
    clock.paused_total = (clock.paused_total or 0.0) + waited
    clock.paused_at = None
    clock.phase = "running"
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


def reopen(case, at: datetime) -> None:
    """A reopened case's resolve clock runs again; the time it sat resolved is not counted."""
    for clock in case.clocks:
        if clock.metric == "resolve" and clock.phase in ("met", "stopped"):
            clock.paused_at = clock.met_at or at
            clock.met_at = None
            _resume_clock(clock, at)
    refresh_next_due(case)


def stop(case) -> None:
    """Clocks of a case closed unresolved or merged away no longer run or count."""
    for clock in case.clocks:
        if clock.phase in ("running", "paused"):
            clock.phase = "stopped"
    refresh_next_due(case)


def retarget(case, agency, category_id: int | None) -> None:
    """After a transfer: unmet clocks follow the new agency's standards and calendar, but keep
    their original start, so the customer does not pay for our routing."""
    cal = business_calendar(agency.calendar)
    standards = applicable_standards(agency.id, category_id)
    by_metric = {c.metric: c for c in case.clocks}
    for metric, standard in standards.items():
        clock = by_metric.get(metric)
        if clock is None:
            clock = SlaClock(metric=metric, phase="running", started_at=case.received_at)
            clock.paused_total = 0.0
            case.clocks.append(clock)
        if clock.phase in ("met", "stopped"):
            continue
        if clock.unit is not None and clock.unit != standard.unit:
            # Earlier pauses were measured in the old unit and cannot be carried over.
            clock.paused_total = 0.0
        clock.standard_id = standard.id
        clock.target = float(standard.target)
        clock.unit = standard.unit
        clock.calendar_id = agency.calendar_id
        clock.calendar = agency.calendar
        _schedule(clock, cal)
    refresh_next_due(case)


def reschedule_calendar(calendar: Calendar, since: datetime) -> int:
    """After closures are added to or removed from a calendar: running clocks on it that are
    due after `since` get due times that skip (or use) those days. Returns how many moved."""
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
                    SlaClock.due_at >= since,
                )
            )
        )
        .options(selectinload(Case.clocks))
    ).all()
    moved = 0
    for case in affected:
        for clock in case.clocks:
            if clock.calendar_id == calendar.id and clock.phase == "running":
                before = clock.due_at
                _schedule(clock, cal)
                moved += clock.due_at != before
        refresh_next_due(case)
    return moved
