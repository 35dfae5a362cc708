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


def set_contact_status(
    kind: str, value: str, status: str, reason: str | None, now
) -> ContactPoint | None:
    """Mark a contact point undeliverable (a bounce), opted out (SMS STOP) or ok again.

    Returns the point (None when no customer has it). Notifications skip any point that is
    not ok, so the customer is answered on another channel instead.
    """
    point = db.session.scalar(
        db.select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    )
    if point is None:
        return None
    if point.status != status:
        point.status = status
        point.status_reason = reason
        point.status_at = now
    return point


_KIND_FOR_CHANNEL = {"email": "email", "sms": "phone", "mail": "postal"}


def contact_block(channel: str, recipient: str) -> str | None:
    """Why nothing may be sent to this address now (opted out, undeliverable), or None."""
    kind = _KIND_FOR_CHANNEL.get(channel)
    if kind is None:
        return None
    value = email_match_key(recipient) if kind == "email" else recipient
    status, reason = db.session.execute(
        db.select(ContactPoint.status, ContactPoint.status_reason).where(
            ContactPoint.kind == kind, ContactPoint.value == value
        )
    ).first() or ("ok", None)
    if status == "ok":
        return None
    words = {"opted_out": "the customer opted out", "undeliverable": "the address is undeliverable"}
    return f"not sent: {words.get(status, status)}" + (f" ({reason})" if reason else "")
