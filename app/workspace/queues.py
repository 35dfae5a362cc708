"""Caseworker queues: my cases, my team's queue, unassigned; due first, with SLA badges."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError

from app.api import cursor as cursors
from app.cases import queries
from app.cases import service as case_service
from app.cases.models import CHANNELS, OPEN_STATUSES, STATUSES, Case
from app.common.errors import DomainError
from app.common.time import utcnow
from app.directory.models import Agency
from app.extensions import db
from app.sla.models import SlaClock
from app.staff.models import StaffUser
from app.workspace import bp
from app.workspace.auth import staff_page
from app.workspace.common import directory
from app.workspace.sla_badges import LABELS, headline

VIEWS = {
    "mine": ("My cases", {"assignee": "me"}),
    "team": ("My team's queue", {}),
    "unassigned": ("Unassigned", {"assignee": "none"}),
    # Cases no rule, category or confident model placed, with the model's suggestions.
    "triage": ("Triage: complaints to route", {"triage": True}),
}
SLA_FILTERS = ("on_track", "at_risk", "breached", "paused")
PAGE_SIZE = 50
# How long open cases have been open, in calendar days in the agency's time zone (received
# yesterday at any hour = 1 day): key, words, first and last day of the bucket.
AGE_BUCKETS = (
    ("0-2", "0–2 days", 0, 2),
    ("3-5", "3–5 days", 3, 5),
    ("6-10", "6–10 days", 6, 10),
    ("11-30", "11–30 days", 11, 30),
    ("31+", "More than 30 days", 31, None),
)


def age_bounds(key: str, now: datetime, tz: str) -> tuple[datetime | None, datetime | None]:
    """The received times of an age bucket: (from, before) as instants, None for open-ended.
    A case received on the local date today - d is d days old."""
    _, _, first, last = next(b for b in AGE_BUCKETS if b[0] == key)
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()

    def midnight(days_ago: int) -> datetime:
        day = today - timedelta(days=days_ago)
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return (
        midnight(last) if last is not None else None,
        midnight(first - 1) if first > 0 else None,
    )


@bp.get("/")
@staff_page()
def home() -> ResponseReturnValue:
    return redirect(url_for("workspace.queue", view="mine"))


def _filters() -> tuple[dict, list[str]]:
    """The queue's filters from the query string, each checked against what exists."""
    args, errors = {}, []
    status = request.args.get("status", "")
    if status:
        if status not in STATUSES:
            errors.append(f"Unknown status '{status}'.")
        else:
            args["status"] = status
    channel = request.args.get("channel", "")
    if channel:
        if channel not in CHANNELS:
            errors.append(f"Unknown channel '{channel}'.")
        else:
            args["channel"] = channel
    sla = request.args.get("sla", "")
    if sla:
        if sla not in SLA_FILTERS:
            errors.append(f"Unknown SLA state '{sla}'.")
        else:
            args["sla"] = sla
    if request.args.get("category"):
        args["category"] = request.args["category"]
    if request.args.get("agency") and current_user.sees_all_agencies:
        args["agency"] = request.args["agency"]
    _people_queue_age(args, errors)
    return args, errors


def _people_queue_age(args: dict, errors: list[str]) -> None:
    """The filters the supervisor's dashboard links to: assignee (an email, or `none`), queue
    (a code of the agency, or `none`) and age (an AGE_BUCKETS key)."""
    agency = _agency_in_scope(args.get("agency"))
    assignee = request.args.get("assignee", "").strip()
    if assignee:
        if assignee not in ("none", "me") and _staff_named(assignee) is None:
            errors.append(f"No staff member has the address '{assignee}'.")
        else:
            args["assignee"] = assignee
    queue = request.args.get("queue", "").strip()
    if queue:
        codes = {q.code for a in _agencies(agency) for q in a.queues}
        if queue != "none" and queue not in codes:
            errors.append(f"Unknown queue '{queue}'.")
        else:
            args["queue"] = queue
    age = request.args.get("age", "")
    if age:
        if age not in {b[0] for b in AGE_BUCKETS}:
            errors.append(f"Unknown age '{age}'; use {', '.join(b[0] for b in AGE_BUCKETS)}.")
        elif agency is None:
            errors.append("Choose an agency to filter by age: days follow its time zone.")
        else:
            after, before = age_bounds(age, utcnow(), agency.calendar.timezone)
            args.update(received_from=after, received_before=before)


def _agency_in_scope(code: str | None) -> Agency | None:
    if not current_user.sees_all_agencies:
        return current_user.agency
    if not code:
        return None
    return db.session.scalar(db.select(Agency).where(Agency.code == code.upper()))


def _agencies(agency: Agency | None) -> list[Agency]:
    return [agency] if agency else list(directory().agencies.values())


def _staff_named(email: str) -> StaffUser | None:
    return db.session.scalar(
        db.select(StaffUser).where(db.func.lower(StaffUser.email) == email.lower())
    )


