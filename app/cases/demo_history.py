"""A demo history: months of complaints worked through the real case service, the same every
time for the same seed (`redress performance demo-history`; the public recount test).

Every change goes through what staff and customers use - `open_case`, `act` (reply,
request_info, resolve, close, reopen, transfer, merge), `customer_replied` - at simulated
times, in one global time order, with an SLA sweep at each midnight (UTC), so that the clocks
end up exactly as the running system would leave them. The mix is made to exercise every
path the published figures care about: late and on-time responses, information requested
before and after the due time, transfers from the front door before and after the due time
(some while waiting on the customer), cases closed unresolved, withdrawn, merged, reopened,
and cases still open.

Only the service calls above (present since the first release) are used, so the same
history can be replayed on an older checkout to compare its figures with today's.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.cases import service as cases
from app.cases.models import Case
from app.common.errors import DomainError
from app.directory.models import Agency, Category
from app.extensions import db
from app.sla import service as sla
from app.staff.models import StaffUser
from channels.intake import Intake

DEMO_START = datetime(2026, 9, 1, 4, 0, tzinfo=UTC)  # midnight in New York
DEMO_END = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # after midnight in every US zone
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
CHANNELS = ("web", "web", "web", "email", "email", "sms", "mail", "phone", "api")
DESCRIPTIONS = {
    None: "I need help with a problem with a government service and do not know who to ask.",
}


@dataclass(order=True)
class _Step:
    at: datetime
    seq: int
    case: int = field(compare=False)
    action: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(days=rng.uniform(low, high))


def _script(rng: random.Random, i: int, received: datetime, triage: bool, agencies: list[str]):
    """The steps of one case after it is opened, as (time, action, data)."""
    steps: list[tuple[datetime, str, dict]] = []
    t = received
    if rng.random() < 0.92:  # the acknowledgment went out (late now and then)
        steps.append(
            (
                t
                + (
                    timedelta(hours=rng.uniform(0.1, 3)) if rng.random() < 0.9 else _days(rng, 1, 4)
                ),
                "ack",
                {},
            )
        )
    if triage:  # the front door sends it on, before or after its first response was due
        t += _days(rng, 0.05, 6)
        if rng.random() < 0.25:  # asked the customer first, then transferred while waiting
            steps.append((t, "request_info", {"body": "Which agency did you write to before?"}))
            t += _days(rng, 0.2, 2)
            steps.append((t, "transfer", {"agency": rng.choice(agencies), "reason": "Not ours."}))
            if rng.random() < 0.8:
                t += _days(rng, 0.2, 5)
                steps.append((t, "customer", {"body": "It was the bank."}))
        else:
            steps.append((t, "transfer", {"agency": rng.choice(agencies), "reason": "Not ours."}))
    fate = rng.random()
    if fate < 0.04:  # a duplicate, merged into an earlier open case of the same agency
        steps.append((t + _days(rng, 0.5, 40), "merge", {"reason": "Same complaint."}))
        return steps
    if fate < 0.08:  # the customer withdraws, sometimes after the deadlines passed
        steps.append((t + _days(rng, 0.5, 70), "withdraw", {"reason": "Customer withdrew it."}))
        return steps
    if fate < 0.15:  # closed without a response (no jurisdiction, no contact)
        steps.append((t + _days(rng, 0.5, 80), "close", {"reason": "Cannot act on this."}))
        return steps
    # A first response: usually in time, often not.
    t += _days(rng, 0.1, 3) if rng.random() < 0.6 else _days(rng, 2, 25)
    if rng.random() < 0.3:  # information requested, sometimes after the resolve clock was due
        late = rng.random() < 0.2
        t += _days(rng, 30, 70) if late else timedelta()
        steps.append((t, "request_info", {"body": "Please send the statement."}))
        if rng.random() < 0.85:
            t += _days(rng, 0.5, 12)
            steps.append((t, "customer", {"body": "Here it is."}))
        else:
            steps.append(
                (t + _days(rng, 20, 50), "close", {"reason": "No answer from the customer."})
            )
            return steps
    else:
        steps.append((t, "reply", {"body": "We are looking into it."}))
    end = rng.random()
    if end < 0.72:
        t += _days(rng, 1, 20) if rng.random() < 0.6 else _days(rng, 15, 110)
        steps.append((t, "resolve", {"resolution": "Resolved with the company."}))
        if rng.random() < 0.06:  # reopened: not fixed after all
            t += _days(rng, 1, 30)
            steps.append((t, "reopen", {"reason": "Not fixed."}))
            t += _days(rng, 0.5, 10)
            steps.append((t, "reply", {"body": "We are looking again."}))
            t += _days(rng, 2, 30)
            steps.append((t, "resolve", {"resolution": "Fixed now."}))
        elif rng.random() < 0.3:
            steps.append((t + _days(rng, 1, 10), "close", {"reason": "Done."}))
    elif end < 0.82:  # closed unresolved after working on it
        steps.append((t + _days(rng, 5, 90), "close", {"reason": "Could not be resolved."}))
    elif end < 0.86:  # closed unresolved, reopened, answered again
        t += _days(rng, 1, 20)
        steps.append((t, "close", {"reason": "Thought it was spam."}))
        t += _days(rng, 0.5, 20)
        steps.append((t, "reopen", {"reason": "It was not spam."}))
        steps.append((t + _days(rng, 0.5, 10), "reply", {"body": "Sorry, we are on it."}))
    return steps


def generate(
    cases_count: int = 2000,
    *,
    seed: int = 20261201,
    start: datetime = DEMO_START,
    end: datetime = DEMO_END,
    sweeps: bool = True,
) -> dict[str, int]:
    """Open `cases_count` complaints received between start and end and work them until
    `end`, with a sweep each midnight unless `sweeps` is false (they record breaches and
    alert staff, but change no outcome). Returns how many steps of each kind were taken (or
    skipped: the case had moved on)."""
    rng = random.Random(seed)
    actor = db.session.scalar(db.select(StaffUser).where(StaffUser.role == "admin"))
    if actor is None:
        raise DomainError("Load the demo directory and staff first (redress demo).")
    categories = db.session.execute(
        db.select(Category.code, Agency.code)
        .join(Agency, Agency.id == Category.agency_id)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    agencies = sorted({agency for _, agency in categories if agency != "USAGOV"})
    span = (end - start - 20 * DAY).total_seconds()
    timeline: list[_Step] = []
    seq = 0
    for i in range(cases_count):
        received = start + timedelta(seconds=rng.uniform(0, span))
        category = None if rng.random() < 0.15 else rng.choice(categories)[0]
        channel = rng.choice(CHANNELS)
        data = {"category": category, "channel": channel}
        timeline.append(_Step(received, seq := seq + 1, i, "open", data))
        for at, action, step in _script(rng, i, received, category is None, agencies):
            if at < end:
                timeline.append(_Step(at, seq := seq + 1, i, action, step))
    day = start.replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    while sweeps and day < end:
        timeline.append(_Step(day, seq := seq + 1, -1, "sweep"))
        day += DAY
    heapq.heapify(timeline)
    refs: dict[int, str] = {}
    done: dict[str, int] = {}
    while timeline:
        step = heapq.heappop(timeline)
        kind = _run(step, refs, actor, rng)
        done[kind] = done.get(kind, 0) + 1
        db.session.info.clear()  # jobs asked for are not run: nothing leaves the machine
    return done


def _run(step: _Step, refs: dict[int, str], actor: StaffUser, rng: random.Random) -> str:
    from app.sla.sweep import sweep

    at = step.at
    if step.action == "sweep":
        sweep(now=at)
        return "sweep"
    if step.action == "open":
        channel = step.data["channel"]
        n = step.case
        intake = Intake(
            channel=channel,
            description=DESCRIPTIONS.get(step.data["category"])
            or f"Complaint {n}: the company did not do what it promised.",
            category=step.data["category"],
            email=f"person{n}@example.org" if channel != "sms" else None,
            phone=f"+1202555{n % 10000:04d}" if channel == "sms" else None,
            address="1 Main St, Springfield" if channel == "mail" else None,
            received_at=at,
        )
        case, _ = cases.open_case(intake, now=at, commit=True, acknowledge=False)
        refs[step.case] = case.reference
        return "open"
    case = db.session.scalar(db.select(Case).where(Case.reference == refs[step.case]))
    try:
        if step.action == "ack":
            sla.meet(case, ("acknowledge",), at)
        elif step.action == "customer":
            cases.customer_replied(case, step.data["body"], case.channel, now=at)
        elif step.action == "withdraw":
            cases.act(case, "close", actor, step.data | {"withdrawn": True}, now=at)
        elif step.action == "merge":
            into = _merge_target(case, at, rng)
            if into is None:
                return "merge skipped"
            cases.act(case, "merge", actor, step.data | {"into": into}, now=at)
        else:
            cases.act(case, step.action, actor, step.data, now=at)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        return f"{step.action} skipped"
    return step.action


def _merge_target(case: Case, at: datetime, rng: random.Random) -> str | None:
    """An earlier open case of the same agency to merge a duplicate into."""
    candidates = db.session.scalars(
        db.select(Case.reference)
        .where(
            Case.agency_id == case.agency_id,
            Case.id < case.id,
            Case.status.in_(("new", "assigned", "in_progress", "waiting_on_customer")),
            Case.merged_into_id.is_(None),
        )
        .order_by(Case.id.desc())
        .limit(5)
    ).all()
    return rng.choice(candidates) if candidates else None
