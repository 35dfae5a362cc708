"""What a letter's text tells us: the writer's email, phone, postal address and name.

These are offered to a caseworker (OCR misreads digits), not applied silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers

from channels.contacts import ContactError, normalize_email

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "PR",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "VI",
    "WA",
    "WV",
    "WI",
    "WY",
    "GU",
    "AS",
    "MP",
]  # noqa: SIM905 - a list of 56 codes reads better as one string
_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|place|pl|way|"
    r"terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq|trail|trl|plaza|loop|row"
)
_STREET = re.compile(
    rf"^\s*(\d+[A-Za-z]?(?:-\d+)?\s+(?:[NSEW]\.?\s+)?[A-Za-z0-9 .'\-]+?\s(?:{_STREET_WORDS})\.?"
    r"(?:\s*,?\s*(?:apt|apartment|unit|suite|ste|#|fl|floor)\.?\s*[\w\-]+)?)\s*,?\s*$",
    re.IGNORECASE,
)
_PO_BOX = re.compile(r"^\s*(P\.?\s*O\.?\s*Box\s+\d+)\s*$", re.IGNORECASE)
_CITY_LINE = re.compile(
    rf"^\s*([A-Za-z][A-Za-z .'\-]+?),?\s+({'|'.join(_STATES)})\.?\s+(\d{{5}})(?:-(\d{{4}}))?\s*$"
)
_CLOSINGS = re.compile(
    r"^\s*(sincerely|respectfully|regards|best regards|yours truly|thank you|thanks|"
    r"atentamente|cordialmente|gracias)[,.!]?\s*$",
    re.IGNORECASE,
)
_NAME = re.compile(r"^\s*([A-Z][a-zA-Z'\-]+(?:\s+[A-Z]\.?)?(?:\s+[A-Z][a-zA-Z'\-]+){1,3})\s*$")


@dataclass
class LetterContacts:
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    name: str | None = None

    def as_dict(self) -> dict:
        return {
            "emails": self.emails,
            "phones": self.phones,
            "addresses": self.addresses,
            "name": self.name,
        }


def find_contacts(text: str, *, region: str = "US") -> LetterContacts:
    found = LetterContacts()
    for raw in _EMAIL.findall(text):
        try:
            email = normalize_email(raw.strip(".,;"))
        except ContactError:
            continue
        if email not in found.emails:
            found.emails.append(email)
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(match.number) and number not in found.phones:
            found.phones.append(number)
    found.addresses = _addresses(text)
    found.name = _signature_name(text)
    return found


def _addresses(text: str) -> list[str]:
    """US addresses written as a street (or PO Box) line followed by a City, ST ZIP line."""
    lines = [line.strip() for line in text.splitlines()]
    out = []
    for i, line in enumerate(lines):
        city = _CITY_LINE.match(line)
        if not city:
            continue
        street = None
        for back in (1, 2):  # allow an "Apt 4" line between
            if i - back >= 0:
                candidate = lines[i - back]
                if _STREET.match(candidate) or _PO_BOX.match(candidate):
                    street = candidate.rstrip(",")
                    if back == 2 and lines[i - 1]:
                        street = f"{street}, {lines[i - 1]}"
                    break
        if street is None:
            continue
        zip_code = city.group(3) + (f"-{city.group(4)}" if city.group(4) else "")
        address = f"{street}, {city.group(1).strip()}, {city.group(2)} {zip_code}"
        if address not in out:
            out.append(address)
    return out


def _signature_name(text: str) -> str | None:
    """The name under a closing such as "Sincerely," — the usual way a letter is signed."""
    lines = [line for line in text.splitlines()]
    for i, line in enumerate(lines):
        if _CLOSINGS.match(line):
            for following in lines[i + 1 : i + 4]:
                match = _NAME.match(following)
                if match:
                    return match.group(1)
    return None


def zip_of(address: str | None) -> str | None:
    match = re.search(r"\b(\d{5})(?:-\d{4})?\s*$", address or "")
    return match.group(1) if match else None
