"""SMS facts the webhooks and the processor share: our numbers, opt-out and opt-in,
delivery status from Twilio, and the configured sender."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from app.cases.models import Case
from app.cases.service import clear_flag, flag_case
from app.customers import access
from app.customers.models import ContactPoint, Customer
from app.customers.service import customer_by_contact, match_customer, set_contact_status
from app.extensions import db
from app.notify.delivery import provider_failed
from app.notify.models import OutboxItem
from channels.contacts import ContactError, mask_contact, normalize_phone
from channels.intake import Intake
from channels.sms.sender import TwilioSender, describe_error
from channels.sms.webhook import STATUS_STATES, StatusReport

log = logging.getLogger(__name__)

OPTED_OUT_FLAG = "sms_opted_out"
UNDELIVERABLE_FLAG = "contact_undeliverable"
# Twilio error codes that say the number itself will never take our texts.
OPT_OUT_CODES = frozenset({"21610"})
DEAD_NUMBER_CODES = frozenset({"21211", "21614", "30005", "30006"})


def our_numbers() -> set[str]:
    """The numbers complaints may be texted to: TWILIO_FROM_NUMBER plus SMS_NUMBERS
    (comma-separated). Empty when none is configured: then every number is ours."""
    config = current_app.config
    raw = [config.get("TWILIO_FROM_NUMBER") or ""]
    raw += (config.get("SMS_NUMBERS") or "").split(",")
    numbers = set()
    for value in raw:
        if value.strip():
            try:
                numbers.add(normalize_phone(value))
            except ContactError:
                numbers.add(value.strip())  # a short code such as 384387
    return numbers


def is_our_number(to: str) -> bool:
    numbers = our_numbers()
    if not numbers:
        return True
    try:
        return normalize_phone(to) in numbers
    except ContactError:
        return to.strip() in numbers


def customer_by_phone(phone: str) -> Customer | None:
    return customer_by_contact("phone", phone)


def phone_status(phone: str) -> str:
    status = db.session.scalar(
        db.select(ContactPoint.status).where(
            ContactPoint.kind == "phone", ContactPoint.value == phone
        )
    )
    return status or "ok"


def open_cases(phone: str) -> list[Case]:
    """The open cases this number may act on (app.customers.access), newest first."""
    return access.cases_of_contact("phone", phone, open_only=True)


def opt_out(phone: str, reason: str, now: datetime) -> int:
    """No text is ever sent to this number again (until START): the contact point is marked
    opted out, so delivery refuses it and notifications fall back to another channel, and
    every open case of the customer is flagged. Returns how many cases were flagged."""
    if customer_by_phone(phone) is None:
        # Remember the refusal even for a number we have not met, in case it comes to us
        # later from a web form.
        match_customer(Intake(channel="sms", description="", phone=phone))
        db.session.flush()
    set_contact_status("phone", phone, "opted_out", reason, now)
    detail = (
        f"No more texts will be sent to {mask_contact(phone)} ({reason}); updates go by "
        "another channel when the customer has one."
    )
    return sum(flag_case(case, OPTED_OUT_FLAG, detail, now) for case in open_cases(phone))


def opt_in(phone: str, now: datetime) -> None:
    if customer_by_phone(phone) is None:
        return
    set_contact_status("phone", phone, "ok", None, now)
    for case in open_cases(phone):
        clear_flag(case, OPTED_OUT_FLAG, None, now)


def delivery_status(report: StatusReport, now: datetime) -> str:
    """Record a Twilio status callback on the outbox row it is about; the case's message
    delivery list shows it. Returns what was done, for the log."""
    state = STATUS_STATES.get(report.status)
    item = db.session.scalar(
        db.select(OutboxItem).where(
            OutboxItem.provider_ref == report.sid, OutboxItem.channel == "sms"
        )
    )
    if item is None:
        return "unknown message"
    if state is None or item.state in ("delivered", "failed"):
        return "no change"  # interim status, or a late duplicate of a final one
    if state == "delivered":
        item.state = "delivered"
        item.last_error = None
        return "delivered"
    error = describe_error(report.error_code)
    provider_failed(item, f"{report.status}: {error}", now)
    code = report.error_code or ""
    if code in OPT_OUT_CODES:
        opt_out(item.recipient, f"carrier reported STOP ({error})", now)
    elif code in DEAD_NUMBER_CODES:
        set_contact_status("phone", item.recipient, "undeliverable", error, now)
        if item.case is not None:
            flag_case(item.case, UNDELIVERABLE_FLAG, f"Texts to the customer fail: {error}.", now)
    return "failed"


def configured_sender() -> TwilioSender | None:
    """The Twilio sender when the account, token and number are configured, else None (SMS
    is then recorded on the case instead of sent, as the contract says)."""
    config = current_app.config
    sid = config.get("TWILIO_ACCOUNT_SID")
    token = config.get("TWILIO_AUTH_TOKEN")
    number = config.get("TWILIO_FROM_NUMBER")
    if not (sid and token and number):
        return None
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return TwilioSender(
        sid,
        token,
        number,
        status_callback=f"{base}/webhooks/twilio/status",
        api_base=config.get("TWILIO_API_BASE"),
    )
