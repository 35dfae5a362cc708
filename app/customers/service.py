"""Find the customer behind an intake by their contact points, or create one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from app.common.time import utcnow
from app.customers.models import ContactPoint, Customer
from app.extensions import db
from channels.contacts import email_match_key
from channels.intake import Intake


def customer_by_contact(kind: str, value: str) -> Customer | None:
    """The customer who owns a normalized contact point (an email match key, an E.164 number)."""
    point = db.session.scalar(
        db.select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    )
    return point.customer if point else None


def match_customer(intake: Intake, now: datetime | None = None) -> Customer:
    """The customer an intake belongs to: the owner of its email address, else of its phone
    number; a new customer when neither is known.

    A contact joins a customer only when proven (docs/security.md): a new contact given
    beside a known one stays on the case it came with (`app.customers.access`) and is not
    added to the known customer, and a contact owned by another customer is never moved. A
    new customer gets the intake's contacts; when there is only one email/phone it defines
    the customer and is proven for them, several typed together are only claimed. Two
    complaints from a new address at the same moment meet on one customer: the loser of the
    race to insert the contact point (a unique key) takes the winner's customer.
    """
    email = email_match_key(intake.email) if intake.email else None
    for _attempt in range(3):
        customer = _known(intake, email)
        if customer is not None:
            return _update(customer, intake)  # nothing to insert: no race to lose
        try:
            with db.session.begin_nested():
                customer = Customer(language=intake.language or "en", contacts=[])
                db.session.add(customer)
                for point in _new_points(intake, email, now or utcnow()):
                    customer.contacts.append(point)
                _update(customer, intake)
                db.session.flush()
            return customer
        except IntegrityError:
            continue  # the savepoint is rolled back; the other request's rows are visible now
    raise RuntimeError("could not match the customer's contact points")  # pragma: no cover


def _known(intake: Intake, email: str | None) -> Customer | None:
    customer = customer_by_contact("email", email) if email else None
    if customer is None and intake.phone:
        customer = customer_by_contact("phone", intake.phone)
    return customer


def _new_points(intake: Intake, email: str | None, now: datetime) -> list[ContactPoint]:
    keyed = [("email", email), ("phone", intake.phone)]
    keyed = [(kind, value) for kind, value in keyed if value]
    proof = "intake" if len(keyed) == 1 else None  # one contact defines the customer
    points = [
        ContactPoint(kind=kind, value=value, proven_by=proof, proven_at=now if proof else None)
        for kind, value in keyed
    ]
    if intake.address:
        points.append(ContactPoint(kind="postal", value=intake.address.strip()))
    return points


def _update(customer: Customer, intake: Intake) -> Customer:
    if intake.name and not customer.name:
        customer.name = intake.name
    if intake.preferred_contact:
        customer.preferred_contact = intake.preferred_contact
    return customer


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
