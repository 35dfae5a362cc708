"""Proving a new contact for a case with a one-time code, and recording refused attempts.

A person who tracks a case with an email address or phone number that is not on it may ask
for a code sent to a contact already on file for the case; entering it proves the new
contact for the case, and for the whole customer when the code went to one of the
customer's proven contacts. Every answer a stranger sees is the same whether or not the
reference or the contact exists: these functions return nothing a caller could show.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.cases.models import Case
from app.cases.reference import normalize_reference
from app.cases.service import add_event
from app.customers import access
from app.customers.models import ContactCode, ContactPoint
from app.extensions import db
from app.notify.service import answer_sender
from channels.contacts import mask_contact

log = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5  # wrong guesses before a code is locked
# Codes sent per hour: for one new contact on one case, and for one case in all.
MAX_CODES_PER_CONTACT = 3
MAX_CODES_PER_CASE = 6
CHANNEL_KIND = {"email": "email", "sms": "phone"}


def find_case(reference: str | None) -> Case | None:
    """The case by reference, or None (never an error: callers answer the same either way)."""
    ref = normalize_reference((reference or "")[:40])
    if not ref:
        return None
    return db.session.scalar(select(Case).where(Case.reference == ref))


def refused(case: Case | None, channel: str, asked: str, contact: str | None, now) -> None:
    """Record on the case that a contact not allowed on it asked for it (the person sees
    only the ordinary "not found"). Nothing is recorded when there is no such case."""
    if case is None:
        return
    shown = mask_contact(contact.strip()[:254]) if contact and contact.strip() else "none"
    add_event(
        case,
        "access_refused",
        now,
        after={"channel": channel, "asked": asked, "contact": shown},
        detail="A contact that is not on this case and not proven for its customer asked for "
        "it; it was told the case was not found.",
    )


def _digest(code_id: int, kind: str, value: str, code: str) -> str:
    """A keyed hash: the table alone (a backup, a leaked dump) does not give the codes."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = f"{code_id}:{kind}:{value}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _open_codes(case: Case, kind: str, value: str) -> tuple:
    """Codes for proving this contact on this case that are neither used nor closed."""
    return (
        ContactCode.case_id == case.id,
        ContactCode.kind == kind,
        ContactCode.value == value,
        ContactCode.used_at.is_(None),
        ContactCode.closed_at.is_(None),
    )


def _sent_recently(now: datetime, *conditions) -> int:
    return db.session.scalar(
        select(func.count(ContactCode.id)).where(
            ContactCode.created_at > now - timedelta(hours=1), *conditions
        )
    )


