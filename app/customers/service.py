"""Find the customer behind an intake by their contact points, or create one."""

from __future__ import annotations

from app.customers.models import ContactPoint, Customer
from app.extensions import db
from channels.contacts import ContactError, email_match_key, normalize_email, normalize_phone
from channels.intake import Intake


def _lookup(kind: str, value: str) -> Customer | None:
    point = db.session.scalar(
        db.select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    )
    return point.customer if point else None


def match_customer(intake: Intake) -> Customer:
    """The same person on any channel is one customer: match by email, then by phone.

    New contact points given alongside a known one are added to that customer; a postal
    address is kept as given (addresses are too varied to match on).
    """
    email = email_match_key(intake.email) if intake.email else None
    customer = None
    if email:
        customer = _lookup("email", email)
    if customer is None and intake.phone:
        customer = _lookup("phone", intake.phone)
    if customer is None:
        customer = Customer(language=intake.language or "en")
        db.session.add(customer)
    if intake.name and not customer.name:
        customer.name = intake.name
    if intake.preferred_contact:
        customer.preferred_contact = intake.preferred_contact
    known = {(p.kind, p.value) for p in customer.contacts}
    wanted = []
    if email:
        wanted.append(("email", email))
    if intake.phone:
        wanted.append(("phone", intake.phone))
    if intake.address:
        wanted.append(("postal", intake.address.strip()))
    for kind, value in wanted:
        if (kind, value) in known:
            continue
        if kind != "postal" and _lookup(kind, value) is not None:
            # Belongs to another customer already; keep both records rather than guess.
            continue
        customer.contacts.append(ContactPoint(kind=kind, value=value))
    return customer


def customer_has_contact(customer: Customer, raw: str) -> bool:
    """Whether what a person typed (an email address or a phone number) is one of theirs."""
    raw = (raw or "").strip()
    candidates: list[tuple[str, str]] = []
    if "@" in raw:
        try:
            candidates.append(("email", email_match_key(normalize_email(raw))))
        except ContactError:
            return False
    else:
        try:
            candidates.append(("phone", normalize_phone(raw)))
        except ContactError:
            return False
    return any((p.kind, p.value) in candidates for p in customer.contacts)
