"""The inbound-store processor for scanned letters: text, contacts, the case, the review flag."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app

from app.cases import attachments
from app.cases.service import add_event, flag_case, open_case
from app.common.time import parse_iso
from app.inbound.models import InboundMessage
from app.inbound.service import Rejected, record
from channels.intake import Intake
from channels.mail_scans.extract import ScanError
from channels.mail_scans.letter_text import find_contacts, zip_of
from channels.mail_scans.sandbox import Limits, read_in_child

# Below these a person reads the letter before it is routed (rather than misrouting it).
MIN_CONFIDENCE = 65.0
MIN_CHARACTERS = 40
NO_TEXT = "(No text could be read from this scan. The scan is attached.)"


def received_time(meta: dict) -> tuple[datetime, str]:
    """When the agency received the letter, and how we know: the manifest's date (the
    start of that day in the mailroom's time zone; the business calendar moves it to the
    next opening), else the scan file's time."""
    zone = ZoneInfo(current_app.config.get("MAILROOM_TIME_ZONE", "America/New_York"))
    if meta.get("received"):
        day = datetime.fromisoformat(meta["received"]).date()
        return datetime.combine(day, time(0, 0), zone), "manifest"
    if meta.get("file_time"):
        return parse_iso(meta["file_time"]), "file_time"
    return None, "scan_time"


def read_limits() -> Limits:
    config = current_app.config
    return Limits(
        max_pixels=config["SCAN_MAX_PIXELS"],
        memory_mb=config["SCAN_MEMORY_MB"],
        timeout_seconds=config["SCAN_TIMEOUT_SECONDS"],
    )


def review_reason(scan) -> str | None:
    if scan.problems:  # pages left unread, and why: never "0 characters"
        return " ".join(scan.problems)
    if scan.ocr_missing:
        return "OCR is not installed on this server, so nobody has read this scan yet."
    text = scan.text.strip()
    if len(text) < MIN_CHARACTERS:
        return f"Only {len(text)} characters could be read from the scan."
    if scan.confidence is not None and scan.confidence < MIN_CONFIDENCE:
        return f"OCR confidence is {scan.confidence:.0f} %, below {MIN_CONFIDENCE:.0f} %."
    return None


def process(row: InboundMessage, now: datetime) -> None:
    meta = dict(row.meta or {})
    try:
        scan = read_in_child(row.raw, read_limits())  # a bad file fails here, alone
    except ScanError as exc:
        raise Rejected(str(exc)) from None
    text = scan.text.strip()
    needs_review = review_reason(scan)
    found = find_contacts(text, region=current_app.config.get("DEFAULT_PHONE_REGION", "US"))
    address = meta.get("return_address") or (found.addresses[0] if found.addresses else None)
    received_at, received_from = received_time(meta)
    intake = Intake(
        channel="mail",
        # A scan nobody could read is routed on nothing (to the front door), not on noise.
        description=NO_TEXT if needs_review else text,
        name=meta.get("name") or found.name,
        address=address,
        zip=zip_of(address),
        preferred_contact="mail" if address else None,
        language=meta.get("language") or "en",
        received_at=received_at or now,
    )
    case, _ = open_case(
        intake,
        now=now,
        commit=False,
        message_meta={
            "file": meta.get("filename"),
            "batch": meta.get("batch"),
            "pages": [
                {"page": p.number, "method": p.method, "confidence": p.confidence}
                for p in scan.pages
            ],
            "ocr_confidence": scan.confidence,
            "contact_suggestions": found.as_dict(),
        },
    )
    message = case.messages[0]
    if needs_review and text:
        case.description = message.body = text  # keep what was read, for the reviewer
    attachments.store(
        case,
        row.raw,
        meta.get("filename") or f"scan.{scan.kind}",
        _CONTENT_TYPES[scan.kind],
        message=message,
        disposition="scan",
    )
    words = {
        "manifest": "Received date from the mailroom's batch manifest.",
        "file_time": "No manifest: the received date is the scan file's time.",
        "scan_time": "No manifest or file time: the received date is when it was processed.",
    }
    add_event(
        case,
        "received_by_mail",
        now,
        after={"received_from": received_from, "batch": meta.get("batch")},
        detail=words[received_from],
    )
    if needs_review:
        flag_case(case, "scan_review", needs_review, now)
    record(
        row,
        "case_opened",
        kind="letter_review" if needs_review else "letter",
        reason=needs_review,
        case=case,
        message=message,
    )


_CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "tiff": "image/tiff",
    "jpeg": "image/jpeg",
}
