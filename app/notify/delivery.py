"""Deliver one outbox row: claim it, hand it to its sender, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import attributes, joinedload

from app.cases.models import Case, Event
from app.common.time import utcnow
from app.customers.service import contact_blocks
from app.extensions import db
from app.jobs import defer
from app.notify.models import PENDING, OutboxItem
from app.notify.senders import sender_for
from app.sla import service as sla
from app.sla.models import SlaClock
from channels.senders import OutboundMessage, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

# Wait before attempt 2, 3, ...; after the last, the row is parked as failed.
BACKOFF = (60, 300, 900, 3600, 4 * 3600)
# A row left "sending" this long was held by a worker that died; it is tried again.
STALE_SENDING = timedelta(minutes=10)
# A queued row whose job has not run in this long lost its job (Redis was down, say).
LOST_QUEUED = timedelta(minutes=2)


def deliver(item_id: int, now: datetime | None = None) -> str:
    """Deliver once. Safe to call any number of times for the same row: only a call that
    claims the row (pending and due) sends it. Returns the row's state afterwards."""
    now = now or utcnow()
    claimed = db.session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            OutboxItem.state.in_(PENDING),
            OutboxItem.next_attempt_at <= now,
        )
        .values(state="sending", claimed_at=now, attempts=OutboxItem.attempts + 1)
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    if claimed is None:
        return "skipped"
    return _send_claimed([item_id], sender_for, now)[item_id]


# The drain claims this many rows per transaction, and stops after `limit` in one run.
DRAIN_BATCH = 50


def drain(
    now: datetime | None = None,
    *,
    limit: int = 2000,
    on_backlog: Callable[[], None] | None = None,
) -> int:
    """Deliver every pending row that is due, a batch at a time, over one connection per
    channel (one SMTP session for many messages). Several drains may run at once: each
    claims its own rows (SKIP LOCKED on PostgreSQL). `on_backlog` is called when a batch
    comes back full, so another worker can be asked to help. Returns how many it handled.
    """
    handled = 0
    with ExitStack() as stack:
        senders: dict[str, object] = {}

        def sender(channel: str):
            if channel not in senders:
                senders[channel] = sender_for(channel)
                if hasattr(senders[channel], "__enter__"):
                    stack.enter_context(senders[channel])  # keep its connection open
            return senders[channel]

        while handled < limit:
            at = now or utcnow()
            ids = _claim_due(at, min(DRAIN_BATCH, limit - handled))
            if not ids:
                break
            if len(ids) == DRAIN_BATCH and on_backlog is not None:
                on_backlog()
            _send_claimed(ids, sender, at)
            handled += len(ids)
    return handled


