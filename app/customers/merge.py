"""Staff merge two customer records that are one person: an explicit, audited decision.

Contacts join a customer only when proven (app.customers.service), so the same person may
end up with two records (a text from a new phone, an email from a new address). A
supervisor or administrator who has seen both histories merges them: the contact points
and cases move, every affected case records it, and the merge itself is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app.cases.models import Case
from app.cases.service import add_event, can_see
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.customers.models import CaseContact, ContactPoint, Customer, CustomerMerge
from app.extensions import db
from app.staff.models import StaffUser

EXCERPT = 160


def visible_customer(staff: StaffUser, customer_id: int) -> Customer:
    """The customer, if the staff member sees at least one of their cases (an admin sees
    every customer); otherwise the same 404 as a customer that does not exist."""
    customer = db.session.get(Customer, customer_id) if 0 < customer_id < 2**63 else None
    if customer is None:
        raise NotFound(f"No customer {customer_id}.")
    if staff.sees_all_agencies:
        return customer
    seen = db.session.scalar(
        select(Case.id)
        .where(Case.customer_id == customer.id, Case.agency_id == staff.agency_id)
        .limit(1)
    )
    if seen is None:
        raise NotFound(f"No customer {customer_id}.")
    return customer


def merged_into(customer: Customer) -> int | None:
    """The customer this one was merged into (its record stays, empty, as the trail)."""
    return db.session.scalar(
        select(CustomerMerge.into_customer_id).where(CustomerMerge.from_customer_id == customer.id)
    )


def _cases(customer: Customer) -> list[Case]:
    return list(
        db.session.scalars(
            select(Case)
            .where(Case.customer_id == customer.id)
            .order_by(Case.received_at.desc(), Case.id.desc())
        )
    )


def history(staff: StaffUser, customer: Customer) -> dict:
    """What staff read before merging: contacts (proven or only claimed) and the cases they
    may see, with the contacts on each; other agencies' cases are only counted."""
    rows = _cases(customer)
    shown = [c for c in rows if can_see(staff, c)]
    on_case: dict[int, list[str]] = {}
    if shown:
        for contact in db.session.scalars(
            select(CaseContact).where(CaseContact.case_id.in_([c.id for c in shown]))
        ):
            on_case.setdefault(contact.case_id, []).append(f"{contact.kind}:{contact.value}")
    return {
        "id": customer.id,
        "name": customer.name,
        "created_at": customer.created_at.isoformat() if customer.created_at else None,
        "merged_into": merged_into(customer),
        "contacts": [
            {
                "kind": p.kind,
                "value": p.value,
                "proven": p.proven,
                "proven_by": p.proven_by,
                "status": p.status,
            }
            for p in customer.contacts
        ],
        "cases": [
            {
                "reference": c.reference,
                "status": c.status,
                "channel": c.channel,
                "agency": c.agency.code,
                "received_at": c.received_at.isoformat(),
                "excerpt": (c.description or "")[:EXCERPT],
                "contacts": on_case.get(c.id, []),
            }
            for c in shown
        ],
        "other_cases": len(rows) - len(shown),
    }


def merge(
    staff: StaffUser, source: Customer, into: Customer, reason: str | None, now: datetime
) -> CustomerMerge:
    """Move `source`'s contact points and cases to `into`. Each point keeps its own proof
    (a point only claimed stays claimed). The caller commits."""
    if staff.role not in ("supervisor", "admin"):
        raise Forbidden("Only supervisors and administrators merge customers.")
    if source.id == into.id:
        raise Invalid("A customer cannot be merged into themselves.", field="into")
    if merged_into(source) or merged_into(into):
        raise Conflict("One of these customers was already merged into another.")
    cases = _cases(source)
    target_cases = _cases(into)
    if not staff.sees_all_agencies and any(
        c.agency_id != staff.agency_id for c in (*cases, *target_cases)
    ):
        raise Forbidden("These customers have cases with other agencies: ask an administrator.")
    moved_contacts = [{"kind": p.kind, "value": p.value} for p in source.contacts]
    db.session.execute(
        update(ContactPoint)
        .where(ContactPoint.customer_id == source.id)
        .values(customer_id=into.id)
        .execution_options(synchronize_session=False)
    )
    for case in cases:
        case.customer_id = into.id
    if not into.name and source.name:
        into.name = source.name
    detail = (reason or "").strip()[:500] or None
    moved_ids = {c.id for c in cases}
    for case in (*cases, *target_cases):
        add_event(
            case,
            "customer_merged",
            now,
            actor=staff,
            after={"from_customer": source.id, "into_customer": into.id,
                   "moved": case.id in moved_ids},
            detail=detail,
        )  # fmt: skip
    record = CustomerMerge(
        from_customer_id=source.id,
        into_customer_id=into.id,
        actor_id=staff.id,
        at=now,
        reason=detail,
        moved={"cases": [c.reference for c in cases], "contacts": moved_contacts},
    )
    db.session.add(record)
    db.session.flush()
    db.session.expire(source, ["contacts"])
    db.session.expire(into, ["contacts"])
    return record
