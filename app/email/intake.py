"""Turn one stored raw email into a new case, a reply on a case, or a recorded ignore.

This is the inbound store's processor for the email channel (`app.inbound.service.PROCESSORS`):
it runs inside the store's savepoint, so it never commits, and it says what became of the
message with `record` or raises `Rejected` with a reason an operator can act on.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.cases import attachments
from app.cases.models import OPEN_STATUSES, Case, Message
from app.cases.service import customer_replied, flag_case, open_case
from app.customers import access, proof
from app.customers.models import ContactPoint
from app.customers.service import set_contact_status
from app.email import status
from app.email.models import SenderWindow
from app.extensions import db
from app.inbound.models import InboundMessage
from app.inbound.service import Rejected, receive, record
from app.notify.models import OutboxItem
from channels.contacts import ContactError, email_match_key, mask_contact, normalize_email
from channels.email import ParsedEmail, Unreadable, classify, parse_message, subject_references
from channels.email.parse import normalize_newlines, sender_and_subject
from channels.email.status import status_request
from channels.email.trim import Trimmed, trim_reply
from channels.intake import Intake

log = logging.getLogger(__name__)


# --- the doors' shared step --------------------------------------------------------------


def dedupe_key(raw: bytes) -> str:
    """The same message delivered twice (an SMTP retry, the same mail over IMAP) lands on
    one row: its Message-ID and body, ignoring transport headers and line endings."""
    data = normalize_newlines(raw)
    head, _, body = data.partition(b"\n\n")
    message_id = b""
    for line in head.split(b"\n"):
        if line[:11].lower() == b"message-id:":
            message_id = line[11:].strip()
            break
    return "sha256:" + hashlib.sha256(message_id + b"\n" + body).hexdigest()


def _summary(raw: bytes) -> str:
    """What the operator list shows: the masked sender and the subject (never the body)."""
    address, subject = sender_and_subject(raw)
    sender = mask_contact(address) if address else "no sender"
    return f"{sender}: {subject or '(no subject)'}"[:200]


def accept(raw: bytes, source: str, meta: dict | None = None) -> tuple[InboundMessage, bool]:
    """Store one raw message (the caller commits, then runs or queues the job)."""
    details = dict(meta or {})
    details.setdefault("summary", _summary(raw))
    return receive("email", source, raw, dedupe_key=dedupe_key(raw), meta=details)


# --- processing ----------------------------------------------------------------------------


def own_addresses() -> tuple[str, ...]:
    """Addresses that are ours: mail to them is for us, mail from them is a loop."""
    config = current_app.config
    extra = config.get("INTAKE_EMAIL_ALIASES") or ""
    values = [config.get("INTAKE_EMAIL_ADDRESS") or "", *extra.split(",")]
    return tuple(v.strip().lower() for v in values if v.strip())


def process(row: InboundMessage, now: datetime) -> None:
    """The processor: bounce, automatic reply, flood, a STATUS request, reply on a case, or
    a new case."""
    config = current_app.config
    try:
        mail = parse_message(
            row.raw,
            max_message_bytes=config.get("EMAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024),
            max_attachment_bytes=config.get("EMAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        )
    except Unreadable as exc:
        raise Rejected(f"unreadable email: {exc}") from None
    kind = classify(mail, own_addresses=own_addresses())
    if kind.kind == "bounce":
        _bounced(row, kind.failed_recipients, kind.reason, now)
        return
    if not kind.is_message:
        record(row, "ignored", kind=kind.kind, reason=kind.reason)
        return
    if (mail.from_address or "").lower() in own_addresses():
        record(row, "ignored", kind="loop", reason="sent from our own address (a mail loop)")
        return
    sender = _sender(mail)
    limit = int(config.get("EMAIL_SENDER_LIMIT", 20))
    count = _count_sender(email_match_key(sender), now)
    if count > limit:
        record(
            row,
            "ignored",
            kind="rate_limited",
            reason=f"more than {limit} messages from this sender this hour; kept, not acted on",
        )
        return
    _revive(email_match_key(sender), now)
    cited = _thread(mail)
    trimmed = trim_reply(mail.text) if mail.text.strip() else None
    asked = status_request(mail.subject, trimmed.text if trimmed else "")
    if asked is not None:
        status.answer(row, sender, asked, cited, now)
        return
    if cited is not None and _may_thread(mail, cited, sender):
        _threaded(row, mail, cited, now, trimmed)
        return
    if cited is not None:
        proof.refused(cited, "email", "thread", sender, now)
    _new_case(row, mail, sender, now, related=cited)


def _may_thread(mail: ParsedEmail, case: Case, sender: str) -> bool:
    """A message joins a case only from an address that may act on it (on the case, or
    proven for its customer) and never when the relay's Authentication-Results says the
    From failed DMARC (`ParsedEmail.dmarc_failed`, from the email channel's parser)."""
    if getattr(mail, "dmarc_failed", False):
        return False
    return access.may_act(case, "email", email_match_key(sender))


def _sender(mail: ParsedEmail) -> str:
    if not mail.from_address:
        raise Rejected("no sender address (From) to answer")
    try:
        return normalize_email(mail.from_address)
    except ContactError as exc:
        raise Rejected(f"the sender address is not usable: {exc}") from None


def _revive(address: str, now: datetime) -> None:
    """An address that bounced before but just wrote to us works again (an opt-out stays)."""
    status = db.session.scalar(
        db.select(ContactPoint.status).where(
            ContactPoint.kind == "email", ContactPoint.value == address
        )
    )
    if status == "undeliverable":
        set_contact_status("email", address, "ok", "the customer wrote from this address", now)


def _count_sender(sender: str, now: datetime) -> int:
    """Count this message against the sender's hourly window; returns the new count."""
    window = now.replace(minute=0, second=0, microsecond=0)
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(SenderWindow)
        .values(sender=sender[:320], window_start=window, count=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=["sender", "window_start"],
            set_={"count": SenderWindow.count + 1, "updated_at": now},
        )
        .returning(SenderWindow.count)
    )
    return int(db.session.execute(stmt).scalar_one())


