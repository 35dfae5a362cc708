"""Does an email ask for the status of a complaint?

Email honours one keyword, STATUS (ESTADO in Spanish), optionally followed by a case
reference, the same words a customer texts (`channels.keywords`). It counts only when it is
the whole of the new text (quoted history and signature trimmed), or when the message has no
text of its own and the subject says it ("STATUS", "Re: estado [RX-…]"). "What is the status
of my refund?" is a message for the caseworker, not a command.
"""

from __future__ import annotations

import re

from channels import keywords

# Reply and forward prefixes mail programs add, in the languages our customers write in.
_PREFIX = re.compile(r"^\s*((re|fw|fwd|rv|aw|wg|tr|res|enc)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_BRACKETED = re.compile(r"\[[^\]]*\]")


def subject_text(subject: str) -> str:
    """The subject without reply/forward prefixes and bracketed tokens like [RX-…]."""
    return _BRACKETED.sub(" ", _PREFIX.sub("", subject or "")).strip()


def status_request(subject: str, new_text: str) -> keywords.Keyword | None:
    """The STATUS keyword this message is (with its language and any reference), or None.

    `new_text` is what the customer wrote this time (the reply trimmed of quotes and
    signature). A reference in brackets in the subject is found by the caller, as for any
    reply; here only the command is recognised.
    """
    found = keywords.parse(new_text if new_text.strip() else subject_text(subject))
    return found if found is not None and found.meaning == "status" else None
