"""Open cases from intakes and act on them; every change is recorded as an event."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from app.cases import lifecycle
from app.cases.models import Case, Event, IdempotencyKey, Message
from app.cases.reference import new_reference, normalize_reference
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.common.time import utcnow
from app.customers.access import record_intake_contacts
from app.customers.service import match_customer
from app.directory.models import Agency, Category, Queue
from app.extensions import db
from app.notify.service import notify_customer
from app.routing import service as routing
from app.routing.engine import RoutingInput
from app.sla import service as sla
from app.staff.models import StaffUser
from channels.intake import Intake

log = logging.getLogger(__name__)

# Metrics a message to the customer satisfies.
_RESPONSE_METRICS = ("acknowledge", "first_response")


def _event(case: Case, kind: str, actor: StaffUser | None, at: datetime, **data) -> Event:
    event = Event(
        kind=kind,
        actor_type="staff" if actor else data.pop("actor_type", "system"),
        actor_id=actor.id if actor else None,
        at=at,
        before=data.get("before"),
        after=data.get("after"),
        detail=data.get("detail"),
    )
    case.events.append(event)
    return event


def find_category(code: str | None) -> Category | None:
    if not code:
        return None
    category = db.session.scalar(
        db.select(Category).where(Category.code == code, Category.active.is_(True))
    )
    if category is None:
        raise Invalid(
            f"Unknown category '{code}'. See GET /api/v1/categories for the valid codes.",
            field="category",
        )
    return category


def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def find_idempotent(scope: str, key: str, fingerprint: str) -> Case | None:
    row = db.session.scalar(
        db.select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different complaint.")
    return db.session.get(Case, row.case_id)


def open_case(
    intake: Intake,
    *,
    actor: StaffUser | None = None,
    idempotency: tuple[str, str, str] | None = None,
    now: datetime | None = None,
    commit: bool = True,
    acknowledge: bool = True,
    external_id: str | None = None,
    message_meta: dict | None = None,
) -> tuple[Case, bool]:
    """Open a case from an intake in one transaction: customer, routing, message, clocks.

    Returns (case, created). With `idempotency` = (scope, key, fingerprint), a retry of
    the same request returns the first case and created=False. With `commit=False` the
    caller owns the transaction (an inbound processor records its outcome in the same one).
    `acknowledge=False` is for a channel that acknowledges in its own answer (an SMS
    reply); it then records that message and meets the acknowledge clock itself.
    The customer's first message is `case.messages[0]`; `external_id` and `message_meta`
    (a channel's message id and details) go on it.
    """
    now = now or utcnow()
    if idempotency:
        existing = find_idempotent(*idempotency)
        if existing is not None:
            return existing, False
    category = find_category(intake.category)
    routed = routing.route(
        RoutingInput(
            text=intake.routing_text,
            category=intake.category,
            channel=intake.channel,
            zip=intake.zip,
            language=intake.language,
        )
    )
    decision = routed.decision
    customer = match_customer(intake, now)
    received = intake.received_at or now
    case = Case(
        reference=_unused_reference(),
        status="new",
        channel=intake.channel,
        priority=decision.priority,
        agency=routed.agency,
        queue=routed.queue,
        category=category,
        customer=customer,
        subject=intake.subject,
        description=intake.description,
        address=intake.address,
        zip=intake.zip,
        lat=intake.lat,
        lon=intake.lon,
        language=intake.language or "en",
        preferred_contact=intake.preferred_contact or _default_contact(intake),
        received_at=received,
        created_at=now,
        updated_at=now,
        routing_rule_id=decision.rule_id,
        routing_source=decision.source,
        routing_explanation=decision.explanation,
        # A new case's collections start empty: nothing to load from the database.
        clocks=[],
        attachments=[],
        case_contacts=[],
    )
    db.session.add(case)
    record_intake_contacts(case, intake)
    case.messages.append(
        Message(
            direction="inbound",
            channel=intake.channel,
            body=intake.description,
            created_at=received,
            external_id=external_id,
            meta=message_meta,
        )
    )
    _event(
        case,
        "opened",
        actor,
        now,
        actor_type="customer",
        after={"status": "new", "channel": intake.channel, "received_at": received.isoformat()},
    )
    _event(
        case,
        "routed",
        None,
        now,
        after={
            "agency": routed.agency.code,
            "queue": routed.queue.code if routed.queue else None,
            "priority": decision.priority,
            "source": decision.source,
            "rule": decision.rule_name,
            "matched": list(decision.matched),
            **routing.trace(decision),
        },
        detail=decision.explanation,
    )
    sla.start_clocks(case, routed.agency, category.id if category else None)
    ack = notify_customer(case, "acknowledgment")[1] if acknowledge else None
    if acknowledge and ack is None and intake.channel in ("web", "api", "open311", "phone"):
        # No way to write to them: the reference on their screen (or read out on the
        # phone) is the acknowledgment.
        sla.meet(case, ("acknowledge",), now)
    if idempotency:
        scope, key, fingerprint = idempotency
        db.session.add(IdempotencyKey(scope=scope, key=key, request_hash=fingerprint, case=case))
    if not commit:
        db.session.flush()
        log.info("case opened", extra={"reference": case.reference, "channel": case.channel})
        return case, True
    session = db.session()
    # What was just written is what the caller shows next (the case summary): keep it
    # loaded rather than read it all back after the commit.
    session.expire_on_commit = False
    try:
        session.commit()
    except IntegrityError:
        db.session.rollback()
        if idempotency:
            # A concurrent retry with the same key won the race: answer with its case.
            existing = find_idempotent(*idempotency)
            if existing is not None:
                return existing, False
        raise
    finally:
        session.expire_on_commit = True
    log.info(
        "case opened",
        extra={"reference": case.reference, "agency": routed.agency.code, "channel": case.channel},
    )
    return case, True


def _default_contact(intake: Intake) -> str | None:
    if intake.channel == "sms" and intake.phone:
        return "sms"
    if intake.email:
        return "email"
    if intake.phone:
        return "sms"
    if intake.address:
        return "mail"
    return None


def _unused_reference() -> str:
    for _ in range(5):
        ref = new_reference()
        if db.session.scalar(db.select(Case.id).where(Case.reference == ref)) is None:
            return ref
    raise RuntimeError("could not find an unused case reference")  # pragma: no cover


def get_case(reference: str) -> Case:
    ref = normalize_reference(reference)
    case = db.session.scalar(db.select(Case).where(Case.reference == ref)) if ref else None
    if case is None:
        raise NotFound(f"No case {reference}.")
    return case


def can_see(staff: StaffUser, case: Case) -> bool:
    """Staff see their own agency's cases; admins see every agency's."""
    return staff.sees_all_agencies or case.agency_id == staff.agency_id


def get_case_for(staff: StaffUser, reference: str) -> Case:
    case = get_case(reference)
    if not can_see(staff, case):
        # Same answer as a missing case: reveal nothing about other agencies' work.
        raise NotFound(f"No case {reference}.")
    return case


def _staff_label(staff: StaffUser | None) -> str | None:
    return staff.email if staff else None


def _find_staff(email: str) -> StaffUser:
    staff = db.session.scalar(
        db.select(StaffUser).where(db.func.lower(StaffUser.email) == email.strip().lower())
    )
    if staff is None or not staff.active:
        raise Invalid(f"No active staff member {email}.", field="assignee")
    return staff


def act(case: Case, action: str, actor: StaffUser, data: dict, now: datetime | None = None) -> Case:
    """Apply one staff action to a case, enforcing the lifecycle, and record it as events."""
    now = now or utcnow()
    if action not in lifecycle.ACTIONS:
        raise Invalid(f"Unknown action '{action}'.", field="action")
    before_status = case.status
    new_status = lifecycle.next_status(
        action, case.status, has_assignee=case.assignee_id is not None
    )
    handler = _HANDLERS[action]
    detail = handler(case, actor, data, now)
    case.status = new_status
    case.updated_at = now
    _event(
        case,
        action,
        actor,
        now,
        before={"status": before_status},
        after={"status": new_status, **(detail or {})},
        detail=data.get("reason") or None,
    )
    db.session.commit()
    return case


def _require(data: dict, field: str, label: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{label} is required.", field=field)
    if len(value) > 20000:
        raise Invalid(f"{label} is too long (20,000 characters at most).", field=field)
    return value.strip()


def _do_assign(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    email = data.get("assignee")
    target = actor if not email or email == "me" else _find_staff(str(email))
    if target.id != actor.id and actor.role == "caseworker":
        raise Forbidden("Caseworkers can assign cases to themselves only; ask a supervisor.")
    if not target.sees_all_agencies and target.agency_id != case.agency_id:
        raise Invalid(
            f"{target.email} does not work for {case.agency.code}; transfer the case instead.",
            field="assignee",
        )
    before = _staff_label(case.assignee)
    case.assignee = target
    return {"assignee": target.email, "previous_assignee": before}


def _do_start(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    detail = {}
    if case.assignee is None and (actor.sees_all_agencies or actor.agency_id == case.agency_id):
        case.assignee = actor
        detail["assignee"] = actor.email
    resumed = sla.resume(case, now)
    if resumed:
        detail["resumed"] = resumed
    return detail


def _do_note(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    body = _require(data, "body", "The note")
    case.messages.append(
        Message(direction="internal", channel="note", body=body, author=actor, created_at=now)
    )
    return {"note": True}


def _customer_message(
    case: Case, actor: StaffUser, body: str, now: datetime, kind: str = "message"
) -> Message:
    """What a caseworker writes to the customer: kept on the case, sent on their channel."""
    message, _ = notify_customer(case, kind, body=body, author=actor)
    message.created_at = now
    return message


def _do_reply(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    body = _require(data, "body", "The reply")
    message = _customer_message(case, actor, body, now)
    met = sla.meet(case, _RESPONSE_METRICS, now)
    detail = {"channel": message.channel, "met": met}
    if case.status != "waiting_on_customer":
        # A clock still paused on a case no longer waiting (it was transferred while we
        # waited) resumes with the next message either way: this one.
        resumed = sla.resume(case, now)
        if resumed:
            detail["resumed"] = resumed
    return detail


def _do_request_info(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    body = _require(data, "body", "The question to the customer")
    message = _customer_message(case, actor, body, now, "request_info")
    met = sla.meet(case, _RESPONSE_METRICS, now)
    # Not paused when already past its due time: that miss stands (app.sla.service.pause).
    paused = ["resolve"] if sla.pause(case, "resolve", now) else []
    return {"channel": message.channel, "met": met, "paused": paused}


def _do_resolve(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    summary = _require(data, "resolution", "A resolution summary")
    case.resolution = summary
    case.resolved_at = now
    met = sla.meet(case, (*_RESPONSE_METRICS, "resolve"), now)
    _customer_message(case, actor, summary, now, "resolved")
    from app.surveys.service import invite  # A-11 §280: ask how it went, once per case

    invite(case, now)
    return {"resolution": summary, "met": met}


def _do_close(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    """Closing unresolved stops the clocks not yet met: each counts as missed at its due
    time, unless the customer withdrew the complaint before then (`withdrawn`), which is
    published as its own outcome."""
    withdrawn = data.get("withdrawn", False)
    if not isinstance(withdrawn, bool):
        raise Invalid(
            "Say true or false: did the customer withdraw the complaint?", field="withdrawn"
        )
    detail: dict = {}
    if case.status != "resolved":
        _require(data, "reason", "A reason for closing an unresolved case")
        stopped = sla.stop(case, now, "withdrawn" if withdrawn else "closed")
        detail = {"stopped": stopped, "withdrawn": withdrawn}
    case.closed_at = now
    return detail


def _do_reopen(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    _require(data, "reason", "A reason for reopening")
    case.resolved_at = None
    case.closed_at = None
    sla.reopen(case, now)
    return {}


def _do_transfer(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    code = _require(data, "agency", "The agency to transfer to").upper()
    _require(data, "reason", "A reason for the transfer")
    agency = db.session.scalar(db.select(Agency).where(Agency.code == code))
    if agency is None:
        raise Invalid(f"Unknown agency '{code}'.", field="agency")
    if agency.id == case.agency_id:
        raise Invalid(f"The case is already with {code}.", field="agency")
    queue = None
    if data.get("queue"):
        queue = db.session.scalar(
            db.select(Queue).where(Queue.agency_id == agency.id, Queue.code == data["queue"])
        )
        if queue is None:
            raise Invalid(f"{code} has no queue '{data['queue']}'.", field="queue")
    before = {"agency": case.agency.code, "queue": case.queue.code if case.queue else None}
    case.agency = agency
    case.queue = queue or (agency.queues[0] if agency.queues else None)
    case.assignee = None
    detail = {"from": before, "agency": agency.code}
    suggestion = data.get("suggestion")
    if isinstance(suggestion, dict):  # accept_suggestion's, never a client's (schemas refuse it)
        detail["suggestion"] = suggestion
        category = _suggested_category(case, agency, suggestion.get("category"))
        if category is not None:
            case.category = category
            detail["category"] = category.code
    sla.transfer(case, agency, case.category_id, now)
    notify_customer(case, "transferred")
    return {**detail, "queue": case.queue.code if case.queue else None}


def _suggested_category(case: Case, agency: Agency, code: object) -> Category | None:
    """The model's category for a case that has none, if it is still the agency's."""
    if case.category_id is not None or not isinstance(code, str):
        return None
    return db.session.scalar(
        db.select(Category).where(
            Category.code == code, Category.agency_id == agency.id, Category.active.is_(True)
        )
    )


# --- the routing model's suggestions for cases in triage -------------------------------------

_ROUTING_EVENTS = ("routed", "rerouted")


def _open_suggestions(case: Case, after: dict | None) -> list[dict]:
    if case.status not in lifecycle.ALLOWED_FROM["transfer"] or not _in_triage(case):
        return []
    items = (after or {}).get("suggestions") or []
    return [
        {**s, "rank": rank}
        for rank, s in enumerate(items, start=1)
        if isinstance(s, dict) and s.get("agency") and s["agency"] != case.agency.code
    ]


def _in_triage(case: Case) -> bool:
    return case.queue is not None and case.queue.is_triage


def routing_suggestions(case: Case) -> list[dict]:
    """What the routing model suggested for a case waiting in triage (best first, each with
    its rank); empty once a person has routed it, or when the model had no suggestion.
    Suggestions of the agency the case is already with are left out: nothing to transfer."""
    for event in reversed(case.events):
        if event.kind in _ROUTING_EVENTS:
            return _open_suggestions(case, event.after)
    return []


def suggestions_for(cases: list[Case]) -> dict[int, list[dict]]:
    """routing_suggestions for a page of cases, in one query."""
    waiting = {c.id: c for c in cases if _in_triage(c)}
    if not waiting:
        return {}
    latest: dict[int, dict | None] = {}
    rows = db.session.execute(
        db.select(Event.case_id, Event.after)
        .where(Event.case_id.in_(waiting), Event.kind.in_(_ROUTING_EVENTS))
        .order_by(Event.id)
    )
    for case_id, after in rows:
        latest[case_id] = after
    return {cid: _open_suggestions(waiting[cid], after) for cid, after in latest.items()}


def accept_suggestion(case: Case, rank: int, actor: StaffUser, now: datetime | None = None) -> Case:
    """Route a triaged case where the routing model suggested: a transfer whose event records
    that it was the model's suggestion (and which), so the next training counts it as a
    person's decision. Refuses a suggestion that is no longer open."""
    chosen = next((s for s in routing_suggestions(case) if s["rank"] == rank), None)
    if chosen is None:
        raise Conflict(
            "That suggestion is no longer open: the case has been routed since, or the "
            "suggestion is not one of the model's."
        )
    probability = chosen.get("probability")
    sure = f" ({probability:.0%} sure)" if isinstance(probability, int | float) else ""
    data = {
        "agency": chosen["agency"],
        "reason": f"Accepted the routing model's suggestion {rank}: {chosen['agency']}{sure}.",
        "suggestion": {
            "rank": rank,
            "probability": probability,
            "model_version": chosen.get("model_version"),
            "category": chosen.get("category"),
        },
    }
    if chosen.get("queue"):
        data["queue"] = chosen["queue"]
    return act(case, "transfer", actor, data, now)


def _do_merge(case: Case, actor: StaffUser, data: dict, now: datetime) -> dict:
    into_ref = _require(data, "into", "The reference of the case to merge into")
    target = get_case_for(actor, into_ref)
    if target.id == case.id:
        raise Invalid("A case cannot be merged into itself.", field="into")
    if target.status not in lifecycle.ALLOWED_FROM["merge"] or target.merged_into_id:
        raise Conflict(
            f"{target.reference} is {target.status.replace('_', ' ')}; merge into an open case."
        )
    case.merged_into = target
    case.closed_at = now
    sla.stop(case, now, "merged")
    _event(
        target,
        "merged",
        actor,
        now,
        after={"merged": case.reference},
        detail=data.get("reason") or None,
    )
    target.updated_at = now
    return {"merged_into": target.reference}


_HANDLERS = {
    "assign": _do_assign,
    "start": _do_start,
    "note": _do_note,
    "reply": _do_reply,
    "request_info": _do_request_info,
    "resolve": _do_resolve,
    "close": _do_close,
    "reopen": _do_reopen,
    "transfer": _do_transfer,
    "merge": _do_merge,
}


def customer_replied(
    case: Case,
    body: str,
    channel: str,
    now: datetime | None = None,
    *,
    external_id: str | None = None,
    meta: dict | None = None,
) -> Message:
    """A customer's reply on any channel: kept on the case and, if a clock was waiting on
    them, it resumes with the waiting time added back."""
    now = now or utcnow()
    message = Message(
        direction="inbound",
        channel=channel,
        body=body,
        created_at=now,
        external_id=external_id,
        meta=meta,
    )
    case.messages.append(message)
    # Paused clocks resume on the customer's answer, also when the case no longer shows as
    # waiting (it was transferred while we waited).
    resumed = sla.resume(case, now)
    if case.status == "waiting_on_customer":
        before = case.status
        case.status = "in_progress" if case.assignee_id else "new"
        _event(
            case,
            "customer_replied",
            None,
            now,
            actor_type="customer",
            before={"status": before},
            after={"status": case.status, "resumed": resumed},
        )
    else:
        after = {"channel": channel} | ({"resumed": resumed} if resumed else {})
        _event(case, "customer_replied", None, now, actor_type="customer", after=after)
    case.updated_at = now
    return message


def add_event(
    case: Case,
    kind: str,
    now: datetime,
    *,
    after: dict | None = None,
    detail: str | None = None,
    actor: StaffUser | None = None,
) -> Event:
    """Record something the system (or, with `actor`, a staff member outside the case
    actions) did or learned about a case."""
    return _event(case, kind, actor, now, after=after, detail=detail)


def flag_case(case: Case, flag: str, detail: str, now: datetime | None = None) -> bool:
    """Raise a flag a caseworker must look at (an undeliverable address, an opt-out, a
    message to review). Idempotent; returns whether the flag is new."""
    if case.has_flag(flag):
        return False
    case.flags = [*(case.flags or []), flag]  # a new list, so the JSON change is saved
    _event(case, "flagged", None, now or utcnow(), after={"flag": flag}, detail=detail)
    return True


def clear_flag(case: Case, flag: str, actor: StaffUser | None, now: datetime | None = None) -> bool:
    if not case.has_flag(flag):
        return False
    case.flags = [f for f in case.flags or [] if f != flag]
    _event(case, "flag_cleared", actor, now or utcnow(), after={"flag": flag})
    return True


def intake_to_dict(intake: Intake) -> dict:
    return asdict(intake)