def page_of_cases(staff: StaffUser, args: dict, cursor: str | None, limit: int = PAGE_SIZE):
    """One page of a queue, due first: cases with a running clock by due time, then those
    with none (waiting on the customer) newest first. Keyset-paged in both parts."""
    values = cursors.decode(cursor) if cursor else ["d"]
    base = dict(args, limit=limit)
    if "status" not in base:
        base["status"] = ",".join(OPEN_STATUSES)
    rows: list[Case] = []
    next_values = None
    if values[0] == "d":
        due_args = dict(base, sort="due")
        if len(values) == 3:
            due_args["cursor_values"] = values[1:]
        rows, more = queries.list_cases(staff, due_args)
        if more:
            return rows, ["d", *more]
        values = ["n"]
    if values[0] == "n" and len(rows) < limit:
        rest_args = dict(base, no_due=True, limit=limit - len(rows))
        if len(values) == 2:
            rest_args["cursor_values"] = values[1:]
        rest, more = queries.list_cases(staff, rest_args)
        rows = [*rows, *rest]
        if more:
            next_values = ["n", *more]
    elif values[0] == "n":
        next_values = ["n"]
    return rows, next_values


def queue_rows(cases: list[Case], now=None) -> list[dict]:
    """What each row shows, with a fixed number of queries whatever the page size."""
    now = now or utcnow()
    d = directory()
    ids = [c.id for c in cases]
    clocks = defaultdict(list)
    if ids:
        # Plain rows, not ORM objects: a badge needs only these columns.
        c = SlaClock
        query = db.select(
            c.case_id, c.metric, c.phase, c.due_at, c.at_risk_at, c.met_at, c.unit, c.calendar_id
        ).where(c.case_id.in_(ids))
        for clock in db.session.execute(query):
            clocks[clock.case_id].append(clock)
    staff_ids = {c.assignee_id for c in cases if c.assignee_id}
    names = {}
    if staff_ids:
        names = dict(
            db.session.execute(
                db.select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(staff_ids))
            ).all()
        )
    rows = []
    for case in cases:
        category = d.categories.get(case.category_id)
        rows.append(
            {
                "reference": case.reference,
                "subject": case.subject or case.description[:120],
                "status": case.status,
                "channel": case.channel,
                "priority": case.priority,
                "agency": d.agencies[case.agency_id].code,
                "category": category.name if category else None,
                "assignee": names.get(case.assignee_id),
                "assignee_id": case.assignee_id,
                "queue_id": case.queue_id,
                "received_at": case.received_at,
                "badge": headline(clocks[case.id], d.calendars, now),
                "tz": d.timezone(case.agency_id),
            }
        )
    return rows


@bp.get("/queues/<view>")
@staff_page()
def queue(view: str) -> ResponseReturnValue:
    if view not in VIEWS:
        abort(404)
    title, fixed = VIEWS[view]
    args, errors = _filters()
    rows, next_cursor, status = [], None, 200
    if not errors:
        try:
            cases, next_values = page_of_cases(
                current_user, {**args, **fixed}, request.args.get("after")
            )
            rows = queue_rows(cases)
            if view == "triage":
                offered = case_service.suggestions_for(cases)
                for row, case in zip(rows, cases, strict=True):
                    row["suggestions"] = offered.get(case.id, [])
            next_cursor = cursors.encode(next_values) if next_values else None
        except DomainError as exc:
            errors.append(exc.message)
        except (ValidationError, ValueError, TypeError, IndexError):
            errors.append("That page link is not valid any more; start from the first page.")
    if errors:
        status = 422
    d = directory()
    filters = {k: request.args.get(k, "") for k in ("status", "category", "channel", "sla")}
    narrowed = _narrowed(args)
    return render_template(
        "workspace/queue.html",
        view=view,
        title=title,
        agency_names={a.code: a.name for a in d.agencies.values()},
        rows=rows,
        errors=errors,
        next_cursor=next_cursor,
        filters=filters,
        narrowed=narrowed,
        page_args={**filters, **{name: value for name, value, _ in narrowed}},
        statuses=STATUSES,
        channels=CHANNELS,
        sla_states=[(s, LABELS[s]) for s in SLA_FILTERS],
        categories=sorted(
            (
                c
                for c in d.categories.values()
                if current_user.sees_all_agencies or c.agency_id == current_user.agency_id
            ),
            key=lambda c: c.name,
        ),
    ), status


def _narrowed(args: dict) -> list[tuple[str, str, str]]:
    """The filters a dashboard link set that the form has no field for, as (name, value,
    words): kept as hidden fields and said above the list."""
    out = []
    if args.get("agency"):
        out.append(("agency", args["agency"], f"Agency {args['agency'].upper()}"))
    assignee = args.get("assignee")
    if assignee == "none":
        out.append(("assignee", assignee, "Unassigned"))
    elif assignee and assignee != "me":
        member = _staff_named(assignee)
        out.append(("assignee", assignee, f"Assigned to {member.name if member else assignee}"))
    queue = args.get("queue")
    if queue:
        names = {
            q.code: q.name
            for a in _agencies(_agency_in_scope(args.get("agency")))
            for q in a.queues
        }
        out.append(
            ("queue", queue, "No queue" if queue == "none" else f"Queue: {names.get(queue, queue)}")
        )
    if "received_from" in args:  # an age bucket, checked
        age = request.args["age"]
        words = next(b[1] for b in AGE_BUCKETS if b[0] == age)
        out.append(("age", age, f"Open {words[0].lower()}{words[1:]}"))
    return out
