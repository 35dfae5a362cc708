"""What staff read when the SLA sweep finds breaches: one digest per person per sweep,
each case listed with its reference, agency, queue, the missed service standard, the due
time in the agency's time zone, the assignee and a link; and one event per breach."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.cases.models import Case, Event
from app.common.time import frozen_time
from app.extensions import db
from app.notify.models import OutboxItem
from app.sla.sweep import sweep
from tests.helpers import NY, act, ny

WORKER = "caseworker@cfpb.example"
SUPERVISOR = "supervisor@cfpb.example"


def _open(client, headers, assign: bool) -> Case:
    r = client.post(
        "/api/v1/complaints",
        json={
            "description": "A debt collector calls me at work.",
            "category": "credit-report",
            "email": "pat@example.org",
        },
    )
    assert r.status_code == 201, r.json
    ref = r.json["reference"]
    if assign:
        act(client, headers, ref, action="assign")
    return db.session.scalar(select(Case).where(Case.reference == ref))


def _first_response(case: Case):
    return next(c for c in case.clocks if c.metric == "first_response")


def test_breaches_found_in_one_sweep_reach_each_person_in_one_digest(app, client, staff_token):
    with frozen_time(ny(2026, 12, 1, 10, 0)):
        assigned = _open(client, staff_token(WORKER), assign=True)
        unassigned = _open(client, staff_token(WORKER), assign=False)
    due = _first_response(assigned).due_at
    assert _first_response(unassigned).due_at == due
    with frozen_time(due + timedelta(minutes=1)):
        assert sweep()["breached"] == 2
    db.session.expire_all()

    digests = {
        d.recipient: d
        for d in db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "breached"))
    }
    # The assignee hears of their own case; the supervisors of every breach in the agency.
    assert set(digests) == {WORKER, SUPERVISOR}
    mine, all_of_them = digests[WORKER], digests[SUPERVISOR]
    assert mine.audience == "staff" and mine.channel == "email" and mine.state == "queued"
    assert mine.case_id == assigned.id  # a digest of one case is filed on that case
    assert all_of_them.case_id is None
    assert mine.subject == f"Cases that missed a service standard: 1 case ({assigned.reference})"
    assert all_of_them.subject == "Cases that missed a service standard: 2 cases"

    local_due = due.astimezone(NY).strftime("%a %b %d %I:%M %p %Z")  # CFPB's calendar
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    queue = assigned.queue.code
    line_assigned = (
        f"- {assigned.reference} (CFPB, {queue}): first response due {local_due},"
        f" assigned to {WORKER}\n  {base}/staff/cases/{assigned.reference}"
    )
    line_unassigned = (
        f"- {unassigned.reference} (CFPB, {unassigned.queue.code}): first response due"
        f" {local_due}, not assigned\n  {base}/staff/cases/{unassigned.reference}"
    )
    assert line_assigned in mine.body and unassigned.reference not in mine.body
    assert line_assigned in all_of_them.body and line_unassigned in all_of_them.body

    events = db.session.scalars(select(Event).where(Event.kind == "sla_breached")).all()
    assert sorted((e.case_id, e.actor_type, e.after["metric"]) for e in events) == sorted(
        [(assigned.id, "system", "first_response"), (unassigned.id, "system", "first_response")]
    )
    assert {e.after["due_at"] for e in events} == {due.isoformat()}
