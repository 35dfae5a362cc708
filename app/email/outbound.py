"""Threading headers for email we send, so a case shows as one conversation in the
customer's mail program: In-Reply-To and References point at their latest message."""

from __future__ import annotations

from app.cases.models import Message
from app.extensions import db
from app.notify.models import OutboxItem


def thread_headers(items: list[OutboxItem]) -> dict[int, dict[str, str]]:
    """In-Reply-To / References for each outbound email on a case, by outbox id (absent
    without one), read for a whole batch of deliveries in one query."""
    case_ids = {i.case_id for i in items if i.case_id is not None and i.channel == "email"}
    if not case_ids:
        return {}
    latest = (
        db.select(db.func.max(Message.id))
        .where(
            Message.case_id.in_(case_ids),
            Message.direction == "inbound",
            Message.channel == "email",
            Message.external_id.is_not(None),
        )
        .group_by(Message.case_id)
    )
    last_by_case = {
        m.case_id: m for m in db.session.scalars(db.select(Message).where(Message.id.in_(latest)))
    }
    headers = {}
    for item in items:
        last = last_by_case.get(item.case_id) if item.channel == "email" else None
        if last is None:
            continue
        earlier = [r for r in (last.meta or {}).get("references") or [] if r != last.external_id]
        references = [*earlier[-9:], last.external_id]
        headers[item.id] = {"In-Reply-To": last.external_id, "References": " ".join(references)}
    return headers
