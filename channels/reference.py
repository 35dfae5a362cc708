"""Public case references: short, speakable, random (no enumeration), with a check character.

Format `RX-XXXX-XXXX`: seven random symbols from Crockford's base 32 (no I, L, O or U, so
nothing is mistaken for 1, 0 or a rude word) and a Luhn mod 32 check symbol, which catches
every single mistyped symbol and most swaps of two neighbours.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "RX"
_BODY = 7
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# What people and OCR write instead of the canonical symbol.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_LOOSE = re.compile(r"\bRX[\s-]*([0-9A-Z]{4})[\s-]*([0-9A-Z]{4})\b", re.IGNORECASE)


def _check_symbol(body: str) -> str:
    """Luhn mod N over the base-32 values, doubling from the rightmost symbol."""
    total, factor, n = 0, 2, len(ALPHABET)
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def _is_valid_symbols(symbols: str) -> bool:
    return all(ch in _VALUE for ch in symbols) and _check_symbol(symbols[:-1]) == symbols[-1]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
    symbols = body + _check_symbol(body)
    return f"{PREFIX}-{symbols[:4]}-{symbols[4:]}"


def normalize_reference(raw: str) -> str | None:
    """Canonical `RX-XXXX-XXXX` for what a person typed, or None if it is not a valid one.

    Accepts lower case, spaces or no separators, the RX prefix or not, and O/I/L for 0/1/1.
    """
    text = re.sub(r"[\s-]", "", raw or "").upper()
    if text.startswith(PREFIX):
        text = text[len(PREFIX) :]
    text = text.translate(_ALIASES)
    if len(text) != _BODY + 1 or not _is_valid_symbols(text):
        return None
    return f"{PREFIX}-{text[:4]}-{text[4:]}"


def find_references(text: str) -> list[str]:
    """Every valid reference cited in free text (an email subject, an SMS), in order."""
    found: list[str] = []
    for match in _LOOSE.finditer(text or ""):
        # With its prefix, so that a body that itself starts with RX keeps those symbols.
        ref = normalize_reference(PREFIX + match.group(1) + match.group(2))
        if ref and ref not in found:
            found.append(ref)
    return found
