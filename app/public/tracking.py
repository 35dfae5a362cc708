"""What a browser proved about a case a little while ago: the contact it tracked with.

Kept in the signed session (never in a URL) for PROOF_MINUTES and checked again on every
use, so a contact that no longer may act on the case (a merge, a staff change) stops working
at once. Pages that act for the customer on their case (reading it, replying to it) ask
`proven_case` rather than asking for the contact again.
"""

from __future__ import annotations

from datetime import timedelta

from flask import session

from app.cases.models import Case
from app.common.time import utcnow
from app.customers import access, proof

PROOF_MINUTES = 30
KEEP = 5  # cases one browser may hold a proof for at a time
_KEY = "tracked"


def remember(case: Case, contact: str) -> None:
    """The browser just showed a contact that may act on the case."""
    key = access.contact_key(contact)
    if key is None:
        return
    until = (utcnow() + timedelta(minutes=PROOF_MINUTES)).timestamp()
    held = {ref: v for ref, v in (session.get(_KEY) or {}).items() if ref != case.reference}
    held = dict(list(held.items())[-(KEEP - 1) :])
    held[case.reference] = [key[0], key[1], until]
    session[_KEY] = held


def proven_contact(case: Case) -> tuple[str, str] | None:
    """The contact this browser proved for the case, while the proof lasts and the contact
    still may act on it."""
    held = (session.get(_KEY) or {}).get(case.reference)
    if not held or len(held) != 3 or held[2] < utcnow().timestamp():
        return None
    kind, value = held[0], held[1]
    return (kind, value) if access.may_act(case, kind, value) else None


def proven_case(reference: str) -> Case | None:
    case = proof.find_case(reference)
    if case is None or proven_contact(case) is None:
        return None
    return case


def forget(reference: str) -> None:
    held = dict(session.get(_KEY) or {})
    if held.pop(reference, None) is not None:
        session[_KEY] = held