def _claim_due(now: datetime, count: int) -> list[int]:
    due = (
        select(OutboxItem.id)
        .where(OutboxItem.state.in_(PENDING), OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at)
        .limit(count)
        .with_for_update(skip_locked=True)
    )
    ids = db.session.scalars(
        update(OutboxItem)
        .where(OutboxItem.id.in_(due.scalar_subquery()), OutboxItem.state.in_(PENDING))
        .values(state="sending", claimed_at=now, attempts=OutboxItem.attempts + 1)
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(ids)


def _send_claimed(ids: list[int], get_sender: Callable[[str], object], now: datetime) -> dict:
    """Send claimed rows and record what happened, in one transaction for the batch.

    One read for the rows with what the messages need from their cases (fresh, not cached),
    one for the addresses that opted out or bounced since, one for email threading; then each
    row is handed to its sender and its outcome recorded, and the batch commits once. If the
    process dies before the commit, the rows stay "sending" and the reconciler sends them
    again (at least once; email Message-IDs are stable, so mail programs show one).
    Returns {id: state}.
    """
    items = (
        db.session.scalars(
            select(OutboxItem)
            .where(OutboxItem.id.in_(ids))
            .options(
                joinedload(OutboxItem.case).joinedload(Case.agency),
                joinedload(OutboxItem.case).joinedload(Case.customer),
            )
            .order_by(OutboxItem.id)
            .execution_options(populate_existing=True)
        )
        .unique()
        .all()
    )
    to_customers = [(i.channel, i.recipient) for i in items if i.audience == "customer"]
    blocks = contact_blocks(to_customers)
    threading = _thread_headers(items)
    acknowledged: list[OutboxItem] = []
    states = {}
    for item in items:
        to_customer = item.audience == "customer"
        blocked = blocks.get((item.channel, item.recipient)) if to_customer else None
        if blocked:
            # Opted out or bounced after this was queued: it never goes; the case shows why.
            _fail(item, blocked, now)
            states[item.id] = item.state
            continue
        message = OutboundMessage(
            channel=item.channel,
            to=item.recipient,
            body=item.body,
            subject=item.subject,
            key=f"{item.kind}-{item.id}",
            reference=item.case.reference if item.case else None,
            sender_name=item.case.agency.name if item.case else None,
            recipient_name=item.case.customer.name if item.case else None,
            headers=threading.get(item.id, {}),
            delivery_id=item.id,
        )
        try:
            result = get_sender(item.channel).send(message)
        except PermanentFailure as exc:
            _fail(item, str(exc), now)
        except (TemporaryFailure, Exception) as exc:  # a sender bug is retried, then parked
            if not isinstance(exc, TemporaryFailure):
                log.exception("sender raised", extra={"job": "deliver"})
            _retry(item, f"{exc.__class__.__name__}: {exc}"[:500], now)
        else:
            item.state = result.state
            item.provider_ref = result.provider_ref
            item.sent_at = now
            item.last_error = None
            if item.kind == "acknowledgment" and item.case is not None:
                acknowledged.append(item)
        states[item.id] = item.state  # read before the commit expires it: no query to answer
    _acknowledged(acknowledged, now)
    db.session.commit()
    return states


def _acknowledged(items: list[OutboxItem], now: datetime) -> None:
    """Meet the acknowledge clocks of the cases whose acknowledgment just went (their clocks
    read in one query for the batch)."""
    if not items:
        return
    clocks: dict[int, list[SlaClock]] = {}
    for clock in db.session.scalars(
        select(SlaClock).where(SlaClock.case_id.in_({i.case_id for i in items}))
    ):
        clocks.setdefault(clock.case_id, []).append(clock)
    for item in items:
        case = item.case
        # The case's clocks as just read: meet() works on the collection, not a lazy load.
        attributes.set_committed_value(case, "clocks", clocks.get(case.id, []))
        if sla.meet(case, ("acknowledge",), now):
            # Added by id: appending to case.events would first load the whole history.
            db.session.add(
                Event(
                    case_id=item.case_id,
                    kind="acknowledged",
                    actor_type="system",
                    at=now,
                    after={"channel": item.channel, "state": item.state},
                )
            )


def _thread_headers(items: list[OutboxItem]) -> dict[int, dict[str, str]]:
    """Email threading headers (In-Reply-To, References) by outbox id, from the email channel."""
    emails = [i for i in items if i.channel == "email" and i.audience == "customer"]
    if not emails:
        return {}
    from app.email.outbound import thread_headers

    return thread_headers(emails)


def _retry(item: OutboxItem, error: str, now: datetime) -> None:
    if item.attempts > len(BACKOFF):
        _fail(item, f"gave up after {item.attempts} attempts; last error: {error}", now)
        return
    item.state = "retrying"
    item.last_error = error
    item.next_attempt_at = now + timedelta(seconds=BACKOFF[item.attempts - 1])


def provider_failed(item: OutboxItem, error: str, now: datetime) -> None:
    """A provider's later word that a sent message never arrived (a Twilio status callback):
    the row is failed and the case shows why, as for a failure at sending time."""
    _fail(item, error, now)


def _fail(item: OutboxItem, error: str, now: datetime) -> None:
    item.state = "failed"
    item.last_error = error
    if item.case is not None:
        item.case.events.append(
            Event(
                kind="delivery_failed",
                actor_type="system",
                at=now,
                after={"channel": item.channel, "kind": item.kind},
                detail=error,
            )
        )


def reconcile(now: datetime | None = None, limit: int = 1000) -> int:
    """Enqueue again what lost its job: pending rows due for (another) attempt whose job is
    not plausibly still queued, and rows left "sending" by a worker that died."""
    now = now or utcnow()
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.state == "sending", OutboxItem.claimed_at < now - STALE_SENDING)
        .values(
            state="retrying",
            last_error="worker stopped while sending; retrying",
            next_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    due = db.session.scalars(
        select(OutboxItem.id)
        .where(
            OutboxItem.state.in_(PENDING),
            OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.state == "retrying", OutboxItem.updated_at < now - LOST_QUEUED),
        )
        .order_by(OutboxItem.next_attempt_at)
        .limit(limit)
    ).all()
    for item_id in due:
        defer("workers.jobs.deliver", item_id, queue="notify")
    db.session.commit()
    return len(due)


def retry_failed(item_id: int) -> bool:
    """An operator's retry of a parked delivery."""
    item = db.session.get(OutboxItem, item_id)
    if item is None or item.state != "failed":
        return False
    item.state = "queued"
    item.attempts = 0
    item.next_attempt_at = utcnow()
    db.session.flush()
    defer("workers.jobs.deliver", item.id, queue="notify")
    db.session.commit()
    return True
