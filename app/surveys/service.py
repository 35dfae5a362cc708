"""Invite the customer after resolution, take one response per case, and report the figures.

The questions are OMB Circular A-11 §280's: satisfaction and trust, then the six drivers,
each on a five-point agreement scale, and one free-text question.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.cases.models import Case
from app.common.time import utcnow
from app.extensions import db
from app.notify.service import contact_for, notify_customer
from app.sla.state import clock_state
from app.surveys.models import SurveyInvitation, SurveyResponse


@dataclass(frozen=True)
class Question:
    field: str
    driver: str
    en: str
    es: str


# Exact A-11 §280 wording; {agency} is the agency that resolved the case.
QUESTIONS = (
    Question(
        "satisfaction",
        "satisfaction",
        "I am satisfied with the service I received from {agency}.",
        "Estoy satisfecho/a con el servicio que recibí de {agency}.",
    ),
    Question(
        "trust",
        "trust",
        "This interaction increased my confidence in {agency}.",
        "Esta interacción aumentó mi confianza en la agencia {agency}.",
    ),
    Question(
        "effectiveness", "effectiveness", "My need was addressed.", "Se atendió mi necesidad."
    ),
    Question(
        "ease",
        "ease",
        "It was easy to complete what I needed to do.",
        "Fue fácil completar lo que necesitaba hacer.",
    ),
    Question(
        "efficiency",
        "efficiency",
        "It took a reasonable amount of time.",
        "Tomó una cantidad de tiempo razonable.",
    ),
    Question(
        "transparency",
        "transparency",
        "I understood what was being asked of me throughout the process.",
        "Entendí lo que se me pedía durante todo el proceso.",
    ),
    Question(
        "humanity", "humanity/fairness", "I was treated fairly.", "Me trataron de manera justa."
    ),
    Question(
        "employee",
        "employee helpfulness",
        "Employees I interacted with were helpful.",
        "Los empleados con quienes traté fueron serviciales.",
    ),
)
FIELDS = tuple(q.field for q in QUESTIONS)
COMMENT_QUESTION = {
    "en": "Is there anything else you would like to tell us about your experience?",
    "es": "¿Hay algo más que quiera contarnos sobre su experiencia?",
}
SCALE = {
    "en": (
        "Strongly disagree",
        "Disagree",
        "Neither agree nor disagree",
        "Agree",
        "Strongly agree",
    ),
    "es": (
        "Totalmente en desacuerdo",
        "En desacuerdo",
        "Ni de acuerdo ni en desacuerdo",
        "De acuerdo",
        "Totalmente de acuerdo",
    ),
}
MAX_COMMENT = 4000
# Invitations go by email or text message; printed letters wait for the paper-mail channel.
INVITE_CHANNELS = ("email", "sms", "mail")
# A printed letter carries a code a person can type: 12 Crockford base-32 symbols (60 bits),
# read back whatever the case, with or without the hyphens, O for 0 and I or L for 1.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE = re.compile(r"^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$")


class SurveyClosed(Exception):
    """The token cannot be answered: `reason` is forged, expired or answered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash(token: str) -> str:
    return hashlib.sha256(_canonical(token).encode()).hexdigest()


def _canonical(token: str) -> str:
    """A letter's typed code in one spelling; a link's token as it is."""
    if not _CODE.match(token):
        return token
    code = token.replace("-", "").upper()
    return code.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def letter_code() -> str:
    """A survey code for a printed letter, like 7KQ2-M9XD-4TRB."""
    symbols = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{symbols[:4]}-{symbols[4:8]}-{symbols[8:]}"


def question_text(question: Question, language: str, agency: str) -> str:
    return (question.es if language == "es" else question.en).format(agency=agency)


def resolve_standard_met(case: Case, now: datetime | None = None) -> bool | None:
    """Whether the case was resolved within its posted standard (None: no such standard)."""
    clock = next(
        (c for c in case.clocks if c.metric == "resolve" and c.superseded_at is None), None
    )
    if clock is None:
        return None
    state = clock_state(clock, now or utcnow())
    return True if state == "met" else False if state == "breached" else None


def survey_url(token: str) -> str:
    # Built by hand, like the tracking link: invitations are also sent from jobs and the CLI.
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/survey/{token}"


