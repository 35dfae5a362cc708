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

from flask import current_app
from sqlalchemy import insert, select, update

from app.cases import presenters
from app.cases.models import Case, Event
from app.common.time import utcnow
from app.directory.models import Agency, Queue
from app.extensions import db
from app.notify.service import notify_staff
from app.sla.models import SlaClock
from app.staff.models import StaffUser

BATCH = 1000


def _claim(where, order, values: dict, limit: int) -> list[tuple[int, int]]:
    # ORDER BY the partial index's column: oldest first, and the planner walks that small
    # index (LIMIT alone chose a Seq Scan of every clock at 3M rows; see docs/performance.md).
    ids = select(SlaClock.id).where(*where).order_by(order).limit(limit).scalar_subquery()
    stmt = (
        update(SlaClock)
        .where(SlaClock.id.in_(ids), *where)
        .values(**values)
        .returning(SlaClock.id, SlaClock.case_id)
        .execution_options(synchronize_session=False)
    )
    return [tuple(row) for row in db.session.execute(stmt)]


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


def _emit(kind: str, claimed: list[tuple[int, int]], now: datetime) -> None:
    """Record an event on each case and send each recipient one digest."""
    if not claimed:
        return
    clock_ids = [cid for cid, _ in claimed]
    rows = db.session.execute(
        select(SlaClock, Case)
        .join(Case, Case.id == SlaClock.case_id)
        .where(SlaClock.id.in_(clock_ids))
    ).all()
    db.session.execute(
        insert(Event),
        [
            {
                "case_id": case.id,
                "kind": f"sla_{kind}",
                "actor_type": "system",
                "at": now,
                "after": {"metric": clock.metric, "due_at": clock.due_at.isoformat()},
            }
            for clock, case in rows
        ],
    )
    staff_by_agency: dict[int, list[StaffUser]] = defaultdict(list)
    agency_ids = {case.agency_id for _, case in rows}
    for person in db.session.scalars(
        select(StaffUser).where(StaffUser.agency_id.in_(agency_ids), StaffUser.active.is_(True))
    ):
        staff_by_agency[person.agency_id].append(person)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    agencies = {
        a.id: a for a in db.session.scalars(select(Agency).where(Agency.id.in_(agency_ids)))
    }
    queues = {
        q.id: q.code
        for q in db.session.scalars(select(Queue).where(Queue.agency_id.in_(agency_ids)))
    }
    staff_by_id = {p.id: p for people in staff_by_agency.values() for p in people}
    digests: dict[int, list[dict]] = defaultdict(list)
    for clock, case in rows:
        recipients = _recipients(kind, case, staff_by_agency[case.agency_id], staff_by_id)
        item = {
            "case_id": case.id,
            "reference": case.reference,
            "agency": agencies[case.agency_id].code,
            "queue": queues.get(case.queue_id),
            "metric": clock.metric.replace("_", " "),
            "due": presenters.local_time(case, clock.due_at).strftime("%a %b %d %I:%M %p %Z"),
            "assignee": staff_by_id[case.assignee_id].email
            if case.assignee_id in staff_by_id
            else None,
            "url": f"{base}/staff/cases/{case.reference}",
        }
        for person in recipients:
            digests[person.id].append(item)
    for person_id, items in digests.items():
        notify_staff(staff_by_id[person_id], kind, _HEADLINES[kind], items)


def _recipients(kind, case, agency_staff: list[StaffUser], by_id: dict) -> list[StaffUser]:
    """At risk: the assignee, or the agency's caseworkers when unassigned. Breached: the
    assignee and the supervisors. Escalated: the agency's leads (supervisors if none)."""
    assignee = by_id.get(case.assignee_id)
    supervisors = [p for p in agency_staff if p.role == "supervisor"]
    if kind == "at_risk":
        return [assignee] if assignee else [p for p in agency_staff if p.role == "caseworker"]
    if kind == "breached":
        return ([assignee] if assignee else []) + [p for p in supervisors if p is not assignee]
    leads = [p for p in agency_staff if p.lead]
    return leads or supervisors
