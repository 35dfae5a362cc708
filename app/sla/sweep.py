"""The SLA sweep: warn at risk, record breaches, escalate - each exactly once.

Each step claims its clocks with one UPDATE ... WHERE <not yet done> RETURNING, so a clock
is claimed by one sweep only, even with two sweeps running at once on PostgreSQL (the
second one's UPDATE re-checks the condition after the first commits and finds nothing).
The candidate queries read partial indexes holding only clocks still to be handled, so a
sweep costs in proportion to the clocks changing state, not to the open cases.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Row, insert, select, update

from app.cases.models import Case, Event
from app.common.time import utcnow
from app.directory.models import Agency, Calendar, Queue
from app.extensions import db
from app.notify.service import notify_staff
from app.sla.models import SlaClock
from app.staff.models import StaffUser

BATCH = 1000


def _claim(where, order, values: dict, limit: int) -> list[Row]:
    """Claim up to `limit` clocks; returns (id, case_id, metric, due_at) of each, what the
    events and digests need of the clock."""
    # ORDER BY the partial index's column: oldest first, and the planner walks that small
    # index (LIMIT alone chose a Seq Scan of every clock at 3M rows; see docs/performance.md).
    ids = select(SlaClock.id).where(*where).order_by(order).limit(limit).scalar_subquery()
    stmt = (
        update(SlaClock)
        .where(SlaClock.id.in_(ids), *where)
        .values(**values)
        .returning(SlaClock.id, SlaClock.case_id, SlaClock.metric, SlaClock.due_at)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).all()


def sweep(now: datetime | None = None, limit: int = BATCH) -> dict[str, int]:
    """One sweep as of `now`. Commits once per step; returns how many clocks each step took."""
    now = now or utcnow()
    counts = {"at_risk": 0, "breached": 0, "escalated": 0}
    C = SlaClock
    while True:
        risk = _claim(
            (
                C.phase == "running",
                C.at_risk_notified_at.is_(None),
                C.at_risk_at <= now,
                C.due_at > now,
            ),
            C.at_risk_at,
            {"at_risk_notified_at": now},
            limit,
        )
        breach = _claim(
            (C.phase == "running", C.breached_at.is_(None), C.due_at <= now),
            C.due_at,
            # A clock that breaches without a warning (the sweep was down) is not warned late.
            {"breached_at": C.due_at, "at_risk_notified_at": now},
            limit,
        )
        escalate = _claim(
            (
                C.phase == "running",
                C.breached_at.is_not(None),
                C.escalated_at.is_(None),
                C.escalate_at <= now,
            ),
            C.escalate_at,
            {"escalated_at": now},
            limit,
        )
        _emit("at_risk", risk, now)
        _emit("breached", breach, now)
        _emit("escalated", escalate, now)
        db.session.commit()
        counts["at_risk"] += len(risk)
        counts["breached"] += len(breach)
        counts["escalated"] += len(escalate)
        if max(len(risk), len(breach), len(escalate)) < limit:
            return counts


_HEADLINES = {
    "at_risk": "Cases at risk of missing a service standard",
    "breached": "Cases that missed a service standard",
    "escalated": "Cases still past a missed service standard (escalated)",
}


def _emit(kind: str, claimed: list[Row], now: datetime) -> None:
    """Record an event on each case and send each recipient one digest.

    Reads only the columns the events and digests show (whole Case entities were the
    largest cost of a sweep with 1,000 breaches), each agency's time zone once, and writes
    the events with one INSERT and the digests with another."""
    if not claimed:
        return
    # In the order of the clocks, so that a digest lists its cases the same way every time.
    claimed = sorted(claimed, key=lambda clock: clock.id)
    cases = {
        row.id: row
        for row in db.session.execute(
            select(Case.id, Case.reference, Case.agency_id, Case.queue_id, Case.assignee_id).where(
                Case.id.in_({clock.case_id for clock in claimed})
            )
        )
    }
    db.session.execute(
        insert(Event.__table__),
        [
            {
                "case_id": clock.case_id,
                "kind": f"sla_{kind}",
                "actor_type": "system",
                "at": now,
                "after": {"metric": clock.metric, "due_at": clock.due_at.isoformat()},
            }
            for clock in claimed
        ],
    )
    agency_ids = {case.agency_id for case in cases.values()}
    staff_by_agency: dict[int, list[StaffUser]] = defaultdict(list)
    for person in db.session.scalars(
        select(StaffUser).where(StaffUser.agency_id.in_(agency_ids), StaffUser.active.is_(True))
    ):
        staff_by_agency[person.agency_id].append(person)
    staff_by_id = {p.id: p for people in staff_by_agency.values() for p in people}
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    agencies = {
        agency_id: (code, ZoneInfo(timezone))
        for agency_id, code, timezone in db.session.execute(
            select(Agency.id, Agency.code, Calendar.timezone)
            .join(Calendar, Calendar.id == Agency.calendar_id)
            .where(Agency.id.in_(agency_ids))
        )
    }
    queues = dict(
        db.session.execute(
            select(Queue.id, Queue.code).where(Queue.agency_id.in_(agency_ids))
        ).all()
    )
    digests: dict[int, list[dict]] = defaultdict(list)
    for clock in claimed:
        case = cases[clock.case_id]
        agency_code, zone = agencies[case.agency_id]
        assignee = staff_by_id.get(case.assignee_id)
        item = {
            "case_id": case.id,
            "reference": case.reference,
            "agency": agency_code,
            "queue": queues.get(case.queue_id),
            "metric": clock.metric.replace("_", " "),
            # The agency's local time, as presenters.local_time shows it on the case.
            "due": clock.due_at.astimezone(zone).strftime("%a %b %d %I:%M %p %Z"),
            "assignee": assignee.email if assignee else None,
            "url": f"{base}/staff/cases/{case.reference}",
        }
        for person in _recipients(kind, assignee, staff_by_agency[case.agency_id]):
            digests[person.id].append(item)
    notify_staff(
        kind, _HEADLINES[kind], [(staff_by_id[pid], items) for pid, items in digests.items()]
    )


def _recipients(kind, assignee: StaffUser | None, agency_staff: list[StaffUser]) -> list[StaffUser]:
    """At risk: the assignee, or the agency's caseworkers when unassigned. Breached: the
    assignee and the supervisors. Escalated: the agency's leads (supervisors if none)."""
    supervisors = [p for p in agency_staff if p.role == "supervisor"]
    if kind == "at_risk":
        return [assignee] if assignee else [p for p in agency_staff if p.role == "caseworker"]
    if kind == "breached":
        return ([assignee] if assignee else []) + [p for p in supervisors if p is not assignee]
    leads = [p for p in agency_staff if p.lead]
    return leads or supervisors
