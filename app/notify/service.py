"""Write notifications to the outbox (in the caller's transaction) and render them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import insert

from app.cases import presenters
from app.cases.models import Case, Message
from app.customers import access
from app.directory import localized
from app.extensions import db
from app.jobs import defer_once
from app.notify.models import OutboxItem
from app.staff.models import StaffUser

_TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("en", "es")


@cache
def _env() -> Environment:
    # Plain text, never HTML: no autoescape; StrictUndefined so a typo fails loudly in tests.
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - plain-text templates, never rendered as HTML
    )


def render(name: str, language: str, channel: str, /, **context) -> tuple[str | None, str]:
    """(subject, body) of a template in the case's language, falling back to English.

    A template has a subject line, a `---` line and the body. An SMS uses the short
    `<name>.sms.txt` variant when there is one.
    """
    lang = language if language in LANGUAGES else "en"
    candidates = [f"{lang}/{name}.sms.txt", f"en/{name}.sms.txt"] if channel == "sms" else []
    candidates += [f"{lang}/{name}.txt", f"en/{name}.txt"]
    template = _env().select_template(candidates)
    text = template.render(**context).strip()
    if template.name.endswith(".sms.txt"):
        return None, " ".join(text.split())
    subject, _, body = text.partition("\n---\n")
    return subject.strip(), body.strip() + "\n"


def _contact_for(case: Case) -> tuple[str, str] | None:
    """The channel and address to answer on: the customer's preferred contact, else the
    channel they came in on, else any contact we have; only a contact that may act on the
    case (app.customers.access), never one that bounced or said STOP, and letters only to
    the address given for the case."""
    reachable = access.reachable(case)
    order = [case.preferred_contact, case.channel, "email", "sms", "mail"]
    for channel in order:
        if channel == "mail" and case.address:
            return channel, case.address
        kind = access.KIND_FOR_CHANNEL.get(channel or "")
        if kind and reachable.get(kind):
            return channel, reachable[kind][0]
    return None


# Public name for services that must know the channel before writing (survey invitations).
contact_for = _contact_for


def _context(case: Case, lang: str, **extra) -> dict:
    agency = case.agency
    return {
        "reference": case.reference,
        "name": case.customer.name,
        "agency": localized(agency, "name", lang),
        "agency_short": agency.code,
        "category": localized(case.category, "name", lang) if case.category else None,
        "tracking_url": presenters.tracking_url(case),
        "promises": presenters.promise_sentences(case, lang),
        **extra,
    }


def notify_customer(
    case: Case, kind: str, *, body: str | None = None, author=None, context: dict | None = None
) -> tuple[Message, OutboxItem | None]:
    """Add an outbound message to the case and queue its delivery on the customer's channel,
    in their language. `kind` names the template (acknowledgment, message, request_info,
    resolved, transferred); `body` is what a caseworker wrote, kept on the case as written.

    With no way to reach the customer (or `preferred_contact` "none") the message is still
    kept on the case, and nothing is queued. `context` adds template variables (a survey link).
    """
    contact = None if case.preferred_contact == "none" else _contact_for(case)
    lang = case.language or "en"
    channel = contact[0] if contact else (case.preferred_contact or case.channel)
    extra = {"body": body or "", **(context or {})}
    subject, text = render(kind, lang, channel, **_context(case, lang, **extra))
    message = Message(direction="outbound", channel=channel, body=body or text, author=author)
    case.messages.append(message)
    if contact is None:
        return message, None
    item = OutboxItem(
        case=case,
        message=message,
        audience="customer",
        kind=kind,
        channel=channel,
        recipient=contact[1],
        subject=subject,
        body=text,
        language=lang,
        state="queued",
    )
    db.session.add(item)
    db.session.flush()
    # One drain of the outbox delivers it (and whatever else is due) after the commit.
    defer_once("workers.jobs.drain_outbox", queue="notify")
    return message, item


def answer_sender(
    kind: str,
    channel: str,
    recipient: str,
    language: str,
    context: dict,
    *,
    case: Case | None = None,
) -> OutboxItem:
    """Queue an answer to the address a request came from (a status request by email),
    which need not be one case's preferred contact. `case`, when the answer is about one
    case, threads it there; the delivery still refuses an address that bounced or opted out."""
    subject, text = render(kind, language, channel, **context)
    item = OutboxItem(
        case=case,
        audience="customer",
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=text,
        language=language if language in LANGUAGES else "en",
        state="queued",
    )
    db.session.add(item)
    db.session.flush()
    defer_once("workers.jobs.drain_outbox", queue="notify")
    return item


def notify_staff(kind: str, headline: str, digests: Iterable[tuple[StaffUser, list[dict]]]) -> int:
    """Queue one alert email to each staff member, covering their cases (a digest per sweep,
    so a bad morning produces one message per person rather than hundreds). All of them go
    into the outbox with one INSERT: a sweep can write a digest for every person on staff.
    Returns how many were queued."""
    rows = []
    for person, items in digests:
        subject, text = render("staff_alert", "en", "email", headline=headline, items=items)
        rows.append(
            {
                "case_id": items[0]["case_id"] if len(items) == 1 else None,
                "audience": "staff",
                "staff_id": person.id,
                "kind": kind,
                "channel": "email",
                "recipient": person.email,
                "subject": subject,
                "body": text,
                "state": "queued",
            }
        )
    if rows:
        db.session.execute(insert(OutboxItem), rows)
        # One drain of the outbox delivers them (and whatever else is due) after the commit.
        defer_once("workers.jobs.drain_outbox", queue="notify")
    return len(rows)
