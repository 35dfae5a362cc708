"""The SMS conversation as pure code: one inbound text plus what we know of the number's
cases gives what to do (open a case, add to one, answer a keyword) and the reply text.

The app gathers the facts (`Conversation`), calls `decide`, carries out the decision in the
database, and answers with `Decision.reply` (or, for a new case, `replies.case_opened` once
the reference exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from channels import keywords
from channels.case_status import status_words
from channels.sms import replies

ACTIONS = (
    "open_case",  # ordinary text with no open case to add to (or after NEW)
    "add_to_case",  # ordinary text while a case is open
    "switch",  # CASE <reference>: later texts go to that case
    "start_new",  # NEW: the next text opens a new case
    "status",  # STATUS [reference]
    "help",
    "stop",  # opt the number out
    "start",  # opt back in
    "empty",  # nothing to act on
    "not_found",  # a reference that is not one of this number's cases
)


@dataclass(frozen=True)
class CaseFacts:
    """One of the number's cases, as the conversation needs it."""

    reference: str
    status: str
    agency: str
    is_open: bool
    # The next promise in plain words per language ("We will respond to you by Friday,
    # December 4."), or None when no clock is running.
    promise: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    """What we know of the number: its cases (most recent first) and its choices so far."""

    cases: tuple[CaseFacts, ...] = ()
    current: str | None = None  # chosen with CASE, or the case last opened by text
    start_new: bool = False  # NEW was texted: the next ordinary text opens a case
    language: str = "en"


@dataclass(frozen=True)
class Decision:
    action: str
    language: str
    case: str | None = None  # the reference acted on
    reply: str | None = None  # None only for open_case: its reply needs the new reference
    keyword: str | None = None  # the keyword's meaning, when the text was one


def _find(conv: Conversation, reference: str | None) -> CaseFacts | None:
    return next((c for c in conv.cases if c.reference == reference), None)


def thread_target(conv: Conversation) -> CaseFacts | None:
    """The case an ordinary text is added to: the one chosen with CASE while it is open,
    else the most recent open case."""
    chosen = _find(conv, conv.current)
    if chosen is not None and chosen.is_open:
        return chosen
    return next((c for c in conv.cases if c.is_open), None)


def decide(body: str, conv: Conversation, *, has_media: bool = False) -> Decision:
    """What to do with one inbound text."""
    keyword = keywords.parse(body)
    if keyword is None:
        lang = conv.language
        if not (body or "").strip() and not has_media:
            return Decision("empty", lang, reply=replies.simple("empty", lang))
        target = None if conv.start_new else thread_target(conv)
        if target is None:
            return Decision("open_case", lang)
        open_count = sum(1 for c in conv.cases if c.is_open)
        reply = replies.added(target.reference, open_count, lang)
        return Decision("add_to_case", lang, case=target.reference, reply=reply)

    lang, meaning = keyword.language, keyword.meaning

    def answer(action: str, reply: str, case: str | None = None) -> Decision:
        return Decision(action, lang, case=case, reply=reply, keyword=meaning)

    if meaning in ("help", "stop", "start"):
        return answer(meaning, replies.simple(meaning, lang))
    if meaning == "new":
        return answer("start_new", replies.simple("new", lang))
    if keyword.reference:
        case = _find(conv, keyword.reference)
        if case is None:
            reply = replies.simple("not_found", lang, reference=keyword.reference)
            return answer("not_found", reply, keyword.reference)
    else:  # STATUS alone: the case texts go to, else the most recent one
        case = thread_target(conv) or (conv.cases[0] if conv.cases else None)
        if case is None:
            return answer("not_found", replies.simple("no_cases", lang))
    if meaning == "case":
        if not case.is_open:
            words = status_words(case.status, lang)
            reply = replies.simple("closed_case", lang, reference=case.reference, status=words)
            return answer("not_found", reply, case.reference)
        reply = replies.simple("switched", lang, reference=case.reference)
        return answer("switch", reply, case.reference)
    promise = case.promise.get(lang) if case.is_open else None
    reply = replies.status(case.reference, case.agency, case.status, promise, lang)
    return answer("status", reply, case.reference)
