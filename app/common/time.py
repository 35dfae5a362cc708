"""The one source of "now", so that tests and `--now` options can move time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# Per thread (and per asyncio task): freezing time in one thread never leaks into another.
_frozen: ContextVar[datetime | None] = ContextVar("redress_frozen_time", default=None)


def utcnow() -> datetime:
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(UTC)


@contextmanager
def frozen_time(at: datetime) -> Iterator[None]:
    """Make utcnow() return `at` (used by tests and by `redress sla sweep --now`)."""
    if at.tzinfo is None:
        raise ValueError("frozen_time needs an aware datetime")
    token = _frozen.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _frozen.reset(token)


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry an offset (or Z)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone offset, e.g. 2026-12-01T12:00:00-05:00")
    return parsed