def invite(case: Case, now: datetime | None = None) -> SurveyInvitation | None:
    """Offer the survey once per case, on the customer's own channel, in their language.

    Nothing is offered when we cannot write to them (or they asked us not to), or when the
    case was already offered one (a reopened and re-resolved case). By mail the letter
    carries the address and a short code to type. Runs in the caller's transaction.
    """
    now = now or utcnow()
    if case.preferred_contact == "none":
        return None
    contact = contact_for(case)
    if contact is None or contact[0] not in INVITE_CHANNELS:
        return None
    if db.session.scalar(db.select(SurveyInvitation.id).where(SurveyInvitation.case_id == case.id)):
        return None
    # A link in an email or a text; a code short enough to type from a printed letter.
    token = letter_code() if contact[0] == "mail" else secrets.token_urlsafe(24)
    days = int(current_app.config["SURVEY_TTL_DAYS"])
    invitation = SurveyInvitation(
        case_id=case.id,
        token_hash=_hash(token),
        channel=contact[0],
        language=case.language or "en",
        offered_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(invitation)
    expires = invitation.expires_at.strftime("%Y-%m-%d")
    # The case keeps a note of the invitation, never the token (staff must not answer it).
    note = (
        f"Survey invitation sent ({contact[0]}); the link works once, until {expires}."
        if invitation.language != "es"
        else f"Invitación a la encuesta enviada ({contact[0]}); el enlace vale hasta el {expires}."
    )
    notify_customer(
        case,
        "survey_invitation",
        body=note,
        context={
            "survey_url": survey_url(token),
            "expires": expires,
            "letter_code": token if contact[0] == "mail" else None,
        },
    )
    return invitation


def open_invitation(token: str, now: datetime | None = None) -> SurveyInvitation:
    """The invitation for a token, or SurveyClosed(forged | expired | answered)."""
    now = now or utcnow()
    if not token or len(token) > 100:
        raise SurveyClosed("forged")
    invitation = db.session.scalar(
        db.select(SurveyInvitation).where(SurveyInvitation.token_hash == _hash(token))
    )
    if invitation is None:
        raise SurveyClosed("forged")
    if invitation.responded_at is not None:
        raise SurveyClosed("answered")
    if now >= invitation.expires_at:
        raise SurveyClosed("expired")
    return invitation


def validate_answers(form: dict) -> tuple[dict[str, int | None], str | None, dict[str, str]]:
    """(answers 1-5 or None per question, comment, errors by field) from a submitted form."""
    answers: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        raw = (form.get(field) or "").strip()
        if not raw:
            answers[field] = None
        elif raw in ("1", "2", "3", "4", "5"):
            answers[field] = int(raw)
        else:
            errors[field] = "choose"
    comment = (form.get("comment") or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        errors["comment"] = "long"
    if not errors and comment is None and all(v is None for v in answers.values()):
        errors["_form"] = "empty"
    return answers, comment, errors


def record_response(
    invitation: SurveyInvitation,
    answers: dict[str, int | None],
    comment: str | None,
    now: datetime | None = None,
) -> SurveyResponse:
    """Keep the answers on the case, once: a second submission (even a concurrent one)
    raises SurveyClosed("answered") and changes nothing."""
    now = now or utcnow()
    case = invitation.case
    response = SurveyResponse(
        case_id=case.id,
        invitation_id=invitation.id,
        submitted_at=now,
        language=invitation.language,
        comment=comment,
        standard_met=resolve_standard_met(case, now),
        **answers,
    )
    # Claim the invitation first: only one request can move responded_at from null.
    claimed = db.session.execute(
        db.update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.responded_at.is_(None))
        .values(responded_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise SurveyClosed("answered")
    db.session.add(response)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SurveyClosed("answered") from None
    return response


def case_survey(case: Case) -> dict | None:
    """The survey as the case's full JSON shows it: offered when and how, and the answers."""
    invitation = db.session.scalar(
        db.select(SurveyInvitation).where(SurveyInvitation.case_id == case.id)
    )
    if invitation is None:
        return None
    response = db.session.scalar(db.select(SurveyResponse).where(SurveyResponse.case_id == case.id))
    return {
        "offered_at": invitation.offered_at.isoformat(),
        "channel": invitation.channel,
        "expires_at": invitation.expires_at.isoformat(),
        "response": None
        if response is None
        else {
            "submitted_at": response.submitted_at.isoformat(),
            "language": response.language,
            "answers": {f: getattr(response, f) for f in FIELDS},
            "comment": response.comment,
            "standard_met": response.standard_met,
        },
    }
