"""What our own mail relay says about a message: the DMARC result in its Authentication-Results
header (RFC 8601), and nothing a sender could have written themselves.

Only a header whose authserv-id is one we trust counts, and only the topmost such header (our
relay adds its own above everything the message arrived with; anything lower down with the
same id came from the sender). No trusted header: no verdict (`None`), never a pass.
"""

from __future__ import annotations

import re

# Results RFC 7489 defines for dmarc=; anything else is read as no verdict.
DMARC_RESULTS = ("pass", "fail", "none", "temperror", "permerror")
MAX_HEADERS_READ = 20
_COMMENT = re.compile(r"\([^()]*\)")
_DMARC = re.compile(r"(?:^|;)\s*dmarc\s*=\s*([A-Za-z]+)", re.IGNORECASE)


def _without_comments(value: str) -> str:
    # Comments nest (RFC 5322); three passes take out three levels, which is plenty.
    for _ in range(3):
        value = _COMMENT.sub(" ", value)
    return value


def authserv_id(value: str) -> str:
    """The authserv-id that opens an Authentication-Results value (lower-cased)."""
    head = _without_comments(value).split(";", 1)[0].strip()
    return head.split()[0].lower() if head else ""


def dmarc_result(values: list[str], trusted: tuple[str, ...]) -> str | None:
    """The DMARC result stated by the topmost Authentication-Results from a trusted
    authserv-id (values in header order, topmost first), or None."""
    wanted = {t.strip().lower() for t in trusted if t.strip()}
    if not wanted:
        return None
    for value in values[:MAX_HEADERS_READ]:
        text = _without_comments(value[:8192])
        if authserv_id(text) not in wanted:
            continue
        match = _DMARC.search(text.split(";", 1)[1] if ";" in text else "")
        if match is None:
            return None
        result = match.group(1).lower()
        return result if result in DMARC_RESULTS else None
    return None
