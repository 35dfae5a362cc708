"""Which contacts may act on a case: the one rule tracking, STATUS, CASE threading, email
reply threading and deliveries all ask.

A contact (an email address or phone number) may act on case K when it is on K (given on the
intake that opened K, or proven for K later with a one-time code) or proven for K's customer
(see `ContactPoint.proven_by`). A contact that is merely claimed, typed on a form beside
someone else's, acts on nothing but the cases it was given on. docs/security.md explains why.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from app.cases.models import OPEN_STATUSES, Case
from app.customers.models import CaseContact, ContactPoint
from app.extensions import db
from channels.contacts import ContactError, email_match_key, normalize_email, normalize_phone
from channels.intake import Intake

# Delivery channel → contact kind (postal letters go to the case's own address).
KIND_FOR_CHANNEL = {"email": "email", "sms": "phone"}


def contact_key(raw: str | None) -> tuple[str, str] | None:
    """What a person typed (an email address or a phone number) as (kind, match value), or
    None when it is neither."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if "@" in raw:
            return "email", email_match_key(normalize_email(raw))
        return "phone", normalize_phone(raw)
    except ContactError:
        return None


def on_case(case: Case, kind: str, value: str) -> bool:
    return any(c.kind == kind and c.value == value for c in case.case_contacts)


def proven_for_customer(customer_id: int, kind: str, value: str) -> bool:
    return (
        db.session.scalar(
            select(ContactPoint.id).where(
                ContactPoint.customer_id == customer_id,
                ContactPoint.kind == kind,
                ContactPoint.value == value,
                ContactPoint.proven_by.is_not(None),
            )
        )
        is not None
    )


def may_act(case: Case, kind: str, value: str) -> bool:
    """Whether this contact may see and act on the case (track it, ask its STATUS, thread
    into it, receive its updates)."""
    if kind not in ("email", "phone"):
        return False
    return on_case(case, kind, value) or proven_for_customer(case.customer_id, kind, value)


def may_act_typed(case: Case, raw: str) -> bool:
    """`may_act` for what a person typed in a tracking form."""
    key = contact_key(raw)
    return key is not None and may_act(case, *key)


def acting_clause(kind: str, value: str):
    """A WHERE clause on Case: the cases this contact may act on."""
    listed = select(CaseContact.case_id).where(CaseContact.kind == kind, CaseContact.value == value)
    owner = select(ContactPoint.customer_id).where(
        ContactPoint.kind == kind,
        ContactPoint.value == value,
        ContactPoint.proven_by.is_not(None),
    )
    return or_(Case.id.in_(listed), Case.customer_id.in_(owner))


def cases_of_contact(
    kind: str, value: str, *, open_only: bool = False, limit: int | None = None
) -> list[Case]:
    """The cases this contact may act on (not merged away), newest first."""
    stmt = (
        select(Case)
        .where(acting_clause(kind, value), Case.merged_into_id.is_(None))
        .order_by(Case.received_at.desc(), Case.id.desc())
    )
    if open_only:
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def add_case_contact(case: Case, kind: str, value: str, source: str) -> bool:
    """Put a contact on a case (idempotent); returns whether it is new there."""
    if on_case(case, kind, value):
        return False
    case.case_contacts.append(CaseContact(kind=kind, value=value, source=source))
    return True


def record_intake_contacts(case: Case, intake: Intake) -> None:
    """The email address and phone number given with the complaint are on its case."""
    if intake.email:
        add_case_contact(case, "email", email_match_key(intake.email), "intake")
    if intake.phone:
        add_case_contact(case, "phone", intake.phone, "intake")


def reachable(case: Case) -> dict[str, list[str]]:
    """Where the case's updates may go, per kind, best first: contacts on the case (the
    latest proven first, then as given), then the customer's proven points; never one that
    bounced or said STOP."""
    candidates: list[tuple[str, str]] = []
    on = sorted(case.case_contacts, key=lambda c: (c.source == "intake", -(c.id or 0)))
    candidates += [(c.kind, c.value) for c in on]
    # A case being opened has its customer but not yet the customer_id column.
    customer_id = case.customer.id if case.customer is not None else case.customer_id
    if customer_id is not None:
        candidates += db.session.execute(
            select(ContactPoint.kind, ContactPoint.value)
            .where(
                ContactPoint.customer_id == customer_id,
                ContactPoint.proven_by.is_not(None),
                ContactPoint.kind.in_(("email", "phone")),
            )
            .order_by(ContactPoint.id)
        ).all()
    if not candidates:
        return {}
    blocked = set(
        db.session.execute(
            select(ContactPoint.kind, ContactPoint.value).where(
                ContactPoint.value.in_({v for _, v in candidates}), ContactPoint.status != "ok"
            )
        ).all()
    )
    out: dict[str, list[str]] = {}
    for kind, value in candidates:
        if (kind, value) not in blocked and value not in out.setdefault(kind, []):
            out[kind].append(value)
    return out
