"""Keywords in English and Spanish, matched case-insensitively as the whole message.

SMS honours all of them; email honours STATUS / ESTADO (the status by email reply).

Only a whole message is a keyword: "Stop calling me at work" is a complaint, "stop" is an
opt-out. Accents and trailing punctuation are ignored ("Estado.", "AYUDA!", "caso rx-...").

| meaning | English | Spanish |
|---|---|---|
| help    | HELP, INFO | AYUDA |
| status  | STATUS [reference] | ESTADO [referencia] |
| case    | CASE reference | CASO referencia |
| new     | NEW | NUEVO, NUEVA |
| stop    | STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT | PARAR, ALTO, CANCELAR, BAJA, DETENER |
| start   | START, UNSTOP | INICIO, COMENZAR |

The English opt-out and opt-in words are the ones US carriers and Twilio's own opt-out
handling honour (YES is left out: it is too often a real answer to a caseworker); the
Spanish ones are those commonly published by US agencies. A STATUS or CASE followed by
something that is not a case reference is ordinary text ("status of my refund?").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from channels.reference import normalize_reference

WORDS: dict[str, tuple[str, str]] = {
    # word: (meaning, language)
    "HELP": ("help", "en"),
    "INFO": ("help", "en"),
    "AYUDA": ("help", "es"),
    "STATUS": ("status", "en"),
    "ESTADO": ("status", "es"),
    "CASE": ("case", "en"),
    "CASO": ("case", "es"),
    "NEW": ("new", "en"),
    "NUEVO": ("new", "es"),
    "NUEVA": ("new", "es"),
    "STOP": ("stop", "en"),
    "STOPALL": ("stop", "en"),
    "UNSUBSCRIBE": ("stop", "en"),
    "CANCEL": ("stop", "en"),
    "END": ("stop", "en"),
    "QUIT": ("stop", "en"),
    "PARAR": ("stop", "es"),
    "ALTO": ("stop", "es"),
    "CANCELAR": ("stop", "es"),
    "BAJA": ("stop", "es"),
    "DETENER": ("stop", "es"),
    "START": ("start", "en"),
    "UNSTOP": ("start", "en"),
    "INICIO": ("start", "es"),
    "COMENZAR": ("start", "es"),
}
# Keywords that take an argument (a case reference); the rest must stand alone.
WITH_ARGUMENT = ("status", "case")

_EDGE = re.compile(r"^[\s.!¡?¿,;:'\"*]+|[\s.!¡?¿,;:'\"*]+$")


@dataclass(frozen=True)
class Keyword:
    meaning: str  # help | status | case | new | stop | start
    language: str  # en | es
    reference: str | None = None  # normalized, for STATUS and CASE


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def parse(body: str) -> Keyword | None:
    """The keyword this whole message is, or None for ordinary text."""
    text = _EDGE.sub("", body or "")
    if not text or len(text) > 40:
        return None
    word, _, rest = text.partition(" ")
    found = WORDS.get(_fold(word))
    if found is None:
        return None
    meaning, language = found
    rest = rest.strip()
    if rest and meaning not in WITH_ARGUMENT:
        return None
    reference = None
    if rest:
        reference = normalize_reference(rest)
        if reference is None:
            return None
    elif meaning == "case":
        return None  # "case" alone is not a command; let it through as text
    return Keyword(meaning, language, reference)