def request_code(
    reference: str,
    contact: str,
    send_by: str,
    language: str,
    now: datetime,
    channel: str = "web",
) -> None:
    """Send a code to the case's contact on file of the chosen kind ("email" or "sms"), to
    prove `contact` for the case. Does nothing, silently, when the reference or contact is
    wrong, there is no such contact on file, the contact may already act on the case, or
    too many codes were asked for. The caller commits."""
    case = find_case(reference)
    key = access.contact_key(contact)
    kind_on_file = CHANNEL_KIND.get(send_by)
    if case is None or key is None or kind_on_file is None:
        return
    if access.may_act(case, *key):
        return  # nothing to prove: tracking with it works already
    destinations = access.reachable(case).get(kind_on_file) or []
    if not destinations:
        return
    kind, value = key
    same_case = ContactCode.case_id == case.id
    same_contact = (ContactCode.kind == kind, ContactCode.value == value)
    if (
        _sent_recently(now, same_case) >= MAX_CODES_PER_CASE
        or _sent_recently(now, same_case, *same_contact) >= MAX_CODES_PER_CONTACT
    ):
        refused(case, channel, "code_limit", contact, now)
        return
    # A new code replaces any earlier one for the same contact.
    db.session.execute(
        update(ContactCode)
        .where(*_open_codes(case, kind, value))
        .values(closed_at=now, closed_reason="replaced")
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = ContactCode(
        case_id=case.id,
        kind=kind,
        value=value,
        sent_kind=kind_on_file,
        sent_to=destinations[0],
        code_hash="",
        attempts=0,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    db.session.add(row)
    db.session.flush()
    row.code_hash = _digest(row.id, kind, value, code)
    context = {
        "reference": case.reference,
        "code": code,
        "adding": mask_contact(value),
        "minutes": int(CODE_TTL.total_seconds() // 60),
    }
    answer_sender("contact_code", send_by, destinations[0], language, context, case=case)
    add_event(
        case,
        "contact_code_sent",
        now,
        after={"to": mask_contact(destinations[0]), "adding": mask_contact(value)},
    )


def verify_code(
    reference: str, contact: str, code: str, now: datetime, *, updates: bool = False
) -> Case | None:
    """The case when `code` is the live code for proving `contact` on it, else None for
    every kind of failure alike. A code works once, for CODE_TTL, and is locked after
    MAX_ATTEMPTS wrong guesses. With `updates`, the case's updates go to the new contact
    from now on. The caller commits (a wrong guess is counted either way)."""
    case = find_case(reference)
    key = access.contact_key(contact)
    code = "".join(ch for ch in (code or "") if not ch.isspace())[:20]
    if case is None or key is None or not code.isdigit():
        return None
    kind, value = key
    row = db.session.scalar(
        select(ContactCode)
        .where(*_open_codes(case, kind, value))
        .order_by(ContactCode.id.desc())
        .limit(1)
    )
    if row is None or row.expires_at <= now:
        return None
    # Counted atomically, so guesses sent in parallel cannot exceed the limit.
    counted = db.session.execute(
        update(ContactCode)
        .where(ContactCode.id == row.id, ContactCode.attempts < MAX_ATTEMPTS)
        .values(attempts=ContactCode.attempts + 1)
        .returning(ContactCode.attempts)
        .execution_options(synchronize_session=False)
    ).scalar()
    if counted is None:
        return None
    if not hmac.compare_digest(row.code_hash, _digest(row.id, kind, value, code)):
        if counted >= MAX_ATTEMPTS:
            db.session.execute(
                update(ContactCode)
                .where(ContactCode.id == row.id)
                .values(closed_at=now, closed_reason="locked")
                .execution_options(synchronize_session=False)
            )
            add_event(case, "contact_code_locked", now, after={"adding": mask_contact(value)})
        return None
    used = db.session.execute(
        update(ContactCode)
        .where(ContactCode.id == row.id, ContactCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        return None  # the same code, entered twice at once: only one proves anything
    if updates:
        case.preferred_contact = "sms" if kind == "phone" else "email"
    prove(case, kind, value, via=(row.sent_kind, row.sent_to), now=now, updates=updates)
    return case


def prove(
    case: Case,
    kind: str,
    value: str,
    *,
    via: tuple[str, str],
    now: datetime,
    updates: bool = False,
) -> str:
    """The contact is proven for the case; and for its customer when `via` (where the code
    went) is one of the customer's proven contacts and no other customer owns it. `updates`
    (recorded) says the case's updates now go to it. Returns the scope: "customer" or
    "case"."""
    access.add_case_contact(case, kind, value, "code")
    scope = "case"
    note = None
    if access.proven_for_customer(case.customer_id, *via):
        point = _point(kind, value)
        if point is None:
            try:
                with db.session.begin_nested():
                    db.session.add(
                        ContactPoint(
                            customer_id=case.customer_id,
                            kind=kind,
                            value=value,
                            proven_by="code",
                            proven_at=now,
                        )
                    )
                    db.session.flush()
            except IntegrityError:
                pass  # someone else's just now: handled below
            point = _point(kind, value)
        if point is not None and point.customer_id == case.customer_id:
            if point.proven_by is None:
                point.proven_by, point.proven_at = "code", now
            scope = "customer"
        else:
            note = "Another customer record has this contact; staff may merge the two."
    add_event(
        case,
        "contact_proven",
        now,
        after={"kind": kind, "contact": mask_contact(value), "scope": scope,
               "via": mask_contact(via[1]), "updates_here": updates},
        detail=note,
    )  # fmt: skip
    return scope


def _point(kind: str, value: str) -> ContactPoint | None:
    return db.session.scalar(
        select(ContactPoint).where(ContactPoint.kind == kind, ContactPoint.value == value)
    )
