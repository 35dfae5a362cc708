"""Answer a STATUS email: the plain-language status and next due date of the sender's cases.

The same answer the web's /track page and an SMS STATUS give, sent to the address the
request came from and only about cases that address belongs to: a reference cited by a
stranger gets the same "not found" as a wrong one, so nothing about a case leaks.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.cases import presenters
from app.cases.models import OPEN_STATUSES, Case
from app.cases.service import add_event
from app.customers import access, proof
from app.directory import localized
from app.extensions import db
from app.inbound.models import InboundMessage
from app.inbound.service import record
from app.notify.service import answer_sender
from channels.case_status import status_words
from channels.contacts import email_match_key
from channels.keywords import Keyword

# A customer with many complaints gets the open ones, newest first, up to this many.
MAX_CASES = 5


def _follow_merges(case: Case | None) -> Case | None:
    seen = set()
    while case is not None and case.merged_into_id and case.id not in seen:
        seen.add(case.id)
        case = case.merged_into
    return case


def _cases_of(sender: str) -> list[Case]:
    """The open cases this address may act on, newest first; if none is open, the latest."""
    key = email_match_key(sender)
    open_cases = access.cases_of_contact("email", key, open_only=True, limit=MAX_CASES)
    if open_cases:
        return open_cases
    return access.cases_of_contact("email", key, limit=1)


def _facts(case: Case, lang: str, now: datetime) -> dict:
    """What the customer reads about one case: the status and when they will hear next."""
    is_open = case.status in OPEN_STATUSES
    return {
        "reference": case.reference,
        "agency": localized(case.agency, "name", lang),
        "received": presenters.plain_date(case, case.received_at, now, lang=lang),
        "status": status_words(case.status, lang),
        "promises": presenters.promise_sentences(case, lang, skip=("acknowledge",))
        if is_open
        else [],
        "tracking_url": presenters.tracking_url(case),
    }


def answer(
    row: InboundMessage, sender: str, asked: Keyword, cited: Case | None, now: datetime
) -> None:
    """Queue the status email and record what became of the request.

    The case is the one the keyword names ("STATUS RX-…"), else the one the message cites
    (the reply's thread, or the reference in its subject); with neither, every open case of
    the sender. A case is told only to an address that is one of its customer's.
    """
    lang = asked.language
    if asked.reference:
        found = db.session.scalar(db.select(Case).where(Case.reference == asked.reference))
        named = _follow_merges(found)
    else:
        named = cited
    if asked.reference or cited is not None:
        key = email_match_key(sender)
        if named is not None and not access.may_act(named, "email", key):
            # A case merged into one this address may not see answers for itself.
            shown = found if asked.reference else cited
            if shown is not None and shown is not named and access.may_act(shown, "email", key):
                named = shown
            else:
                proof.refused(named, "email", "status", sender, now)
                named = None
        cases = [named] if named is not None else []
    else:
        cases = _cases_of(sender)
    customer = cases[0].customer if cases else None
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    context = {
        "name": customer.name if customer else None,
        "cases": [_facts(case, lang, now) for case in cases],
        "asked_reference": asked.reference or (cited.reference if cited else None),
        "track_url": f"{base}/track" + ("?lang=es" if lang == "es" else ""),
    }
    one = cases[0] if len(cases) == 1 else None
    answer_sender("status", "email", sender, lang, context, case=one)
    for case in cases:
        add_event(case, "status_sent", now, after={"channel": "email"})
    if cases:
        reason = "STATUS answered by email for " + ", ".join(c.reference for c in cases)
    else:
        asked_for = context["asked_reference"]
        reason = "STATUS answered by email: no case of this sender" + (
            f" with reference {asked_for}" if asked_for else ""
        )
    record(row, "ignored", kind="status", reason=reason, case=one)
