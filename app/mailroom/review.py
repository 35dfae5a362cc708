"""The scan review queue: letters a person must read before they are routed."""

from __future__ import annotations

from datetime import datetime

from app.cases import service as cases
from app.cases.models import OPEN_STATUSES, Case, MessageVersion
from app.common.errors import Conflict, Invalid
from app.common.time import utcnow
from app.extensions import db
from app.inbound.models import InboundMessage
from app.routing import service as routing
from app.routing.engine import RoutingInput
from app.staff.models import StaffUser

FLAG = "scan_review"
MAX_TEXT = 20000


def review_queue(staff: StaffUser) -> list[Case]:
    """Open cases from scans waiting for a person, the oldest letter first; a caseworker
    sees their agency's (scans that could not be read go to the front door's queue)."""
    # Only cases opened from a scan that needed reading: not every open letter's case.
    needed_review = db.select(InboundMessage.case_id).where(
        InboundMessage.channel == "mail", InboundMessage.kind == "letter_review"
    )
    stmt = (
        db.select(Case)
        .where(Case.id.in_(needed_review), Case.status.in_(OPEN_STATUSES))
        .order_by(Case.received_at, Case.id)
    )
    if not staff.sees_all_agencies:
        stmt = stmt.where(Case.agency_id == staff.agency_id)
    return [c for c in db.session.scalars(stmt) if c.has_flag(FLAG)]  # not yet read


def awaiting_review(case: Case) -> bool:
    """An open case opened from a scan that OCR could not read well enough, not yet read
    by a person: the only kind of case whose text the mailroom corrects."""
    if case.status not in OPEN_STATUSES or not case.has_flag(FLAG):
        return False
    return (
        db.session.scalar(
            db.select(InboundMessage.id).where(
                InboundMessage.case_id == case.id,
                InboundMessage.channel == "mail",
                InboundMessage.kind == "letter_review",
            )
        )
        is not None
    )


def refuse(case: Case, actor: StaffUser, now: datetime) -> None:
    """Record a correction asked for a case that is not a scan awaiting review (nothing
    else changes), so the attempt is on the case's history."""
    cases.add_event(
        case,
        "correction_refused",
        now,
        actor=actor,
        detail="Only a scanned letter awaiting review can be corrected; the text was left "
        "as received.",
    )
    db.session.commit()


def correct_text(
    case: Case, text: str, actor: StaffUser, *, reroute: bool = True, now: datetime | None = None
) -> tuple[Case, str | None]:
    """Record what the letter says beside what OCR read, and route the case on it.

    Evidence is append-only: the message keeps the OCR text as received and the correction
    is a new version beside it, by this person at this time; the case's description (the
    text it is worked and routed on) becomes the correction. Only for a scan awaiting review
    (Conflict otherwise, recorded on the case). Returns the case and the agency it was
    transferred to (None when it stays). A transfer goes through the ordinary transfer
    action, so the clock, the history and the customer's notice behave as for any transfer.
    """
    now = now or utcnow()
    if not awaiting_review(case):
        refuse(case, actor, now)
        raise Conflict("Only a scanned letter awaiting review can be corrected here.")
    text = (text or "").strip()
    if not text:
        raise Invalid("Type the letter's text.", field="text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"At most {MAX_TEXT} characters.", field="text")
    message = next((m for m in case.messages if m.direction == "inbound"), None)
    if message is not None:
        message.versions.append(
            MessageVersion(body=text, reason="ocr_review", author=actor, created_at=now)
        )
    case.description = text
    cases.add_event(
        case,
        "scan_text_corrected",
        now,
        actor=actor,
        after={"characters": len(text), "message": message.id if message else None},
    )
    cases.clear_flag(case, FLAG, actor, now)
    moved_to = None
    if reroute:
        routed = routing.route(
            RoutingInput(
                text=text, category=None, channel="mail", zip=case.zip, language=case.language
            )
        )
        cases.add_event(
            case,
            "rerouted",
            now,
            after={
                "agency": routed.agency.code,
                "rule": routed.decision.rule_name,
                **routing.trace(routed.decision),
            },
            detail=routed.decision.explanation,
        )
        if routed.agency.id != case.agency_id:
            moved_to = routed.agency.code
            reason = f"Routed on the corrected letter text: {routed.decision.explanation}"
            data = {"agency": moved_to, "reason": reason[:500]}
            if routed.queue is not None:
                data["queue"] = routed.queue.code
            cases.act(case, "transfer", actor, data, now)
            return case, moved_to
    db.session.commit()
    return case, moved_to
