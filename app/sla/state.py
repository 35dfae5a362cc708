"""SLA state and outcome as pure functions of a clock's timestamps and now (no calendar
arithmetic). The outcome words are the published ones (docs/public-accountability.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATES = ("on_track", "at_risk", "breached", "met", "paused", "stopped")

# What became of a clock, in the words the public figures and the recount use. The first
# four count towards the percentage met; the next three are shown beside it; the last two
# are not decided yet.
COUNTED_OUTCOMES = ("met", "met_late", "stopped_unmet", "open_past_due")
SHOWN_OUTCOMES = ("withdrawn_by_customer", "handed_over", "merged_before_due")
OUTCOMES = (*COUNTED_OUTCOMES, *SHOWN_OUTCOMES, "waiting_on_customer", "not_yet_due")
MISSED_OUTCOMES = ("met_late", "stopped_unmet", "open_past_due")
# A clock stopped for one of these reasons before its due time has no verdict to publish.
_EXCUSED = {
    "withdrawn": "withdrawn_by_customer",
    "transferred": "handed_over",
    "merged": "merged_before_due",
}


@dataclass(frozen=True)
class ClockTimes:
    phase: str
    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    breached_at: datetime | None = None


def clock_state(clock: ClockTimes, now: datetime) -> str:
    """on_track / at_risk / breached / met / paused / stopped.

    A clock met after its due time stays `breached`: the promise was missed, and the
    published figures must say so. A `stopped` clock (its case closed unresolved, merged,
    withdrawn or transferred) has its verdict in `outcome`.
    """
    if clock.phase == "met":
        return "met" if clock.met_at is not None and clock.met_at <= clock.due_at else "breached"
    if clock.phase == "stopped":
        return "stopped"
    if clock.phase == "paused":
        return "paused"
    if now >= clock.due_at:
        return "breached"
    if now >= clock.at_risk_at:
        return "at_risk"
    return "on_track"


def outcome(clock: ClockTimes, now: datetime) -> str:
    """What became of the clock (OUTCOMES).

    The one rule: a clock that passed its due time unmet is missed, for good - met late,
    stopped unmet, or still open past due. Closing a case unresolved misses every clock it
    had not met, whenever it happens. Only a stop *before* the due time by the customer's
    withdrawal, a transfer or a merge leaves no verdict, and is shown as such.
    """
    if clock.phase == "met":
        return "met" if clock.met_at is not None and clock.met_at <= clock.due_at else "met_late"
    if clock.phase == "stopped":
        excused = _EXCUSED.get(clock.stop_reason or "closed")
        stopped = clock.stopped_at
        if excused and stopped is not None and stopped < clock.due_at:
            return excused
        return "stopped_unmet"
    if clock.phase == "paused":
        return "waiting_on_customer"
    return "open_past_due" if now >= clock.due_at else "not_yet_due"


def breached_at(clock: ClockTimes, now: datetime) -> datetime | None:
    """When the clock breached, if it has: the time the sweep recorded (never cleared), else
    its due time once the outcome is a miss."""
    if clock.breached_at is not None:
        return clock.breached_at
    return clock.due_at if outcome(clock, now) in MISSED_OUTCOMES else None


# A case's live SLA state, as staff lists use it (queues, the supervisor's dashboard, the API's
# `sla` filter): decided by its running clocks now, most urgent first; paused only when none
# runs. Every open case with a clock is in exactly one of them. A clock met late is history
# (it stays missed in the published figures) and makes no case "breached" now.
LIVE_STATES = ("breached", "at_risk", "on_track", "paused")


def live_clock(clocks, now: datetime):
    """The clock that decides the case's live state: its most overdue running clock, else the
    running one first at risk or due, else a paused one; None without either."""
    live = [c for c in clocks if c.phase in ("running", "paused")]
    if not live:
        return None
    return min(live, key=lambda c: (LIVE_STATES.index(clock_state(c, now)), c.due_at))


def live_state(clocks, now: datetime) -> str | None:
    """breached (a running clock is past due now), at_risk, on_track or paused; None when the
    case has no running or paused clock. app.cases.queries.sla_condition is the same rule in
    SQL."""
    clock = live_clock(clocks, now)
    return None if clock is None else clock_state(clock, now)
