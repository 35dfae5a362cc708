"""SLA badges for staff screens: each clock's state and business time left or overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.sla.calendar import BusinessCalendar
from app.sla.state import clock_state, live_clock, outcome

LABELS = {
    "on_track": "On track",
    "at_risk": "At risk",
    "breached": "Breached",
    "met": "Met",
    "paused": "Paused",
    "stopped": "Stopped",
}
METRIC_LABELS = {
    "acknowledge": "Acknowledge",
    "first_response": "First response",
    "resolve": "Resolve",
}


@dataclass(frozen=True)
class Badge:
    state: str
    metric: str
    due_at: datetime | None
    text: str  # "2 h 15 min left", "3 business days overdue", "waiting on the customer"

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)

    @property
    def metric_label(self) -> str:
        return METRIC_LABELS.get(self.metric, self.metric)


def _hours_minutes(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _days(value: float, kind: str = "business") -> str:
    rounded = round(value, 1)
    return f"{rounded:g} {kind} day" + ("" if rounded == 1 else "s")


def business_time(cal: BusinessCalendar, start: datetime, end: datetime, unit: str) -> str:
    """Time between two instants as the clock counts it: business days or hours, or real
    calendar time; under a day it is shown in hours and minutes."""
    if unit == "calendar_days":
        seconds = (end - start).total_seconds()
        return _days(seconds / 86400, "calendar") if seconds >= 86400 else _hours_minutes(seconds)
    if unit == "business_days":
        days = cal.business_days_between(start, end)
        if days >= 1:
            return _days(days)
    return _hours_minutes(cal.business_seconds_between(start, end)) + " business time"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def overdue(cal: BusinessCalendar, due: datetime, now: datetime, unit: str) -> str:
    """How long a running clock is past due, in whole units as it counts them, rounded down:
    "3 business days overdue", "37 days overdue", "5 business hours overdue"."""
    if unit == "calendar_days":
        seconds = (now - due).total_seconds()
        if seconds >= 86400:
            return _count(int(seconds // 86400), "day") + " overdue"
        business = ""
    else:
        if unit == "business_days":
            days = int(cal.business_days_between(due, now))
            if days >= 1:
                return _count(days, "business day") + " overdue"
        seconds = cal.business_seconds_between(due, now)
        business = "business "
    if seconds >= 3600:
        return _count(int(seconds // 3600), business + "hour") + " overdue"
    return "under a business hour overdue" if business else "under an hour overdue"


_STOPPED = {
    "stopped_unmet": "missed: stopped unmet",
    "withdrawn_by_customer": "withdrawn by the customer",
    "handed_over": "handed over to another agency",
    "merged_before_due": "merged before due",
}


def badge(clock, cal: BusinessCalendar, now: datetime) -> Badge:
    state = clock_state(clock, now)
    if state in ("on_track", "at_risk"):
        text = business_time(cal, now, clock.due_at, clock.unit) + " left"
    elif state == "breached" and clock.phase == "running":
        text = overdue(cal, clock.due_at, now, clock.unit)
    elif state == "breached":
        text = "met late"
    elif state == "paused":
        text = "waiting on the customer"
    elif state == "met":
        text = "met on time"
    else:  # stopped: what it counts as (app.sla.state.outcome)
        text = _STOPPED.get(outcome(clock, now), "stopped")
    return Badge(state, clock.metric, clock.due_at, text)


def headline(clocks: list, calendars: dict[int, BusinessCalendar], now: datetime) -> Badge | None:
    """The one badge a queue row shows: the clock that decides the case's live state
    (app.sla.state.live_clock), so a case listed as breached is always badged so."""
    clock = live_clock(clocks, now)
    return None if clock is None else badge(clock, calendars[clock.calendar_id], now)
