"""Plain data views of a case: the summary every channel answers with, and the full record."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from app.cases.models import Case
from app.common.time import utcnow
from app.sla.state import breached_at, clock_state, outcome

METRIC_ORDER = {"acknowledge": 0, "first_response": 1, "resolve": 2}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def tracking_url(case: Case) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/track?reference={case.reference}"


def _clock(clock, now: datetime) -> dict:
    return {
        "metric": clock.metric,
        "due_at": iso(clock.due_at),
        "state": clock_state(clock, now),
        "outcome": outcome(clock, now),
        "met_at": iso(clock.met_at),
        "breached_at": iso(breached_at(clock, now)),
        "started_at": iso(clock.started_at),
        "stopped_at": iso(clock.stopped_at),
        "stop_reason": clock.stop_reason,
        "target": clock.target,
        "unit": clock.unit,
    }


def clocks(case: Case, now: datetime | None = None) -> list[dict]:
    """The clocks the case runs on now (a transfer or a reopen replaces some: see
    `clock_history`)."""
    now = now or utcnow()
    current = [c for c in case.clocks if c.superseded_at is None]
    return [_clock(c, now) for c in sorted(current, key=lambda c: METRIC_ORDER.get(c.metric, 9))]


def clock_history(case: Case, now: datetime | None = None) -> list[dict]:
    """Every clock the case ever ran, oldest first, with the standard it counted against:
    after a transfer the sending agency's clocks stay here with their outcomes."""
    now = now or utcnow()
    out = []
    for clock in sorted(case.clocks, key=lambda c: (c.created_at or c.started_at, c.id or 0)):
        standard = clock.standard
        out.append(
            _clock(clock, now)
            | {
                "agency": standard.agency.code if standard else None,
                "category": standard.category.code if standard and standard.category else None,
                "superseded_at": iso(clock.superseded_at),
            }
        )
    return out


def summary(case: Case, now: datetime | None = None) -> dict:
    return {
        "reference": case.reference,
        "status": case.status,
        "channel": case.channel,
        "category": case.category.code if case.category else None,
        "agency": {"code": case.agency.code, "name": case.agency.name},
        "received_at": iso(case.received_at),
        "tracking_url": tracking_url(case),
        "merged_into": case.merged_into.reference if case.merged_into_id else None,
        "sla": clocks(case, now),
    }


def attachment(a, reference: str) -> dict:
    return {
        "id": a.id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "disposition": a.disposition,
        "message_id": a.message_id,
        "url": f"/api/v1/cases/{reference}/attachments/{a.id}",
    }


def _message(m) -> dict:
    return {
        "id": m.id,
        "direction": m.direction,
        "channel": m.channel,
        "subject": (m.meta or {}).get("subject"),
        "attachments": [attachment(a, m.case.reference) for a in m.attachments],
        "body": m.body,
        "author": m.author.email if m.author else None,
        "created_at": iso(m.created_at),
        "versions": [
            {
                "body": v.body,
                "reason": v.reason,
                "author": v.author.email if v.author else None,
                "created_at": iso(v.created_at),
            }
            for v in m.versions
        ],
        "delivery": [
            {
                "state": d.state,
                "channel": d.channel,
                "to": d.recipient,
                "attempts": d.attempts,
                "error": d.last_error,
                "sent_at": iso(d.sent_at),
            }
            for d in m.deliveries
        ],
    }


def _event(e) -> dict:
    return {
        "id": e.id,
        "kind": e.kind,
        "actor": e.actor.email if e.actor else e.actor_type,
        "at": iso(e.at),
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    }


