"""How many SMS segments a text costs: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67).

Carriers bill and deliver per segment, and long concatenated texts arrive out of order or
not at all on some phones, so every automatic reply is kept within a small budget.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The GSM 03.38 default alphabet (one septet each) and its extension table (two septets:
# an escape and the character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
REPLY_SEGMENTS = 2

# Look-alikes that would force a whole reply into UCS-2 for one character.
_PLAIN = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
}


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" | "UCS-2"
    count: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _pack(units: Sequence[int], single: int, part: int) -> int:
    """Segments for characters of the given widths; a character never straddles two parts
    (an escape pair, a surrogate pair), which is why this is not a plain division."""
    total = sum(units)
    if total <= single:
        return 1 if total else 0
    count, used = 1, 0
    for width in units:
        if used + width > part:
            count += 1
            used = 0
        used += width
    return count


def count(text: str) -> Segments:
    """The encoding a carrier would use for this text and how many segments it takes."""
    if is_gsm7(text):
        widths = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        return Segments("GSM-7", _pack(widths, GSM_SINGLE, GSM_PART), sum(widths))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Segments("UCS-2", _pack(widths, UCS2_SINGLE, UCS2_PART), sum(widths))


def plain(text: str) -> str:
    """The text with typographic look-alikes and accents the GSM alphabet lacks made plain
    (á → a, ’ → '), keeping the accents GSM-7 has (é, ñ, ü, ¿, ¡): a Spanish reply then
    costs 160 characters a segment instead of 70."""
    out = []
    for ch in text:
        ch = _PLAIN.get(ch, ch)
        if len(ch) == 1 and ch not in GSM_BASIC and ch not in GSM_EXTENSION:
            base = unicodedata.normalize("NFD", ch)[0]
            if base in GSM_BASIC:
                ch = base
        out.append(ch)
    return "".join(out)


def fits(text: str, segments: int = REPLY_SEGMENTS) -> bool:
    return count(text).count <= segments


def compose(parts: Iterable[str | None], segments: int = REPLY_SEGMENTS) -> str:
    """Join the parts of a reply (most important first) into at most `segments` segments.

    Tries the full text, then the same made plain; then drops parts from the end. The first
    part alone is cut at a word boundary as a last resort, so a reply is never empty.
    """
    parts = [p.strip() for p in parts if p and p.strip()]
    for keep in range(len(parts), 0, -1):
        text = " ".join(parts[:keep])
        for candidate in (text, plain(text)):
            if fits(candidate, segments):
                return candidate
    return truncate(plain(parts[0]) if parts else "", segments)


def truncate(text: str, segments: int = REPLY_SEGMENTS) -> str:
    """The longest prefix (at a word boundary when there is one) that fits, with an ellipsis."""
    if fits(text, segments):
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with "..." added
        mid = (low + high + 1) // 2
        if fits(text[:mid].rstrip() + "...", segments):
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "..."
