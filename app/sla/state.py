"""SLA state as a pure function of a clock's timestamps and now (no calendar arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATES = ("on_track", "at_risk", "breached", "met", "paused", "stopped")


@dataclass(frozen=True)
class ClockTimes:
    phase: str
    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None = None


def clock_state(clock: ClockTimes, now: datetime) -> str:
    """on_track / at_risk / breached / met / paused / stopped.

    A clock met after its due time stays `breached`: the promise was missed, and the
    published figures must say so. A clock `stopped` (its case merged or closed unresolved)
    no longer counts either way.
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


def breached_at(clock: ClockTimes, now: datetime) -> datetime | None:
    """When the clock breached, if it has: its due time, once passed while unmet."""
    if clock.phase == "met":
        return clock.due_at if clock.met_at and clock.met_at > clock.due_at else None
    if clock.phase == "running" and now >= clock.due_at:
        return clock.due_at
    return None
