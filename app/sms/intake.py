"""The inbound SMS processor: a stored Twilio form becomes a case, a message on a case,
or a keyword answered; the reply text is kept on the inbound row for the TwiML answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.cases import presenters
from app.cases.models import OPEN_STATUSES, Case, Event, Message
from app.cases.service import add_event, customer_replied, flag_case, open_case
from app.customers import access, proof
from app.customers.models import Customer
from app.extensions import db
from app.inbound.models import InboundMessage
from app.inbound.service import record
from app.sla import service as sla
from app.sms import media as mms
from app.sms import service
from app.sms.models import SmsConversation
from channels import keywords
from channels.contacts import ContactError, mask_contact, normalize_phone
from channels.intake import Intake
from channels.sms import replies, webhook
from channels.sms.conversation import CaseFacts, Conversation, Decision, decide

log = logging.getLogger(__name__)

# Texts per number per window before we ask the sender to slow down.
DEFAULT_RATE_LIMIT = 10
DEFAULT_RATE_WINDOW = 600  # seconds
# How many of a number's cases the conversation considers (most recent first).
CASES_CONSIDERED = 20
# Keywords a carrier requires us to honour whatever else is going on.
ALWAYS_HONOURED = ("stop", "start", "help")

_answering: ContextVar[bool] = ContextVar("sms_answering", default=False)


@contextmanager
def answering() -> Iterator[None]:
    """While the webhook waits: replies go back in the TwiML answer. Without it (a retry on
    a worker, long after Twilio's request) a new case is acknowledged through the outbox."""
    token = _answering.set(True)
    try:
        yield
    finally:
        _answering.reset(token)


def process(row: InboundMessage, now: datetime) -> None:
    """Processor for channel "sms" (see app.inbound.service.PROCESSORS). Never commits."""
    sms = webhook.inbound(webhook.form(row.raw))
    if sms.other_channel:
        record(
            row,
            "ignored",
            kind="other_channel",
            reason=f"a {sms.other_channel} message; this number takes SMS only",
        )
        return
    if not service.is_our_number(sms.to):
        log.warning("SMS to a number that is not ours; ignored", extra={"channel": "sms"})
        record(
            row,
            "ignored",
            kind="unknown_to",
            reason=f"sent to {sms.to[:30]!r}, which is not one of our numbers",
        )
        return
    try:
        phone = normalize_phone(sms.sender)
    except ContactError as exc:
        sender = mask_contact(sms.sender[:30])
        record(row, "ignored", kind="bad_sender", reason=f"sender {sender}: {exc}")
        return
    customer = service.customer_by_phone(phone)
    conversation = _conversation(phone, customer)
    keyword = keywords.parse(sms.body)
    limited = _count_and_check(conversation, now)
    if limited and not (keyword and keyword.meaning in ALWAYS_HONOURED):
        _rate_limited(row, conversation, phone, now)
        return
    cases = _cases(phone)
    facts = Conversation(
        cases=tuple(_facts(case) for case in cases),
        current=conversation.current_case.reference if conversation.current_case else None,
        start_new=conversation.start_new,
        language=conversation.language,
    )
    decision = decide(sms.body, facts, has_media=bool(sms.media))
    if decision.keyword:
        conversation.language = decision.language
    by_reference = {case.reference: case for case in cases}
    target = by_reference.get(decision.case) if decision.case else None
    # After STOP (until START) nothing is texted back, not even through TwiML; HELP and the
    # STOP and START confirmations are the exceptions carriers expect.
    opted_out = service.phone_status(phone) == "opted_out"
    turn = _Turn(row, sms, phone, conversation, decision, target, now, _answering.get())
    if opted_out:
        turn = replace(turn, answering=False)
    reply = _HANDLERS[decision.action](turn)
    if opted_out and decision.action not in ("start", "help", "stop"):
        reply = None
    row.reply = reply


def _conversation(phone: str, customer: Customer | None) -> SmsConversation:
    """The number's state; a first text is answered in the language we know the person by
    (a Spanish web complaint, say), until a keyword says otherwise."""
    conversation = db.session.scalar(
        db.select(SmsConversation).where(SmsConversation.phone == phone)
    )
    if conversation is None:
        language = customer.language if customer and customer.language in ("en", "es") else "en"
        try:
            with db.session.begin_nested():  # two first texts at once: one row wins
                conversation = SmsConversation(phone=phone, language=language, window_count=0)
                db.session.add(conversation)
        except IntegrityError:
            conversation = db.session.scalar(
                db.select(SmsConversation).where(SmsConversation.phone == phone)
            )
    return conversation


def _count_and_check(conversation: SmsConversation, now: datetime) -> bool:
    """Count this text in the number's window; True when it is over the limit."""
    config = current_app.config
    limit = int(config.get("SMS_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    window = timedelta(seconds=int(config.get("SMS_RATE_WINDOW") or DEFAULT_RATE_WINDOW))
    start = conversation.window_started_at
    if start is None or now - start >= window or now < start:
        conversation.window_started_at = now
        conversation.window_count = 0
        conversation.limited_at = None
    conversation.window_count = (conversation.window_count or 0) + 1
    return conversation.window_count > limit


def _rate_limited(
    row: InboundMessage, conversation: SmsConversation, phone: str, now: datetime
) -> None:
    """Kept in the inbound store with the reason, the case flagged, one polite reply."""
    config = current_app.config
    limit = int(config.get("SMS_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    minutes = int(config.get("SMS_RATE_WINDOW") or DEFAULT_RATE_WINDOW) // 60
    case = conversation.current_case
    if case is None or case.status not in OPEN_STATUSES:
        case = next(iter(service.open_cases(phone)), None)
    reason = (
        f"rate limited: more than {limit} texts in {minutes} minutes from this number; "
        "kept here, not added to a case"
    )
    if case is not None:
        flag_case(case, "sms_rate_limited", f"Texts from {mask_contact(phone)}: {reason}.", now)
    record(row, "ignored", kind="rate_limited", reason=reason, case=case)
    if conversation.limited_at is None and service.phone_status(phone) != "opted_out":
        conversation.limited_at = now
        row.reply = replies.simple("limited", conversation.language or "en")
    else:
        row.reply = None


def _cases(phone: str) -> list[Case]:
    """The cases this number may act on (on the case, or proven for its customer), newest
    first: the only ones a CASE or STATUS can name and a text can be added to."""
    return access.cases_of_contact("phone", phone, limit=CASES_CONSIDERED)


def _promise(case: Case, language: str) -> str | None:
    """The next thing we promised, in plain words (the first running clock after the
    acknowledgment, which an SMS case has had by the time anyone asks)."""
    sentences = presenters.promise_sentences(case, language, skip=("acknowledge",))
    return sentences[0] if sentences else None


def _facts(case: Case) -> CaseFacts:
    is_open = case.status in OPEN_STATUSES
    return CaseFacts(
        reference=case.reference,
        status=case.status,
        agency=case.agency.code,
        is_open=is_open,
        promise={lang: _promise(case, lang) for lang in ("en", "es")} if is_open else {},
    )


def _meta(sms: webhook.InboundSms) -> dict:
    return {"to": sms.to, "media": len(sms.media)}


def _body(sms: webhook.InboundSms, language: str) -> str:
    return sms.body.strip() or replies.text("photo_only", language)


def _attach(case: Case, message: Message, sms: webhook.InboundSms, now: datetime) -> None:
    if not sms.media:
        return
    skipped = mms.store_all(case, message, sms.media)
    if skipped:
        message.meta = {**(message.meta or {}), "media_skipped": skipped}
        reasons = "; ".join(f"item {s['index'] + 1}: {s['reason']}" for s in skipped)
        flag_case(case, "sms_media_missing", f"Photos sent by MMS were not kept ({reasons}).", now)


def _reply_on_case(case: Case, text: str, now: datetime) -> Message:
    """The TwiML reply, kept on the case as an outbound message like any other."""
    message = Message(
        direction="outbound", channel="sms", body=text, created_at=now, meta={"via": "twiml"}
    )
    case.messages.append(message)
    return message


@dataclass(frozen=True)
class _Turn:
    """One text being acted on: what came in, what we decided, where it lands."""

    row: InboundMessage
    sms: webhook.InboundSms
    phone: str
    conversation: SmsConversation
    decision: Decision
    target: Case | None  # the number's case the decision names, if any
    now: datetime
    # Whether a reply goes back in the TwiML answer: inside Twilio's request, and the
    # number has not said STOP.
    answering: bool


def _open(turn: _Turn) -> str | None:
    """A new case. The TwiML reply is its acknowledgment; without one (opted out, or a retry
    long after Twilio's request) the outbox acknowledges on another channel or not at all."""
    lang, sms, now = turn.decision.language, turn.sms, turn.now
    case, _ = open_case(
        Intake(
            channel="sms",
            description=_body(sms, lang),
            phone=turn.phone,
            language=lang,
            received_at=turn.row.received_at,
        ),
        now=now,
        commit=False,
        acknowledge=not turn.answering,
        external_id=sms.sid,
        message_meta=_meta(sms),
    )
    message = case.messages[0]
    _attach(case, message, sms, now)
    turn.conversation.current_case = case
    turn.conversation.start_new = False
    record(turn.row, "case_opened", kind="new_case", case=case, message=message)
    if not turn.answering:
        return None
    text = replies.case_opened(
        case.reference, case.agency.code, _promise(case, lang), presenters.tracking_url(case), lang
    )
    _reply_on_case(case, text, now)
    if sla.meet(case, ("acknowledge",), now):
        case.events.append(
            Event(
                kind="acknowledged",
                actor_type="system",
                at=now,
                after={"channel": "sms", "state": "twiml reply"},
            )
        )
    return text


def _add(turn: _Turn) -> str | None:
    case, sms = turn.target, turn.sms
    body = _body(sms, turn.decision.language)
    message = customer_replied(case, body, "sms", turn.now, external_id=sms.sid, meta=_meta(sms))
    _attach(case, message, sms, turn.now)
    record(turn.row, "threaded", kind="reply", case=case, message=message)
    if turn.answering:
        _reply_on_case(case, turn.decision.reply, turn.now)
    return turn.decision.reply


def _answered(turn: _Turn, reason: str, kind: str = "keyword") -> str | None:
    """A keyword (or an empty text): answered, nothing added to a case."""
    record(turn.row, "ignored", kind=kind, reason=reason, case=turn.target)
    return turn.decision.reply


def _status(turn: _Turn) -> str | None:
    """STATUS: answered in the reply; the case shows the customer was told."""
    if turn.target is not None and turn.answering:
        add_event(turn.target, "status_sent", turn.now, after={"channel": "sms"})
    return _answered(turn, f"STATUS of {turn.decision.case} answered")


def _not_found(turn: _Turn) -> str | None:
    """CASE or STATUS naming a case this number may not act on answers exactly as for a
    reference that does not exist; the case records the attempt."""
    named = turn.decision.case
    if named and turn.target is None:
        case = proof.find_case(named)
        if case is not None and not access.may_act(case, "phone", turn.phone):
            proof.refused(case, "sms", turn.decision.keyword or "text", turn.phone, turn.now)
    return _answered(turn, f"CASE/STATUS: no such open case for this number ({named})")


def _switch(turn: _Turn) -> str | None:
    turn.conversation.current_case = turn.target
    turn.conversation.start_new = False
    return _answered(turn, f"CASE: later texts go to {turn.decision.case}")


def _start_new(turn: _Turn) -> str | None:
    turn.conversation.start_new = True
    return _answered(turn, "NEW: the next text opens a new case")


def _stop(turn: _Turn) -> str | None:
    flagged = service.opt_out(turn.phone, "texted STOP", turn.now)
    return _answered(turn, f"STOP: opted out; {flagged} open case(s) flagged")


def _start(turn: _Turn) -> str | None:
    service.opt_in(turn.phone, turn.now)
    return _answered(turn, "START: opted back in")


_HANDLERS = {
    "open_case": _open,
    "add_to_case": _add,
    "switch": _switch,
    "start_new": _start_new,
    "status": lambda turn: _status(turn),
    "help": lambda turn: _answered(turn, "HELP answered"),
    "not_found": lambda turn: _not_found(turn),
    "stop": _stop,
    "start": _start,
    "empty": lambda turn: _answered(
        turn, "an empty text with no media: nothing to act on", kind="empty"
    ),
}