def _thread(mail: ParsedEmail) -> Case | None:
    """The case this message answers: by our Message-IDs it replies to, then by the
    reference in the subject (checked against the sender by the caller)."""
    ids = [i[:200] for i in mail.thread_ids]
    case = None
    if ids:
        case_id = db.session.scalar(
            db.select(OutboxItem.case_id)
            .where(OutboxItem.provider_ref.in_(ids), OutboxItem.case_id.is_not(None))
            .order_by(OutboxItem.id.desc())
            .limit(1)
        )
        if case_id is None:
            case_id = db.session.scalar(
                db.select(Message.case_id)
                .where(Message.external_id.in_(ids))
                .order_by(Message.id.desc())
                .limit(1)
            )
        case = db.session.get(Case, case_id) if case_id else None
    if case is None:
        for reference in subject_references(mail.subject):
            case = db.session.scalar(db.select(Case).where(Case.reference == reference))
            if case is not None:
                break
    seen = set()
    while case is not None and case.merged_into_id and case.id not in seen:
        seen.add(case.id)
        case = case.merged_into
    return case


def _meta(mail: ParsedEmail, **extra) -> dict:
    meta = {
        "subject": mail.subject,
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to[:5],
        "references": mail.references[-10:],
        "from_html": mail.html,
    }
    if mail.notes:
        meta["notes"] = mail.notes
    meta.update(extra)
    return meta


def _store_files(case: Case, message: Message, mail: ParsedEmail) -> None:
    for part in mail.attachments:
        attachments.store(
            case, part.data, part.filename, part.content_type, message=message,
            disposition=part.disposition,
        )  # fmt: skip


def _threaded(
    row: InboundMessage, mail: ParsedEmail, case: Case, now: datetime, trimmed: Trimmed | None
) -> None:
    body = trimmed.text if trimmed else (mail.subject or "(no text; see the attachments)")
    message = customer_replied(
        case,
        body,
        "email",
        now,
        external_id=(mail.message_id or "")[:300] or None,
        meta=_meta(
            mail,
            quoted_trimmed=bool(trimmed and trimmed.quoted),
            signature_trimmed=bool(trimmed and trimmed.signature),
        ),
    )
    db.session.flush()
    _store_files(case, message, mail)
    record(row, "threaded", kind="reply", case=case, message=message)


def _new_case(
    row: InboundMessage, mail: ParsedEmail, sender: str, now: datetime, related: Case | None
) -> None:
    text = mail.text.strip()
    if not text and not mail.subject.strip() and not mail.attachments:
        raise Rejected("empty message: no subject, no text and no attachment")
    description = text or mail.subject.strip() or "(no text; see the attachments)"
    language = "es" if (mail.language or "").startswith("es") else "en"
    intake = Intake(
        channel="email",
        description=description,
        subject=mail.subject.strip() or None,
        name=mail.from_name,
        email=sender,
        language=language,
        received_at=row.received_at,
    )
    case, _ = open_case(
        intake,
        now=now,
        commit=False,
        external_id=(mail.message_id or "")[:300] or None,
        message_meta=_meta(mail),
    )
    first = case.messages[0]
    _store_files(case, first, mail)
    reason = None
    if related is not None:
        case.related_case = related
        flag_case(
            case,
            "review_link",
            f"This message cites {related.reference} but came from an address that is not on "
            "that case; opened separately for a caseworker to review.",
            now,
        )
        reason = f"cites {related.reference} from a different sender: linked for review"
    record(row, "case_opened", kind="new_case", reason=reason, case=case, message=first)


def _bounced(row: InboundMessage, recipients: list[str], reason: str, now: datetime) -> None:
    """A dead address: mark it undeliverable and flag the customer's open cases, so a
    caseworker reaches them another way."""
    marked = 0
    for address in recipients:
        try:
            key = email_match_key(normalize_email(address))
        except ContactError:
            continue
        point = set_contact_status("email", key, "undeliverable", reason[:300], now)
        if point is None:
            continue
        marked += 1
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
    record(row, "ignored", kind="bounce", reason=(reason + note))
