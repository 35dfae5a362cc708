"""Twilio's webhook form bodies, read into plain values (no Flask, no database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

INBOUND_REQUIRED = ("MessageSid", "From", "To", "Body")
STATUS_REQUIRED = ("MessageSid", "MessageStatus")
# Twilio sends at most 10 media items per MMS; anything beyond is not real.
MAX_MEDIA = 10
# Status words Twilio posts, and the outbox state each means (None: nothing to record).
STATUS_STATES: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": None,
    "receiving": None,
    "received": None,
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class InboundSms:
    sid: str
    sender: str  # From, as Twilio sent it (E.164, or "whatsapp:+..." on other channels)
    to: str
    body: str
    media: tuple[Media, ...] = ()

    @property
    def other_channel(self) -> str | None:
        """The channel prefix ("whatsapp") when this came from a channel that is not SMS."""
        prefix, sep, _ = self.sender.partition(":")
        return prefix.lower() if sep else None


@dataclass(frozen=True)
class StatusReport:
    sid: str
    status: str
    error_code: str | None


def form(raw: bytes) -> dict[str, list[str]]:
    """The form body as Twilio signed it: every value of every field, blanks kept."""
    return parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)


def _first(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def missing(fields: Mapping[str, list[str]], required: tuple[str, ...]) -> list[str]:
    """Required fields that are absent (an empty Body is present: it is a real SMS)."""
    return [name for name in required if name not in fields]


def inbound(fields: Mapping[str, list[str]]) -> InboundSms:
    try:
        count = min(int(_first(fields, "NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    media = tuple(
        Media(_first(fields, f"MediaUrl{i}"), _first(fields, f"MediaContentType{i}"))
        for i in range(count)
        if _first(fields, f"MediaUrl{i}")
    )
    return InboundSms(
        sid=_first(fields, "MessageSid").strip(),
        sender=_first(fields, "From").strip(),
        to=_first(fields, "To").strip(),
        body=_first(fields, "Body"),
        media=media,
    )


def status(fields: Mapping[str, list[str]]) -> StatusReport:
    return StatusReport(
        sid=_first(fields, "MessageSid").strip(),
        status=_first(fields, "MessageStatus").strip().lower(),
        error_code=_first(fields, "ErrorCode").strip() or None,
    )
