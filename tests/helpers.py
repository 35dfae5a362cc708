"""Small helpers shared by tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    """A New York wall-clock time, aware."""
    return datetime(*args, tzinfo=NY)
