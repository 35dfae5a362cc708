"""The one source of "now", so that tests and `--now` options can move time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: datetime | None = None


def utcnow() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen_time(at: datetime) -> Iterator[None]:
    """Make utcnow() return `at` (used by tests and by `redress sla sweep --now`)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen_time needs an aware datetime")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry an offset (or Z)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone offset, e.g. 2026-12-01T12:00:00-05:00")
    return parsed