def full(case: Case, merged: list[Case], now: datetime | None = None) -> dict:
    """Everything staff need: customer, routing decision, messages, events and clocks.

    Cases merged into this one keep their own history, listed under `merged_cases`.
    """
    data = summary(case, now)
    customer = case.customer
    data.update(
        {
            "priority": case.priority,
            "subject": case.subject,
            "description": case.description,
            "address": case.address,
            "zip": case.zip,
            "lat": case.lat,
            "lon": case.lon,
            "language": case.language,
            "preferred_contact": case.preferred_contact,
            "queue": case.queue.code if case.queue else None,
            "assignee": case.assignee.email if case.assignee else None,
            "resolution": case.resolution,
            "resolved_at": iso(case.resolved_at),
            "closed_at": iso(case.closed_at),
            "related_case": case.related_case.reference if case.related_case else None,
            "flags": list(case.flags or []),
            "attachments": [attachment(a, case.reference) for a in case.attachments],
            "customer": {
                "id": customer.id,
                "name": customer.name,
                "contacts": [
                    {"kind": p.kind, "value": p.value, "proven": p.proven}
                    for p in customer.contacts
                ],
                # Contacts that may act on this case besides the proven ones above.
                "on_case": [
                    {"kind": c.kind, "value": c.value, "source": c.source}
                    for c in case.case_contacts
                ],
            },
            "routing": {
                "source": case.routing_source,
                "rule_id": case.routing_rule_id,
                "explanation": case.routing_explanation,
            },
            "messages": [_message(m) for m in case.messages],
            "events": [_event(e) for e in case.events],
            "clock_history": clock_history(case, now),
            "merged_cases": [
                {
                    "reference": m.reference,
                    "status": m.status,
                    "closed_at": iso(m.closed_at),
                    "sla": clock_history(m, now),
                    "messages": [_message(x) for x in m.messages],
                    "events": [_event(x) for x in m.events],
                }
                for m in merged
            ],
            "survey": _survey(case),
        }
    )
    return data


def _survey(case: Case) -> dict | None:
    from app.surveys.service import case_survey

    return case_survey(case)


def track(case: Case, now: datetime | None = None) -> dict:
    """What the filer may see: status, agency, clocks and the messages between us."""
    return {
        "reference": case.reference,
        "status": case.status,
        "agency": {"code": case.agency.code, "name": case.agency.name},
        "category": case.category.code if case.category else None,
        "received_at": iso(case.received_at),
        "updated_at": iso(case.updated_at),
        "sla": clocks(case, now),
        "messages": [
            # The customer reads their letter as a person read it (the OCR text stays on
            # the case for staff).
            _message(m)
            | {"author": None, "attachments": [], "body": m.current_body, "versions": []}
            for m in case.messages
            if m.direction != "internal"
        ],
    }


def local_time(case: Case, value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(case.agency.calendar.timezone))


_ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_ES_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip


def plain_date(case: Case, value: datetime, today: datetime | None = None, lang: str = "en") -> str:
    """'Friday, November 27' (or 'viernes, 27 de noviembre') in the agency's time zone,
    with the year when it is not this year."""
    local = local_time(case, value)
    today = local_time(case, today or utcnow())
    if lang == "es":
        text = f"{_ES_DAYS[local.weekday()]}, {local.day} de {_ES_MONTHS[local.month - 1]}"
        return text if local.year == today.year else f"{text} de {local.year}"
    text = f"{local:%A, %B} {local.day}"
    return text if local.year == today.year else f"{text}, {local.year}"


_PROMISES = {
    "en": {
        "acknowledge": "We will acknowledge your complaint by {date}.",
        "first_response": "We will respond to you by {date}.",
        "resolve": "We aim to resolve your complaint by {date}.",
        "acknowledged": "We acknowledged your complaint on {date}.",
    },
    "es": {
        "acknowledge": "Confirmaremos la recepción de su queja a más tardar el {date}.",
        "first_response": "Le responderemos a más tardar el {date}.",
        "resolve": "Nuestro objetivo es resolver su queja a más tardar el {date}.",
        "acknowledged": "Confirmamos la recepción de su queja el {date}.",
    },
}


def promise_sentences(case: Case, lang: str = "en", skip: tuple[str, ...] = ()) -> list[str]:
    """When the customer will hear back, in plain words computed from the running clocks."""
    wording = _PROMISES.get(lang, _PROMISES["en"])
    out = []
    current = [c for c in case.clocks if c.superseded_at is None]
    for clock in sorted(current, key=lambda c: METRIC_ORDER.get(c.metric, 9)):
        if clock.metric in skip:
            continue
        if clock.phase == "running" and clock.metric in wording:
            date = plain_date(case, clock.due_at, lang=lang)
            out.append(wording[clock.metric].format(date=date))
        elif clock.phase == "met" and clock.metric == "acknowledge" and clock.met_at:
            out.append(
                wording["acknowledged"].format(date=plain_date(case, clock.met_at, lang=lang))
            )
    return out
