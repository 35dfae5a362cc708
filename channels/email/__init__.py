"""The email channel's pure part: parse raw RFC 5322 mail, classify it (a person, an automatic
reply, a bounce), trim quoted history, find the case reference in a subject."""

from __future__ import annotations

import re

from channels.email.classify import Classification, classify
from channels.email.parse import ParsedEmail, Part, Unreadable, parse_message
from channels.email.trim import Trimmed, trim_reply
from channels.reference import find_references

__all__ = [
    "Classification",
    "ParsedEmail",
    "Part",
    "Trimmed",
    "Unreadable",
    "classify",
    "parse_message",
    "subject_references",
    "trim_reply",
]

_BRACKETED = re.compile(r"\[\s*(RX[\s-]*[0-9A-Z]{4}[\s-]*[0-9A-Z]{4})\s*\]", re.IGNORECASE)


def subject_references(subject: str) -> list[str]:
    """Valid case references cited in a subject: `[RX-XXXX-XXXX]` tokens first, then bare
    ones. A token whose check character does not match (a mistyped reference) is ignored."""
    found = find_references(" ".join(_BRACKETED.findall(subject or "")))
    for ref in find_references(subject or ""):
        if ref not in found:
            found.append(ref)
    return found
