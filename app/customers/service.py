"""Find the customer behind an intake by their contact points, or create one."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app.customers.models import ContactPoint, Customer
from app.extensions import db
from channels.contacts import ContactError, email_match_key, normalize_email, normalize_phone
from channels.intake import Intake


def customer_by_contact(kind: str, value: str) -> Customer | None:
    """The customer who owns a normalized contact point (an email match key, an E.164 number)."""
    point = db.session.scalar(
        db.select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    )
    return point.customer if point else None


def match_customer(intake: Intake) -> Customer:
    """The same person on any channel is one customer: match by email, then by phone.

    New contact points given alongside a known one are added to that customer; a postal
    address is kept as given (addresses are too varied to match on). Two complaints from a
    new address at the same moment meet on one customer: the loser of the race to insert the
    contact point (a unique key) takes the winner's customer.
    """
    email = email_match_key(intake.email) if intake.email else None
    for _attempt in range(3):
        customer, new_points = _find(intake, email)
        if customer is not None and not new_points:
            return _update(customer, intake)  # nothing to insert: no race to lose
        try:
            with db.session.begin_nested():
                if customer is None:
                    customer = Customer(language=intake.language or "en", contacts=[])
                    db.session.add(customer)
                for kind, value in new_points:
                    customer.contacts.append(ContactPoint(kind=kind, value=value))
                _update(customer, intake)
                db.session.flush()
            return customer
        except IntegrityError:
            continue  # the savepoint is rolled back; the other request's rows are visible now
    raise RuntimeError("could not match the customer's contact points")  # pragma: no cover


def _find(intake: Intake, email: str | None) -> tuple[Customer | None, list[tuple[str, str]]]:
    """The known customer (or None) and the contact points of the intake still to add."""
    customer = None
    if email:
        customer = customer_by_contact("email", email)
    if customer is None and intake.phone:
        customer = customer_by_contact("phone", intake.phone)
    known = {(p.kind, p.value) for p in customer.contacts} if customer else set()
    wanted = []
    if email:
        wanted.append(("email", email))
    if intake.phone:
        wanted.append(("phone", intake.phone))
    if intake.address:
        wanted.append(("postal", intake.address.strip()))
    new_points = []
    for kind, value in wanted:
        if (kind, value) in known:
            continue
        if (
            kind != "postal"
            and customer is not None
            and customer_by_contact(kind, value) is not None
        ):
            # Belongs to another customer already; keep both records rather than guess.
            continue
        new_points.append((kind, value))
    return customer, new_points


def _update(customer: Customer, intake: Intake) -> Customer:
    if intake.name and not customer.name:
        customer.name = intake.name
    if intake.preferred_contact:
        customer.preferred_contact = intake.preferred_contact
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


def contact_blocks(addresses: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Why nothing may be sent now to each (channel, recipient) that is blocked (opted out,
    undeliverable), in one query for a whole batch of deliveries; the rest are absent."""
    wanted: dict[tuple[str, str], tuple[str, str]] = {}
    for channel, recipient in addresses:
        kind = _KIND_FOR_CHANNEL.get(channel)
        if kind is not None:
            value = email_match_key(recipient) if kind == "email" else recipient
            wanted[(kind, value)] = (channel, recipient)
    if not wanted:
        return {}
    rows = db.session.execute(
        db.select(
            ContactPoint.kind, ContactPoint.value, ContactPoint.status, ContactPoint.status_reason
        ).where(
            ContactPoint.value.in_({value for _, value in wanted}),
            ContactPoint.status != "ok",
        )
    ).all()
    words = {"opted_out": "the customer opted out", "undeliverable": "the address is undeliverable"}
    blocked = {}
    for kind, value, status, reason in rows:
        address = wanted.get((kind, value))
        if address is not None:
            why = f"not sent: {words.get(status, status)}" + (f" ({reason})" if reason else "")
            blocked[address] = why
    return blocked
