"""Case lists for staff: scoped to what the staff member may see, filtered, keyset-paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, literal_column, or_, select

from app.cases.models import Case, Event
from app.common.errors import Forbidden, Invalid
from app.common.time import parse_iso, utcnow
from app.common.types import UTCDateTime
from app.directory.models import Agency, Category, Queue
from app.extensions import db
from app.sla.models import SlaClock
from app.staff.models import StaffUser


def sla_condition(state: str, now: datetime):
    """Cases whose live SLA state is `state` now (app.sla.state.live_state, in SQL): each
    case with a running or paused clock is in exactly one of the four.

    - breached: a running clock is past its due time (overdue now, on any clock);
    - at_risk: not breached, and a running clock is past its at-risk time;
    - on_track: a running clock, none at risk or past due;
    - paused: no running clock, and one waiting on the customer.

    A clock met late stays missed in the published figures but makes no case breached now.
    The dashboard's lists and counts, the workload table, the queues and the API all use this.
    """
    c = SlaClock
    # The expressions of ix_sla_clocks_running_due and ix_sla_clocks_running_at_risk: few
    # clocks are past either, and those indexes find them without walking every open case.
    running_due = literal_column(
        "CASE WHEN sla_clocks.phase = 'running' THEN sla_clocks.due_at END", UTCDateTime
    )
    running_at_risk = literal_column(
        "CASE WHEN sla_clocks.phase = 'running' THEN sla_clocks.at_risk_at END", UTCDateTime
    )
    breached = exists().where(c.case_id == Case.id, running_due <= now)
    if state == "breached":
        return breached
    # at_risk_at is never after due_at, so "past its at-risk time" includes past due.
    worse = exists().where(c.case_id == Case.id, running_at_risk <= now)
    if state == "at_risk":
        # cases.next_due_at is the earliest due time of the running clocks (kept by
        # app.sla.service.refresh_next_due): saying it is still ahead lets a due-first list
        # skip the breached cases, which come first, through ix_cases_agency_next_due
        # instead of testing each one (at 1M cases, two days on: 230 ms -> 25 ms).
        return and_(worse, ~breached, Case.next_due_at > now)
    running = exists().where(c.case_id == Case.id, c.phase == "running")
    if state == "on_track":
        return and_(running, ~worse)
    if state == "paused":
        return and_(exists().where(c.case_id == Case.id, c.phase == "paused"), ~running)
    raise Invalid(f"Unknown SLA state '{state}'.", field="sla")


def filtered_cases(staff: StaffUser, args: dict, now: datetime) -> Select:
    """The cases a list shows, before order and paging: confined to the staff member's agency
    (admins: all), filtered by `args`. Counts are taken from it too, so that a count and the
    list it links to agree."""
    query = select(Case)
    if args.get("agency"):
        agency = db.session.scalar(select(Agency).where(Agency.code == args["agency"].upper()))
        if agency is None:
            raise Invalid(f"Unknown agency '{args['agency']}'.", field="agency")
        if not staff.sees_all_agencies and agency.id != staff.agency_id:
            raise Forbidden("You can list only your own agency's cases.")
        query = query.where(Case.agency_id == agency.id)
    elif not staff.sees_all_agencies:
        query = query.where(Case.agency_id == staff.agency_id)
    statuses = {s.strip() for s in (args.get("status") or "").split(",") if s.strip()}
    # Cases merged into another are closed and left out of lists, unless asked for by name.
    merged = Case.merged_into_id.is_not(None)
    if "merged" in statuses:
        others = statuses - {"merged"}
        query = query.where(or_(merged, Case.status.in_(others)) if others else merged)
    else:
        query = query.where(Case.merged_into_id.is_(None))
        if statuses:
            query = query.where(Case.status.in_(statuses))
    if args.get("channel"):
        query = query.where(Case.channel == args["channel"])
    if args.get("queue"):  # a queue code, within the agency listed (codes repeat across them)
        if args["queue"] == "none":
            query = query.where(Case.queue_id.is_(None))
        else:
            query = query.where(
                Case.queue_id.in_(select(Queue.id).where(Queue.code == args["queue"]))
            )
    if args.get("received_from"):  # instants: the age buckets of the supervisor's dashboard
        query = query.where(Case.received_at >= args["received_from"])
    if args.get("received_before"):
        query = query.where(Case.received_at < args["received_before"])
    if args.get("category"):
        cat = db.session.scalar(select(Category.id).where(Category.code == args["category"]))
        if cat is None:
            raise Invalid(f"Unknown category '{args['category']}'.", field="category")
        query = query.where(Case.category_id == cat)
    assignee = args.get("assignee")
    if assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    elif assignee == "me":
        query = query.where(Case.assignee_id == staff.id)
    elif assignee:
        sid = db.session.scalar(
            select(StaffUser.id).where(db.func.lower(StaffUser.email) == assignee.lower())
        )
        query = query.where(Case.assignee_id == (sid or -1))
    if args.get("sla"):
        query = query.where(sla_condition(args["sla"], now))
    if args.get("triage"):  # waiting in the triage queue for a person to route them
        query = query.join(Queue, Case.queue_id == Queue.id).where(Queue.is_triage.is_(True))
    if args.get("no_due"):  # cases with no running clock (e.g. waiting on the customer)
        query = query.where(Case.next_due_at.is_(None))
    return query


def list_cases(staff: StaffUser, args: dict, now: datetime | None = None, *, options=()):
    """Return (cases, next_cursor_values). Non-admin staff are confined to their agency.
    `options` are loader options for what the caller shows of each case (no query per row)."""
    now = now or utcnow()
    query = filtered_cases(staff, args, now).options(*options)
    limit = args.get("limit", 50)
    cursor = args.get("cursor_values")
    if args.get("sort") == "due":
        # Only cases with a running clock have a "due first" place in the list.
        query = query.where(Case.next_due_at.is_not(None))
        if cursor:
            due, last_id = parse_iso(cursor[0]), int(cursor[1])
            query = query.where(
                or_(Case.next_due_at > due, and_(Case.next_due_at == due, Case.id > last_id))
            )
        query = query.order_by(Case.next_due_at, Case.id)
    else:
        if cursor:
            query = query.where(Case.id < int(cursor[0]))
        query = query.order_by(Case.id.desc())
    rows = db.session.scalars(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_values = None
    if more and rows:
        last = rows[-1]
        next_values = (
            [last.next_due_at.isoformat(), last.id] if args.get("sort") == "due" else [last.id]
        )
    return rows, next_values


# Staff moves that correct where a case first went (a transfer, a mailroom re-route, an
# accepted routing suggestion are all transfers).
CORRECTIONS = ("transfer",)


@dataclass(frozen=True)
class ClosedCase:
    """What the routing model learns from a closed case: its text and final owner."""

    id: int
    text: str
    agency: str
    category: str | None  # only when it is a category of that agency
    corrected: bool  # a person moved it
    closed_at: datetime


def closed_for_learning() -> list[ClosedCase]:
    """Closed cases with the owner people settled on, newest first. Cases closed while still
    in the triage queue (nobody decided an owner) and cases merged into another are left out."""
    corrected = exists().where(Event.case_id == Case.id, Event.kind.in_(CORRECTIONS))
    query = (
        select(
            Case.id,
            Case.subject,
            Case.description,
            Agency.code,
            Category.code,
            Category.agency_id,
            Case.agency_id,
            Case.closed_at,
            corrected.label("corrected"),
        )
        .join(Agency, Case.agency_id == Agency.id)
        .outerjoin(Category, Case.category_id == Category.id)
        .outerjoin(Queue, Case.queue_id == Queue.id)
        .where(
            Case.closed_at.is_not(None),
            Case.merged_into_id.is_(None),
            Queue.is_triage.is_(False) | Queue.id.is_(None),
        )
        .order_by(Case.closed_at.desc(), Case.id.desc())
    )
    return [
        ClosedCase(
            id=cid,
            text=f"{subject}\n{body}" if subject else (body or ""),
            agency=agency,
            category=category if category_agency == case_agency else None,
            corrected=bool(fixed),
            closed_at=closed,
        )
        for cid, subject, body, agency, category, category_agency, case_agency, closed, fixed in (
            db.session.execute(query)
        )
    ]


def closed_since(since: datetime | None) -> int:
    """How many cases have closed after `since` (all of them for None)."""
    query = select(db.func.count(Case.id)).where(Case.closed_at.is_not(None))
    if since is not None:
        query = query.where(Case.closed_at > since)
    return db.session.scalar(query) or 0


def merged_into(case: Case) -> list[Case]:
    return list(db.session.scalars(select(Case).where(Case.merged_into_id == case.id)))
