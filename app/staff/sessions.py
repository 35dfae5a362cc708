"""Server-side workspace sessions: begun at sign-in, checked on every request, ended for good.

The signed session cookie carries only a random id. Its record says whether the session is
still good: a cookie copied before sign-out, deactivation or a password change finds its
record ended and is refused. Records live in the database (PostgreSQL in production), so
sessions survive a Redis outage and every web worker sees the same state.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update

from app.extensions import db
from app.staff.models import StaffSession, StaffUser

# Activity is written at most this often per session: idle time is accurate to it.
TOUCH_EVERY = timedelta(seconds=15)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def begin(staff: StaffUser, now: datetime) -> str:
    """A new session for `staff`; returns the id for the cookie (not committed)."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        StaffSession(staff_id=staff.id, token_hash=_digest(token), created_at=now, last_seen_at=now)
    )
    return token


def find(token: str | None) -> StaffSession | None:
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    return db.session.scalar(
        db.select(StaffSession).where(StaffSession.token_hash == _digest(token))
    )


def check(
    record: StaffSession | None, staff_id: int, now: datetime, idle: timedelta, max_age: timedelta
) -> str | None:
    """Why the session cannot be used (ended, idle, expired, someone else's), or None. An
    idle or expired session is ended here, so it stays ended whatever the clock says later."""
    if record is None or record.staff_id != staff_id:
        return "unknown"
    if record.ended_at is not None:
        return record.end_reason or "ended"
    reason = None
    if now - record.last_seen_at > idle:
        reason = "idle"
    elif now - record.created_at > max_age:
        reason = "expired"
    if reason:
        record.ended_at, record.end_reason = now, reason
    return reason


def touch(record: StaffSession, now: datetime) -> bool:
    """Note activity (at most every TOUCH_EVERY); whether anything was written."""
    if now - record.last_seen_at < TOUCH_EVERY:
        return False
    record.last_seen_at = now
    return True


def remaining(record: StaffSession, now: datetime, idle: timedelta, max_age: timedelta) -> float:
    """Seconds until the session ends if nothing more happens."""
    ends = min(record.last_seen_at + idle, record.created_at + max_age)
    return max(0.0, (ends - now).total_seconds())


def end(token: str | None, now: datetime, reason: str = "signed_out") -> None:
    record = find(token)
    if record is not None and record.ended_at is None:
        record.ended_at, record.end_reason = now, reason


def end_all(staff: StaffUser, now: datetime, reason: str) -> int:
    """End every open session of `staff` (deactivation, password change); returns how many."""
    result = db.session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
