"""Trim quoted history and signatures from a reply, for display on the case.

Mail programs quote differently: Gmail ("On ... wrote:"), Outlook ("-----Original Message-----"
or a "From: / Sent:" header block), Apple Mail and phones ("Sent from my iPhone"), "> " quoting,
top-posting and bottom-posting. The full original is always kept in the inbound store; this
only decides what a caseworker reads first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.email.html import QUOTE_LINE

_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"on\b.{0,300}\bwrote\s*:|"  # Gmail, Apple Mail, Thunderbird
    r"le\b.{0,300}\ba [ée]crit\s*:|"  # French
    r"am\b.{0,300}\bschrieb.{0,200}:|"  # German
    r"el\b.{0,300}\bescribi[óo]\s*:|"  # Spanish
    r"il\b.{0,300}\bha scritto\s*:|"  # Italian
    r"em\b.{0,300}\bescreveu\s*:|"  # Portuguese
    r"op\b.{0,300}\bschreef.{0,200}:|"  # Dutch
    r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}.{0,200}(?:wrote|<[^>]+@[^>]+>)\s*:|"  # Gmail in some locales
    r".{0,200}<[^>]+@[^>]+>\s*(?:wrote|написал\(а\)|написал)\s*:"
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|forwarded message|message d'origine|"
    r"ursprüngliche nachricht|mensaje original|messaggio originale|mensagem original|"
    r"oorspronkelijk bericht|reply message|original)\s*-{2,}|"
    r"_{20,}|" + re.escape(QUOTE_LINE) + r"|"
    r"begin forwarded message:)",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|de|von|van|da|od|från|fra)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|to|subject|cc|envoy[ée]|enviado|gesendet|datum|fecha|"
    r"inviato|verzonden|objet|asunto|betreff|onderwerp|oggetto|assunto|para|à|an|aan|a)\s*:",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(?:-- ?|--|__)\s*$")
_MOBILE = re.compile(
    r"^\s*(?:sent from my \w+|sent from (?:yahoo mail|mail for windows|outlook|samsung)|"
    r"sent via |get outlook for |sent from my (?:iphone|ipad|android|blackberry)|"
    r"enviado desde mi |envoy[ée] de mon |von meinem .{1,30} gesendet|inviato da |"
    r"enviado do meu |verzonden vanaf mijn )",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Trimmed:
    text: str  # what the customer wrote this time
    quoted: bool  # whether quoted history was removed
    signature: str | None  # the signature that was removed, if any


def trim_reply(text: str) -> Trimmed:
    """The new part of a reply. Never returns nothing for a message that said something:
    when everything looks quoted, the whole text is kept."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = _quote_start(lines)
    quoted = False
    if start is not None:
        before = [line for line in lines[:start] if line.strip() and not line.startswith(">")]
        # Top-posting: the answer is above the quote. Bottom-posting: drop the attribution,
        # the answer is below the quote.
        lines = lines[:start] if before else lines[start + 1 :]
        quoted = True
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    if len(kept) != len(lines):
        quoted = True
    body, signature = _strip_signature(kept)
    result = "\n".join(body).strip()
    if not result:
        fallback = "\n".join(line for line in lines if line.strip()).strip() or text.strip()
        return Trimmed(fallback, False, None)
    return Trimmed(re.sub(r"\n{3,}", "\n\n", result), quoted, signature)


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _SEPARATOR.match(line):
            return i
        joined = line if i + 1 >= len(lines) else f"{line} {lines[i + 1]}"
        if _ATTRIBUTION.match(line) or (
            _ATTRIBUTION.match(joined) and re.match(r"^\s*(on|le|am|el|il|em|op)\b", line, re.I)
        ):
            return i
        if _HEADER_FROM.match(line):
            following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
            if sum(1 for ln in following if _HEADER_NEXT.match(ln)) >= 2:
                return i
    return None


def _strip_signature(lines: list[str]) -> tuple[list[str], str | None]:
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and len(lines) - i <= 15:
            return lines[:i], "\n".join(lines[i + 1 :]).strip() or None
    for i in range(len(lines) - 1, max(-1, len(lines) - 6), -1):
        if _MOBILE.match(lines[i]):
            return lines[:i] + [ln for ln in lines[i + 1 :] if ln.strip()], lines[i].strip()
    return lines, None
