"""Bounces that count: a bounce marks an address dead only when it answers a message we sent.

Every email we send has a VERP return path and a Message-ID with HMAC tokens
(channels.email.verp). Mail to such a return path is about that delivery, whatever it says
(unless it is an automatic reply, which RFC 3834 sends there too); a bounce recognised by its
content counts when it quotes one of our signed Message-IDs or return paths. Then exactly that
delivery is marked failed and its recipient undeliverable, and the customer's open cases are
flagged. A bounce naming nothing of ours is kept, `ignored`, and changes nothing: anyone can
write "Undelivered Mail" and a victim's address in an email.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.cases.models import OPEN_STATUSES, Case
from app.cases.service import flag_case
from app.customers.service import set_contact_status
from app.extensions import db
from app.inbound.models import InboundMessage
from app.inbound.service import record
from app.notify.delivery import provider_failed
from app.notify.models import OutboxItem
from channels.contacts import ContactError, email_match_key, mask_contact, normalize_email
from channels.email import ParsedEmail, verp
from channels.email.classify import Classification

# Headers that carry the envelope recipient once a message has been delivered to a mailbox
# (IMAP, a relay's webhook), besides To and Cc.
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to")


def _secret_and_domain() -> tuple[bytes, str]:
    config = current_app.config
    return verp.bounce_secret(config), verp.domain_of(config.get("INTAKE_EMAIL_ADDRESS") or "")


def valid_return_path(address: str) -> bool:
    """Whether an RCPT TO is one of our return paths with a valid token (the SMTP door)."""
    secret, domain = _secret_and_domain()
    return verp.delivery_of(address, secret, domain) is not None


def addressed_delivery(row: InboundMessage, mail: ParsedEmail) -> int | None:
    """The delivery whose return path this message was sent to (its envelope recipient, or the
    recipient headers a mailbox or relay adds), if any."""
    secret, domain = _secret_and_domain()
    candidates = list((row.meta or {}).get("rcpt_to") or [])
    candidates += mail.to
    for name in _RECIPIENT_HEADERS:
        candidates += mail.headers.get(name, "").split(",")
    for address in candidates[:200]:
        found = verp.delivery_of(str(address), secret, domain)
        if found is not None:
            return found
    return None


def _quoted_delivery(row: InboundMessage) -> OutboxItem | None:
    """The email delivery a bounce quotes by its signed return path or Message-ID."""
    secret, domain = _secret_and_domain()
    ids, message_ids = verp.found_in(row.raw, secret, domain)
    if ids:
        item = db.session.get(OutboxItem, ids[0])
        if item is not None and item.channel == "email":
            return item
    if message_ids:
        # Our Message-IDs are lower-case (key, token and domain).
        return db.session.scalar(
            db.select(OutboxItem)
            .where(OutboxItem.provider_ref.in_(message_ids), OutboxItem.channel == "email")
            .order_by(OutboxItem.id.desc())
            .limit(1)
        )
    return None


def handle(
    row: InboundMessage,
    mail: ParsedEmail,
    kind: Classification,
    delivery_id: int | None,
    now: datetime,
) -> bool:
    """Record what a bounce (or anything sent to one of our return paths) does; False when it
    is neither, and the message goes on as a person's."""
    if delivery_id is None and kind.kind != "bounce":
        return False
    item = None
    if delivery_id is not None:
        item = db.session.get(OutboxItem, delivery_id)
        if item is not None and item.channel != "email":
            item = None
        if kind.kind in ("auto_reply", "feedback_report"):
            note = f" (to the return path of delivery #{delivery_id})"
            record(row, "ignored", kind=kind.kind, reason=kind.reason + note)
            return True
    else:
        item = _quoted_delivery(row)
    reason = kind.reason if kind.kind == "bounce" else "sent to a delivery's return path"
    if kind.delayed:
        which = f" for delivery #{item.id}" if item is not None else ""
        record(row, "ignored", kind="bounce", reason=f"{reason}{which}; nothing marked")
        return True
    if item is None:
        why = (
            "its return path names a delivery that no longer exists"
            if delivery_id is not None
            else "it answers no message we sent (no return path or Message-ID of ours)"
        )
        record(row, "ignored", kind="bounce", reason=f"{reason}; not counted: {why}")
        return True
    _failed(row, item, reason, now)
    return True


def _failed(row: InboundMessage, item: OutboxItem, reason: str, now: datetime) -> None:
    """Exactly this delivery failed; its recipient is undeliverable; flag the open cases."""
    if item.state != "failed":
        provider_failed(item, f"bounced: {reason}"[:500], now)
    marked = 0
    try:
        key = email_match_key(normalize_email(item.recipient))
    except ContactError:
        key = None
    point = set_contact_status("email", key, "undeliverable", reason[:300], now) if key else None
    if point is not None:
        marked = 1
        cases = db.session.scalars(
            db.select(Case).where(
                Case.customer_id == point.customer_id, Case.status.in_(OPEN_STATUSES)
            )
        ).all()
        for case in cases:
            flag_case(
                case,
                "contact_undeliverable",
                f"Email to {mask_contact(key)} bounced; reach the customer another way.",
                now,
            )
    note = f"; {marked} customer address(es) marked undeliverable" if marked else ""
    record(row, "ignored", kind="bounce", reason=f"{reason} (delivery #{item.id}){note}")
