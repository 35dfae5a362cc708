"""A-11 §280 surveys: invited on the customer's channel after resolution, answered once on
the web without signing in, kept on the case, compared and exported for OMB."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from app.cases import service as cases
from app.common.time import frozen_time, utcnow
from app.extensions import db
from app.notify.models import OutboxItem
from app.staff.models import StaffUser
from app.surveys import service as surveys
from app.surveys.models import SurveyInvitation, SurveyResponse
from channels.intake import Intake
from tests.helpers import act

CFPB_WORKER = "caseworker@cfpb.example"
CFPB_SUPERVISOR = "supervisor@cfpb.example"
ADMIN = "admin@redress.example"
ALL_FIVES = {f: "5" for f in surveys.FIELDS}


def file_and_resolve(client, headers, **extra) -> str:
    body = {
        "description": "The bureau keeps a debt on my report that I paid.",
        "category": "credit-report",
        "email": "pat@example.org",
        **extra,
    }
    ref = client.post("/api/v1/complaints", json=body).json["reference"]
    act(client, headers, ref, action="resolve", resolution="The bureau removed the debt.")
    return ref


def survey_link(ref: str) -> str:
    item = db.session.scalar(
        db.select(OutboxItem)
        .where(OutboxItem.kind == "survey_invitation")
        .order_by(OutboxItem.id.desc())
    )
    assert item is not None and ref in item.body
    return re.search(r"/survey/[A-Za-z0-9_-]+", item.body).group(0)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_resolution_invites_by_email_and_the_answer_lands_on_the_case_once(client, staff_token):
    headers = staff_token(CFPB_WORKER)
    ref = file_and_resolve(client, headers)
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.kind == "survey_invitation"))
    assert (item.channel, item.recipient, item.language) == ("email", "pat@example.org", "en")
    assert item.subject == f"How did we do with your complaint {ref}?"
    link = survey_link(ref)
    # The case keeps a note of the invitation, never the token itself.
    case = client.get(f"/api/v1/cases/{ref}", headers=headers).json
    assert case["survey"]["channel"] == "email" and case["survey"]["response"] is None
    assert all(link not in m["body"] for m in case["messages"])

    page = client.get(link)
    assert page.status_code == 200
    words = text_of(page)
    assert (
        "I am satisfied with the service I received from Consumer Financial Protection Bureau."
        in words
    )
    assert (
        "This interaction increased my confidence in Consumer Financial Protection Bureau." in words
    )
    for wording in (
        "My need was addressed.",
        "It was easy to complete what I needed to do.",
        "It took a reasonable amount of time.",
        "I understood what was being asked of me throughout the process.",
        "I was treated fairly.",
        "Employees I interacted with were helpful.",
    ):
        assert wording in words
    for label in (
        "Strongly disagree",
        "Disagree",
        "Neither agree nor disagree",
        "Agree",
        "Strongly agree",
    ):
        assert label in words

    answers = {**ALL_FIVES, "efficiency": "2", "employee": "", "comment": "Quick once it started."}
    done = client.post(link, data=answers)
    assert done.status_code == 200 and "Thank you" in done.get_data(as_text=True)
    case = client.get(f"/api/v1/cases/{ref}", headers=headers).json
    response = case["survey"]["response"]
    assert response["answers"] == {
        "satisfaction": 5, "trust": 5, "effectiveness": 5, "ease": 5, "efficiency": 2,
        "transparency": 5, "humanity": 5, "employee": None,
    }  # fmt: skip
    assert response["comment"] == "Quick once it started."
    assert response["standard_met"] is True  # resolved within 60 days

    again = client.post(link, data=ALL_FIVES)
    assert again.status_code == 409 and "already been answered" in again.get_data(as_text=True)
    assert client.get(link).status_code == 409
    assert db.session.scalar(db.select(db.func.count(SurveyResponse.id))) == 1
    stored = db.session.scalar(db.select(SurveyResponse))
    assert stored.efficiency == 2 and stored.satisfaction == 5


def test_spanish_case_is_invited_and_asked_in_spanish(client, staff_token):
    ref = file_and_resolve(client, staff_token(CFPB_WORKER), language="es")
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.kind == "survey_invitation"))
    assert item.language == "es" and item.subject == f"¿Cómo atendimos su queja {ref}?"
    page = client.get(survey_link(ref))
    html = page.get_data(as_text=True)
    assert '<html lang="es">' in html
    words = text_of(page)
    # The agency is named in Spanish too (the demo directory translates it).
    agency = "Oficina para la Protección Financiera del Consumidor"
    assert f"Esta interacción aumentó mi confianza en la agencia {agency}." in words
    assert f"La agencia {agency} resolvió su queja" in words and "Consumer Financial" not in words
    assert agency in item.body
    assert "Totalmente de acuerdo" in words and "Me trataron de manera justa." in words


def test_sms_customer_is_invited_by_text_message(client, staff_token):
    ref = file_and_resolve(
        client, staff_token(CFPB_WORKER), email=None, phone="+12025550143", preferred_contact="sms"
    )
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.kind == "survey_invitation"))
    assert item.channel == "sms" and item.recipient == "+12025550143"
    assert ref in item.body and "/survey/" in item.body and item.subject is None


def test_no_invitation_without_a_way_to_reach_them_or_twice_for_one_case(client, staff_token):
    headers = staff_token(CFPB_WORKER)
    file_and_resolve(client, headers, preferred_contact="none")
    assert db.session.scalar(db.select(db.func.count(SurveyInvitation.id))) == 0
    ref = file_and_resolve(client, headers)
    client.post(
        f"/api/v1/cases/{ref}/actions",
        json={"action": "reopen", "reason": "Not fixed"},
        headers=headers,
    )
    act(client, headers, ref, action="resolve", resolution="Fixed now.")
    assert db.session.scalar(db.select(db.func.count(SurveyInvitation.id))) == 1


def test_forged_and_expired_tokens_get_a_plain_page_and_record_nothing(client, staff_token):
    ref = file_and_resolve(client, staff_token(CFPB_WORKER))
    link = survey_link(ref)
    forged = client.post("/survey/not-a-real-token-at-all", data=ALL_FIVES)
    assert forged.status_code == 404 and "Survey link not valid" in forged.get_data(as_text=True)
    with frozen_time(utcnow() + timedelta(days=31)):
        expired = client.post(link, data=ALL_FIVES)
    assert expired.status_code == 410 and "Survey closed" in expired.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(SurveyResponse.id))) == 0
    assert client.get(link).status_code == 200  # still open before it expires


def test_bad_answers_are_explained_and_nothing_is_recorded(client, staff_token):
    link = survey_link(file_and_resolve(client, staff_token(CFPB_WORKER)))
    bad = client.post(link, data={**ALL_FIVES, "trust": "7"})
    assert bad.status_code == 422
    assert "Choose one of the five answers" in bad.get_data(as_text=True)
    assert 'name="satisfaction" value="5" checked' in bad.get_data(as_text=True)  # kept
    empty = client.post(link, data={})
    assert empty.status_code == 422 and "Answer at least one question" in empty.get_data(
        as_text=True
    )
    long = client.post(link, data={"comment": "x" * 4001})
    assert long.status_code == 422
    assert db.session.scalar(db.select(db.func.count(SurveyResponse.id))) == 0


# --- Reports ----------------------------------------------------------------------------


def _resolved_case(category, resolved_at, *, contact="email", channel="web"):
    intake = Intake(
        channel=channel,
        description="Something went wrong and I would like it fixed.",
        category=category,
        email="lee@example.org" if contact == "email" else None,
        preferred_contact="none" if contact == "none" else None,
        received_at=resolved_at - timedelta(days=3),
    )
    case, _ = cases.open_case(intake, now=resolved_at - timedelta(days=3))
    worker = db.session.scalar(db.select(StaffUser).where(StaffUser.email == ADMIN))
    cases.act(case, "resolve", worker, {"resolution": "Done."}, now=resolved_at)
    return case


def _answer(case, at, **answers):
    invitation = db.session.scalar(
        db.select(SurveyInvitation).where(SurveyInvitation.case_id == case.id)
    )
    surveys.record_response(invitation, {f: answers.get(f) for f in surveys.FIELDS}, None, now=at)


@pytest.fixture
def seeded_quarter(app):
    """2026Q4: four CFPB credit-report cases (one unreachable), one FTC scam case; one
    CFPB case resolved in Q3 that must not count."""
    q4 = datetime(2026, 10, 20, 15, tzinfo=UTC)
    a = _resolved_case("credit-report", q4)
    b = _resolved_case("credit-report", q4 + timedelta(days=10), channel="email")
    c = _resolved_case("credit-report", q4 + timedelta(days=20))
    _resolved_case("credit-report", q4 + timedelta(days=30), contact="none")
    _resolved_case("scam", q4 + timedelta(days=5))
    old = _resolved_case("credit-report", datetime(2026, 9, 20, tzinfo=UTC))
    _answer(a, q4 + timedelta(days=1), satisfaction=5, trust=4, effectiveness=5, ease=4,
            efficiency=3, transparency=5, humanity=5, employee=5)  # fmt: skip
    _answer(
        b,
        q4 + timedelta(days=11),
        satisfaction=2,
        trust=1,
        effectiveness=2,
        ease=3,
        efficiency=1,
        transparency=2,
        humanity=4,
    )  # fmt: skip (employee skipped)
    _answer(c, q4 + timedelta(days=21), satisfaction=5, trust=5)
    _answer(old, datetime(2026, 9, 21, tzinfo=UTC), satisfaction=1)
    return {"a": a, "b": b}


# The table OMB collects for 2026Q4, worked out by hand from the seeded cases above.
HAND_TABLE = {
    ("CFPB", "credit-report"): {
        "customers_served": 4, "customers_offered": 3, "respondents": 3,
        "satisfaction": [0, 1, 0, 0, 2], "trust": [1, 0, 0, 1, 1],
        "effectiveness": [0, 1, 0, 0, 1], "ease": [0, 0, 1, 1, 0],
        "efficiency": [1, 0, 1, 0, 0], "transparency": [0, 1, 0, 0, 1],
        "humanity": [0, 0, 0, 1, 1], "employee": [0, 0, 0, 0, 1],
    },
    ("FTC", "scam"): {
        "customers_served": 1, "customers_offered": 1, "respondents": 0,
        **{f: [0, 0, 0, 0, 0] for f in surveys.FIELDS},
    },
}  # fmt: skip


def _csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_omb_export_for_a_quarter_equals_the_hand_computed_table(
    client, staff_token, seeded_quarter
):
    rows = _csv(client.get("/api/v1/surveys/export?quarter=2026Q4", headers=staff_token(ADMIN)))
    assert [(r["agency"], r["service_code"]) for r in rows] == list(HAND_TABLE)
    for row in rows:
        want = HAND_TABLE[(row["agency"], row["service_code"])]
        assert row["quarter"] == "2026Q4"
        for key in ("customers_served", "customers_offered", "respondents"):
            assert int(row[key]) == want[key], key
        for field in surveys.FIELDS:
            assert [int(row[f"{field}_{n}"]) for n in range(1, 6)] == want[field], field
    # Agency staff export their own agency only.
    own = _csv(
        client.get("/api/v1/surveys/export?quarter=2026q4", headers=staff_token(CFPB_SUPERVISOR))
    )
    assert [r["agency"] for r in own] == ["CFPB"]


def test_export_needs_staff_and_a_well_formed_quarter(client, staff_token):
    assert client.get("/api/v1/surveys/export?quarter=2026Q4").status_code == 401
    bad = client.get("/api/v1/surveys/export?quarter=Q4-2026", headers=staff_token(ADMIN))
    assert bad.status_code == 422 and "YYYYQn" in bad.json["errors"]["quarter"][0]
    empty = _csv(client.get("/api/v1/surveys/export?quarter=2019Q1", headers=staff_token(ADMIN)))
    assert empty == []


def test_supervisors_compare_by_channel_and_by_standard_met(client, staff_token, seeded_quarter):
    # Case b missed its resolve standard: its clock was met after it fell due.
    b = seeded_quarter["b"]
    response = db.session.scalar(db.select(SurveyResponse).where(SurveyResponse.case_id == b.id))
    response.standard_met = False
    db.session.commit()
    headers = staff_token(CFPB_SUPERVISOR)
    by_channel = client.get(
        "/api/v1/surveys/summary?by=channel&quarter=2026Q4", headers=headers
    ).json
    groups = {g["channel"]: g for g in by_channel["groups"]}
    assert groups["web"]["respondents"] == 2 and groups["email"]["respondents"] == 1
    assert groups["web"]["questions"]["satisfaction"] == {
        "answered": 2,
        "mean": 5.0,
        "agree_percent": 100.0,
    }
    assert groups["email"]["questions"]["employee"] == {
        "answered": 0,
        "mean": None,
        "agree_percent": None,
    }
    met = client.get("/api/v1/surveys/summary?by=standard_met", headers=headers).json
    by_met = {g["standard_met"]: g for g in met["groups"]}
    assert by_met["missed"]["questions"]["satisfaction"]["mean"] == 2.0
    assert by_met["met"]["respondents"] == 3  # a, c and the Q3 case
    ftc = client.get(
        "/api/v1/surveys/summary?by=agency", headers=staff_token("caseworker@ftc.example")
    ).json
    assert ftc["groups"] == []  # FTC's one case has no response; CFPB's are not theirs to see
    assert client.get("/api/v1/surveys/summary?by=mood", headers=headers).status_code == 422


def test_survey_without_csrf_token_keeps_the_answers_and_records_nothing(app, client, staff_token):
    from app import create_app

    link = survey_link(file_and_resolve(client, staff_token(CFPB_WORKER)))
    secured = create_app(
        "test", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True
    )
    browser = secured.test_client()
    try:
        page = browser.get(link)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(
            1
        )
        refused = browser.post(link, data={**ALL_FIVES, "comment": "Kept for you"})
        assert refused.status_code == 400
        assert "We could not accept the form" in refused.get_data(as_text=True)
        assert "Kept for you" in refused.get_data(as_text=True)
        assert db.session.scalar(db.select(db.func.count(SurveyResponse.id))) == 0
        accepted = browser.post(link, data={**ALL_FIVES, "csrf_token": token})
        assert accepted.status_code == 200
        assert db.session.scalar(db.select(db.func.count(SurveyResponse.id))) == 1
    finally:
        with secured.app_context():
            db.session.remove()
            db.engine.dispose()
