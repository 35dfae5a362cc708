"""The messy-email fixture set (tests/fixtures/email/make_fixtures.py): every message goes
through the file door and the real pipeline, and its declared outcome is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cases.models import Case
from app.cases.service import act, open_case
from app.customers.models import ContactPoint
from app.email.intake import accept
from app.extensions import db
from app.inbound.models import InboundMessage
from app.jobs import run_ready
from app.notify.models import OutboxItem
from app.staff.models import StaffUser
from channels.intake import Intake

HERE = Path(__file__).parent / "fixtures" / "email"
EXPECTED: dict[str, dict] = json.loads((HERE / "expected.json").read_text())
ANA_CASE, BOB_CASE = "RX-TEST-001E", "RX-TEST-002C"
OUR_ID = "<ack-fixture-001.0a43e63fcbe984ac59b0@redress.localhost>"


def test_the_fixture_set_covers_every_outcome():
    assert len(EXPECTED) >= 40
    files = {p.name for p in (HERE / "messages").glob("*.eml")}
    assert files == set(EXPECTED)
    outcomes = {e["outcome"] for e in EXPECTED.values()}
    assert outcomes == {"case_opened", "threaded", "ignored", "failed"}
    kinds = {e.get("kind") for e in EXPECTED.values()}
    assert {"new_case", "reply", "auto_reply", "bounce", "loop"} <= kinds


def _open(email: str, name: str, text: str, reference: str) -> Case:
    case, _ = open_case(
        Intake(channel="email", description=text, email=email, name=name), commit=False
    )
    case.reference = reference
    db.session.commit()
    return case


@pytest.fixture
def two_cases(app):
    """Ana's case (waiting on her, our acknowledgment's Message-ID known) and Bob's."""
    app.config["EMAIL_MAX_ATTACHMENT_BYTES"] = 50_000
    ana = _open(
        "ana@example.org", "Ana Ruiz", "Equifax lists an account that is not mine.", ANA_CASE
    )
    run_ready()
    ack = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == ana.id))
    ack.provider_ref = OUR_ID
    worker = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == "caseworker@cfpb.example")
    )
    act(ana, "request_info", worker, {"body": "Which account number is it?"})
    _open("bob@example.org", "Bob Lee", "My landlord kept my deposit.", BOB_CASE)
    run_ready()
    yield
    app.config["EMAIL_MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024


def _case(reference: str) -> Case:
    return db.session.scalar(db.select(Case).where(Case.reference == reference))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_message_has_its_expected_outcome(app, two_cases, name):
    expected = EXPECTED[name]
    ana_messages = len(_case(ANA_CASE).messages)
    row, created = accept((HERE / "messages" / name).read_bytes(), "file", {"file": name})
    db.session.commit()
    run_ready()
    db.session.expire_all()
    row = db.session.get(InboundMessage, row.id)
    assert created
    assert row.outcome == expected["outcome"], row.reason
    if "kind" in expected:
        assert row.kind == expected["kind"]
    if "reason_contains" in expected:
        assert expected["reason_contains"] in row.reason
    cases = db.session.scalar(db.select(db.func.count(Case.id)))
    if expected["outcome"] != "case_opened":
        assert cases == 2  # nothing opened for an ignore, a reply or a rejection
    if expected["outcome"] in ("ignored", "failed"):
        assert row.case is None and row.message is None
        assert len(_case(ANA_CASE).messages) == ana_messages
        return
    case, message = row.case, row.message
    assert message.case_id == case.id and message.direction == "inbound"
    if expected["outcome"] == "case_opened":
        assert cases == 3 and case.channel == "email"
        assert case.reference not in (ANA_CASE, BOB_CASE)
        ack = db.session.scalar(
            db.select(OutboxItem).where(
                OutboxItem.case_id == case.id, OutboxItem.kind == "acknowledgment"
            )
        )
        assert ack is not None and ack.recipient == case.customer.contact("email")
        assert case.messages[0].id == message.id
    if "case" in expected:
        assert case.reference == expected["case"]
        assert len(case.messages) == ana_messages + 1
    if "agency" in expected:
        assert case.agency.code == expected["agency"]
    if "priority" in expected:
        assert case.priority == expected["priority"]
    if "language" in expected:
        assert case.language == expected["language"]
    if "subject" in expected:
        assert expected["subject"] in (case.subject or "")
    if "customer_name" in expected:
        assert case.customer.name == expected["customer_name"]
    for text in expected.get("text_contains", []):
        assert text in message.body
    for text in expected.get("text_excludes", []):
        assert text not in message.body
    if "body" in expected:
        assert message.body == expected["body"]
    if "attachments" in expected:
        got = sorted([a.filename, a.disposition] for a in message.attachments)
        assert got == sorted(expected["attachments"])
    if "note_contains" in expected:
        assert any(expected["note_contains"] in n for n in message.meta.get("notes", []))
    if "related" in expected:
        related = case.related_case.reference if case.related_case else None
        assert related == expected["related"]
    if "flag" in expected:
        assert case.has_flag(expected["flag"])
    if expected.get("resumed"):
        assert case.status == expected["status_after"]
        event = case.events[-1]
        assert event.kind == "customer_replied" and event.after["resumed"]


@pytest.mark.parametrize(
    "name", sorted(n for n, e in EXPECTED.items() if e.get("kind") == "bounce")
)
def test_bounce_marks_the_address_and_flags_open_cases(app, two_cases, name):
    expected = EXPECTED[name]
    row, _ = accept((HERE / "messages" / name).read_bytes(), "file")
    db.session.commit()
    run_ready()
    db.session.expire_all()

    def status(address: str) -> str:
        return db.session.scalar(
            db.select(ContactPoint.status).where(ContactPoint.value == address)
        )

    if "undeliverable" in expected:
        assert status(expected["undeliverable"]) == "undeliverable"
        assert _case(ANA_CASE).has_flag("contact_undeliverable")
        assert "marked undeliverable" in db.session.get(InboundMessage, row.id).reason
    if "still_ok" in expected:
        assert status(expected["still_ok"]) == "ok"
    if "undeliverable" not in expected:
        assert not _case(ANA_CASE).has_flag("contact_undeliverable")
