"""Store raw inbound input first, then process it on a worker; record every outcome.

Each channel's door (SMTP, IMAP, webhook, file, Twilio, scan folder) calls `receive`, commits,
and only then acknowledges the sender. `process` hands the stored row to the channel's
processor; whatever happens is written on the row, and a failed row can be retried.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from app.common.errors import NotFound
from app.common.time import utcnow
from app.extensions import db
from app.inbound.models import DONE, OUTCOMES, InboundMessage
from app.jobs import defer, resolve

log = logging.getLogger(__name__)

# Which function turns a stored row of each channel into a case, a reply or an ignore.
# Named by import path so that a channel's glue is loaded only when its input arrives.
PROCESSORS = {
    "email": "app.email.intake.process",
    "sms": "app.sms.intake.process",
    "mail": "app.mailroom.intake.process",
}
REASON_LIMIT = 1000
PROCESS_JOB = "workers.jobs.process_inbound"
# A row still pending this long after it arrived (or was retried) has lost its job: Redis
# was down when it was queued, or flushed, or the worker died with it. The reconciler queues
# it again; a job already waiting for it is left alone (jobs are named after the row).
STALE_PENDING = timedelta(minutes=1)
# Ignored outcomes an operator may overrule with a retry ("not spam"): the row is processed
# again as a person's message, with `released` in its meta saying what was overruled.
RELEASABLE = ("spam",)


class Rejected(Exception):
    """The input can never become a case as it is (unparseable, empty, unknown recipient).

    Raised by a processor with a reason an operator can act on; the row is marked failed
    and kept, and can be re-processed after a fix.
    """


def receive(
    channel: str,
    source: str,
    raw: bytes,
    *,
    dedupe_key: str | None = None,
    meta: dict | None = None,
    now: datetime | None = None,
    process_later: bool = True,
) -> tuple[InboundMessage, bool]:
    """Add the raw input to the session (the caller commits) and queue its processing.

    Returns (row, created). A redelivery with the same `dedupe_key` returns the first row
    and queues nothing.
    """
    if channel not in PROCESSORS:
        raise ValueError(f"unknown inbound channel {channel}")
    if dedupe_key:
        existing = _by_key(channel, dedupe_key)
        if existing is not None:
            return existing, False
    row = InboundMessage(
        channel=channel,
        source=source,
        dedupe_key=dedupe_key,
        raw=bytes(raw),
        size=len(raw),
        meta=meta or {},
        received_at=now or utcnow(),
        outcome="pending",
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # the same key committed by a concurrent delivery
        db.session.rollback()
        existing = _by_key(channel, dedupe_key) if dedupe_key else None
        if existing is None:
            raise
        return existing, False
    if process_later:
        _queue(row)
    return row, True


def _queue(row: InboundMessage) -> None:
    """Process the row on a worker once the caller commits: one named job per row."""
    defer(PROCESS_JOB, row.id, queue="intake", job_id=f"inbound-{row.id}")


def _by_key(channel: str, key: str) -> InboundMessage | None:
    return db.session.scalar(
        db.select(InboundMessage).where(
            InboundMessage.channel == channel, InboundMessage.dedupe_key == key
        )
    )


def process(inbound_id: int, now: datetime | None = None) -> str:
    """Run the channel's processor on a stored row, once, and commit its outcome.

    A processor sets `outcome` (and `case`, `message`, `kind`, `reason`) on the row. It may
    raise `Rejected` for input that can never be used, or fail unexpectedly: either way the
    row is marked failed with the reason, its work rolled back, and nothing is lost.
    """
    now = now or utcnow()
    query = db.select(InboundMessage).where(InboundMessage.id == inbound_id).with_for_update()
    inbound = db.session.scalar(query)
    if inbound is None:
        log.warning("inbound row vanished", extra={"inbound_id": inbound_id})
        return "missing"
    if inbound.outcome in DONE:
        db.session.rollback()
        return inbound.outcome
    inbound.attempts += 1
    inbound.outcome = "pending"
    inbound.reason = None
    db.session.flush()
    processor = resolve(PROCESSORS[inbound.channel])
    try:
        with db.session.begin_nested():
            processor(inbound, now)
            if inbound.outcome not in OUTCOMES or inbound.outcome == "pending":
                raise RuntimeError("the processor recorded no outcome")
    except Rejected as exc:
        _failed(inbound, str(exc))
    except Exception as exc:  # recorded on the row, where an operator can see and retry it
        log.exception(
            "inbound processing failed",
            extra={"inbound_id": inbound.id, "channel": inbound.channel},
        )
        _failed(inbound, f"internal error ({exc.__class__.__name__}): {exc}")
    inbound.processed_at = now
    outcome = inbound.outcome
    db.session.commit()
    return outcome


def _failed(inbound: InboundMessage, reason: str) -> None:
    inbound.outcome = "failed"
    inbound.reason = reason[:REASON_LIMIT]
    inbound.case_id = None
    inbound.message_id = None


def record(
    inbound: InboundMessage,
    outcome: str,
    *,
    kind: str | None = None,
    reason: str | None = None,
    case=None,
    message=None,
) -> None:
    """What a processor calls to say what became of the input."""
    if outcome not in OUTCOMES or outcome == "pending":
        raise ValueError(f"not a final outcome: {outcome}")
    inbound.outcome = outcome
    inbound.kind = kind
    inbound.reason = reason[:REASON_LIMIT] if reason else None
    if case is not None:
        inbound.case = case
    if message is not None:
        inbound.message = message


def retry(inbound_id: int) -> InboundMessage:
    """Queue a failed row (or one ignored as spam) for processing again; the caller commits."""
    inbound = db.session.get(InboundMessage, inbound_id)
    if inbound is None:
        raise NotFound(f"No inbound message {inbound_id}.")
    released = inbound.outcome == "ignored" and inbound.kind in RELEASABLE
    if inbound.outcome in DONE and not released:
        return inbound
    if released:
        inbound.meta = {**(inbound.meta or {}), "released": inbound.kind}
    inbound.outcome = "pending"
    inbound.reason = None
    _queue(inbound)
    return inbound


def reconcile(now: datetime | None = None, limit: int = 1000) -> int:
    """Queue again every row pending for longer than STALE_PENDING, oldest first, and commit
    (this is the job's edge). What we answered "accepted" while Redis was down, or whose job
    died with a worker, thereby reaches an outcome with nobody's help. Safe to run twice at
    once: a row's job is named after it, and `process` locks the row and skips a done one."""
    now = now or utcnow()
    rows = db.session.scalars(
        db.select(InboundMessage)
        .where(
            InboundMessage.outcome == "pending",
            InboundMessage.received_at < now - STALE_PENDING,
        )
        .order_by(InboundMessage.id)
        .limit(limit)
    ).all()
    for row in rows:
        _queue(row)
    db.session.commit()
    if rows:
        log.info("inbound rows queued again", extra={"count": len(rows)})
    return len(rows)


def pending(now: datetime | None = None) -> dict:
    """How many rows wait for processing, per channel, and how long the oldest has waited."""
    now = now or utcnow()
    counts = dict(
        db.session.execute(
            db.select(InboundMessage.channel, func.count())
            .where(InboundMessage.outcome == "pending")
            .group_by(InboundMessage.channel)
        ).all()
    )
    oldest = db.session.scalar(
        db.select(func.min(InboundMessage.received_at)).where(InboundMessage.outcome == "pending")
    )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return {
        "total": sum(counts.values()),
        "by_channel": {channel: counts.get(channel, 0) for channel in PROCESSORS},
        "oldest_seconds": round((now - oldest).total_seconds()) if oldest is not None else 0,
        "stale": db.session.scalar(
            db.select(func.count()).where(
                InboundMessage.outcome == "pending",
                InboundMessage.received_at < now - STALE_PENDING,
            )
        ),
    }


def query(channel: str | None = None, outcome: str | None = None):
    """Rows for the operator list, newest first."""
    stmt = db.select(InboundMessage).order_by(InboundMessage.id.desc())
    if channel:
        stmt = stmt.where(InboundMessage.channel == channel)
    if outcome:
        stmt = stmt.where(InboundMessage.outcome == outcome)
    return stmt


def summary(row: InboundMessage) -> dict:
    """An operator's view of one row: never the raw body (it holds personal data)."""
    from app.cases.presenters import iso

    meta = row.meta or {}
    return {
        "id": row.id,
        "channel": row.channel,
        "source": row.source,
        "received_at": iso(row.received_at),
        "size": row.size,
        "outcome": row.outcome,
        "kind": row.kind,
        "reason": row.reason,
        "attempts": row.attempts,
        "processed_at": iso(row.processed_at),
        "case": row.case.reference if row.case else None,
        "summary": meta.get("summary"),
    }
