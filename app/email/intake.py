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
from app.cases.models import Case, Message
from app.cases.service import customer_replied, flag_case, open_case
from app.customers import access, proof
from app.customers.models import ContactPoint
from app.customers.service import set_contact_status
from app.email import bounces, junk, status
from app.email.models import SenderWindow
from app.extensions import db
from app.inbound.models import InboundMessage
from app.inbound.service import Rejected, receive, record
from app.notify.models import OutboxItem
from channels.contacts import ContactError, email_match_key, mask_contact, normalize_email
from channels.email import ParsedEmail, Unreadable, classify, parse_message, subject_references
from channels.email.parse import MAX_HEADER_BYTES, normalize_newlines, sender_and_subject
from channels.email.status import status_request
from channels.email.trim import Trimmed, trim_reply
from channels.intake import Intake

log = logging.getLogger(__name__)


# --- the doors' shared step --------------------------------------------------------------


# End-to-end headers that say who wrote what to whom and when (transport headers such as
# Received differ between two deliveries of the same message and are left out).
_KEY_HEADERS = (b"message-id", b"from", b"to", b"cc", b"date", b"subject")


def _key_headers(head: bytes) -> dict[bytes, bytes]:
    """The first value of each key header, unfolded, from the raw header block."""
    found: dict[bytes, bytes] = {}
    current = None
    for line in head[:MAX_HEADER_BYTES].split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                found[current] += b" " + line.strip()
            continue
        name, sep, value = line.partition(b":")
        name = name.strip().lower()
        current = name if sep and name in _KEY_HEADERS and name not in found else None
        if current is not None:
            found[current] = value.strip()
    return found


def dedupe_key(raw: bytes, mail_from: str | None = None, rcpt_to: list | None = None) -> str:
    """The same message delivered twice (an SMTP retry, the same mail over IMAP) lands on one
    row; two different messages never do. The key covers the envelope sender and recipients
    (when the door has an envelope), the end-to-end headers (Message-ID, From, To, Cc, Date,
    Subject) and a hash of the body: ignoring transport headers and line endings only."""
    data = normalize_newlines(raw)
    head, _, body = data.partition(b"\n\n")
    headers = _key_headers(head)
    envelope = [
        (mail_from or "").strip().lower().encode("utf-8", "replace"),
        b",".join(sorted(str(r).strip().lower().encode("utf-8", "replace") for r in rcpt_to or [])),
    ]
    parts = [b"v2", *envelope, *(headers.get(name, b"") for name in _KEY_HEADERS)]
    parts.append(hashlib.sha256(body).hexdigest().encode())
    return "sha256:" + hashlib.sha256(b"\x00".join(parts)).hexdigest()


def _summary(raw: bytes) -> str:
    """What the operator list shows: the masked sender and the subject (never the body)."""
    address, subject = sender_and_subject(raw)
    sender = mask_contact(address) if address else "no sender"
    return f"{sender}: {subject or '(no subject)'}"[:200]


def accept(raw: bytes, source: str, meta: dict | None = None) -> tuple[InboundMessage, bool]:
    """Store one raw message (the caller commits, then runs or queues the job)."""
    details = dict(meta or {})
    details.setdefault("summary", _summary(raw))
    key = dedupe_key(raw, details.get("mail_from"), details.get("rcpt_to"))
    return receive("email", source, raw, dedupe_key=key, meta=details)


# --- processing ----------------------------------------------------------------------------


def own_addresses() -> tuple[str, ...]:
    """Addresses that are ours: mail to them is for us, mail from them is a loop."""
    config = current_app.config
    extra = config.get("INTAKE_EMAIL_ALIASES") or ""
    values = [config.get("INTAKE_EMAIL_ADDRESS") or "", *extra.split(",")]
    return tuple(v.strip().lower() for v in values if v.strip())


def authserv_ids() -> tuple[str, ...]:
    """The authserv-ids of our own relay, whose Authentication-Results we believe."""
    value = current_app.config.get("EMAIL_AUTHSERV_IDS") or ""
    return tuple(v.strip().lower() for v in value.split(",") if v.strip())


def process(row: InboundMessage, now: datetime) -> None:
    """The processor: bounce, automatic reply, spam, flood, a STATUS request, reply on a case,
    or a new case."""
    config = current_app.config
    try:
        mail = parse_message(
            row.raw,
            max_message_bytes=config.get("EMAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024),
            max_attachment_bytes=config.get("EMAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
            trusted_authserv_ids=authserv_ids(),
        )
    except Unreadable as exc:
        raise Rejected(f"unreadable email: {exc}") from None
    kind = classify(mail, own_addresses=own_addresses())
    if bounces.handle(row, mail, kind, bounces.addressed_delivery(row, mail), now):
        return
    if not kind.is_message:
        record(row, "ignored", kind=kind.kind, reason=kind.reason)
        return
    if (mail.from_address or "").lower() in own_addresses():
        record(row, "ignored", kind="loop", reason="sent from our own address (a mail loop)")
        return
    spam = junk.spam_reason(row)
    if spam:
        record(row, "ignored", kind="spam", reason=spam)
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
    if not mail.dmarc_failed:  # a forged From must not revive a dead address
        _revive(email_match_key(sender), now)
    cited = _thread(mail)
    trimmed = trim_reply(mail.text) if mail.text.strip() else None
    asked = status_request(mail.subject, trimmed.text if trimmed else "")
    if asked is not None and mail.dmarc_failed:
        record(row, "ignored", kind="status", reason=f"STATUS request not answered: {_UNVERIFIED}")
        return
    if asked is not None:
        status.answer(row, sender, asked, cited, now)
        return
    if cited is not None and _may_thread(mail, cited, sender):
        _threaded(row, mail, cited, now, trimmed)
        return
    if cited is not None:
        proof.refused(cited, "email", "thread", sender, now)
    _new_case(row, mail, sender, now, related=cited)


_UNVERIFIED = "the message failed DMARC at our relay, so its From address proves nothing"


def _may_thread(mail: ParsedEmail, case: Case, sender: str) -> bool:
    """A message joins a case only from an address that may act on it (on the case, or
    proven for its customer) and never when the relay's Authentication-Results says the
    From failed DMARC (`ParsedEmail.dmarc_failed`, from the email channel's parser)."""
    if getattr(mail, "dmarc_failed", False):
        return False
    return access.may_act(case, "email", email_match_key(sender))


def _sender(mail: ParsedEmail) -> str:
    if not mail.from_address:
        why = f" ({mail.from_problem})" if mail.from_problem else ""
        raise Rejected(f"no sender address (From) to answer{why}")
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
    reasons = []
    if mail.dmarc_failed:
        flag_case(
            case,
            "sender_unverified",
            f"This email failed DMARC at our relay: {_UNVERIFIED}. Confirm who wrote it before "
            "sharing anything about the customer's cases.",
            now,
        )
        reasons.append("failed DMARC: opened on its own and flagged")
    if related is not None:
        case.related_case = related
        flag_case(
            case,
            "review_link",
            f"This message cites {related.reference} but came from an address that is not on "
            "that case; opened separately for a caseworker to review.",
            now,
        )
        reasons.append(f"cites {related.reference} from a different sender: linked for review")
    reason = "; ".join(reasons) or None
    record(row, "case_opened", kind="new_case", reason=reason, case=case, message=first)
