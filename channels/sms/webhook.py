"""Twilio's webhook form bodies, read into plain values (no Flask, no database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

INBOUND_REQUIRED = ("MessageSid", "From", "To", "Body")
STATUS_REQUIRED = ("MessageSid", "MessageStatus")
# Twilio sends at most 10 media items per MMS; anything beyond is not real.
MAX_MEDIA = 10
# Twilio's forms carry a few dozen fields (plus two per media item); far more is not Twilio.
MAX_FIELDS = 200
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


class BadForm(ValueError):
    """A body that is not one of Twilio's forms (too many fields)."""


def pairs(raw: bytes) -> list[tuple[str, str]]:
    """The one parse of a form body: the signature is checked over exactly these pairs and
    the message is read from them, so what is verified is what is processed."""
    try:
        return parse_qsl(
            raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise BadForm(f"more than {MAX_FIELDS} fields") from None


def repeated(items: list[tuple[str, str]]) -> list[str]:
    """Field names given more than once. Twilio never repeats one, and the signature covers
    the set of values, not their order: which one to read would be the sender's choice."""
    seen: set[str] = set()
    twice = []
    for name, _ in items:
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    return twice


def fields(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Parsed pairs by name: every value of every field, blanks kept."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        found.setdefault(name, []).append(value)
    return found


def form(raw: bytes) -> dict[str, list[str]]:
    """The form body as Twilio signed it."""
    return fields(pairs(raw))


def _first(fields: Mapping[str, list[str]], name: str) -> str:
    """The field's first value, without NUL bytes: a `%00` in a signed form is what the sender
    typed (or a broken gateway), but no database stores it; dropping it after the signature
    check keeps the text and refuses nothing."""
    values = fields.get(name) or [""]
    return values[0].replace("\x00", "")


def _media_count(fields: Mapping[str, list[str]]) -> int:
    try:
        return max(0, min(int(_first(fields, "NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        return 0


def missing(fields: Mapping[str, list[str]], required: tuple[str, ...]) -> list[str]:
    """Required fields that are absent. An empty Body is present (a real, empty SMS); an MMS
    of photos alone may come without any Body field, and that is a real message too."""
    absent = [name for name in required if name not in fields]
    if "Body" in absent and _media_count(fields) > 0:
        absent.remove("Body")
    return absent


def inbound(fields: Mapping[str, list[str]]) -> InboundSms:
    count = _media_count(fields)
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
