"""Threading headers for email we send, so a case shows as one conversation in the
customer's mail program: In-Reply-To and References point at their latest message."""

from __future__ import annotations

from app.cases.models import Message
from app.extensions import db
from app.notify.models import OutboxItem


def thread_headers(item: OutboxItem) -> dict[str, str]:
    """In-Reply-To / References for one outbound email on a case (empty without one)."""
    if item.case_id is None or item.channel != "email":
        return {}
    last = db.session.scalar(
        db.select(Message)
        .where(
            Message.case_id == item.case_id,
            Message.direction == "inbound",
            Message.channel == "email",
            Message.external_id.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    if last is None:
        return {}
    earlier = [r for r in (last.meta or {}).get("references") or [] if r != last.external_id]
    references = [*earlier[-9:], last.external_id]
    return {"In-Reply-To": last.external_id, "References": " ".join(references)}
