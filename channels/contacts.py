"""Normalize contact points so the same person is recognized on every channel."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class ContactError(ValueError):
    """A contact point that cannot be used, with a message fit to show the person."""


def normalize_email(raw: str, *, check_deliverability: bool = False) -> str:
    """Return the address with its domain normalized (IDNA, lower case).

    The local part keeps its case: RFC 5321 leaves it to the receiving server. Matching
    across channels lower-cases it (see `email_match_key`).
    """
    try:
        result = validate_email(raw.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise ContactError(str(exc)) from None
    return result.normalized


def email_match_key(normalized: str) -> str:
    """The key under which an email address is matched: case-insensitive in practice."""
    return normalized.lower()


def normalize_phone(raw: str, *, region: str = "US") -> str:
    """Return the number in E.164 (+12025550143), or raise ContactError."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise ContactError("This is not a phone number we can recognize.") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ContactError("This phone number is not valid; include the area code.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_contact(value: str) -> str:
    """A version of an email address or phone number that is safe to show or log."""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"***{value[-4:]}" if len(value) > 4 else "***"
