"""Evidence is append-only: what a customer sent is never overwritten. The mailroom's review
corrects only a scan awaiting review, and the correction is a version beside the OCR text
(issue 14, attack 9)."""

from __future__ import annotations

import pytest

from app.cases.models import Case, MessageVersion
from app.extensions import db
from app.mailroom.drop import ingest
from channels.mail_scans.manifest import ManifestEntry
from tests.scans import image_bytes, render_page
from tests.workspace_support import sign_in

TRIAGE = "triage@usagov.example"
CFPB_WORKER = "caseworker@cfpb.example"
ORIGINAL = "A debt collector calls me at work every day about a debt I already paid."
LETTER = "My landlord refused to rent to me because I use a wheelchair. Robert Chen"


def case_of(reference: str) -> Case:
    db.session.expire_all()
    return db.session.scalar(db.select(Case).where(Case.reference == reference))


def record(reference: str) -> tuple:
    case = case_of(reference)
    return (
        case.description,
        [(m.direction, m.body) for m in case.messages],
        db.session.scalar(db.select(db.func.count(MessageVersion.id))),
        case.agency.code,
    )


@pytest.fixture
def scan_awaiting_review(app, monkeypatch) -> str:
    """A letter nobody could read yet (no OCR on this server): it waits for a person."""
    monkeypatch.setenv("TESSERACT_CMD", "/nonexistent/tesseract")
    row, _ = ingest(
        image_bytes(render_page("~", size=(2, 1))),
        "letter.png",
        (ManifestEntry("", None), None),
        source="upload",
    )
    assert row.case.has_flag("scan_review")
    return row.case.reference


def test_the_review_endpoint_refuses_an_api_complaint_and_changes_nothing(client, staff_token):
    created = client.post("/api/v1/complaints", json={"description": ORIGINAL})
    reference = created.get_json()["reference"]
    before = record(reference)
    worker = staff_token(CFPB_WORKER)
    r = client.post(
        f"/api/v1/mailroom/review/{reference}",
        json={"text": "I withdraw my complaint.", "reroute": True},
        headers=worker,
    )
    assert r.status_code == 409
    assert record(reference) == before
    assert case_of(reference).messages[0].body == ORIGINAL
    (refused,) = [e for e in case_of(reference).events if e.kind == "correction_refused"]
    assert refused.actor.email == CFPB_WORKER
    # The review page does not open on it either.
    sign_in(client, CFPB_WORKER)
    assert client.get(f"/staff/mailroom/review/{reference}").status_code == 404
    page = client.post(f"/staff/mailroom/review/{reference}", data={"text": "x"})
    assert page.status_code == 404
    assert record(reference) == before


def test_a_correction_is_a_version_beside_the_ocr_text(client, staff_token, scan_awaiting_review):
    reference = scan_awaiting_review
    read = case_of(reference).messages[0].body
    lead = staff_token(TRIAGE)
    r = client.post(f"/api/v1/mailroom/review/{reference}", json={"text": LETTER}, headers=lead)
    assert r.status_code == 200 and r.get_json()["transferred_to"] == "HUD-FHEO"
    case = case_of(reference)
    first = case.messages[0]
    assert first.body == read  # what OCR read, as received
    assert [(v.body, v.reason, v.author.email) for v in first.versions] == [
        (LETTER, "ocr_review", TRIAGE)
    ]
    assert case.description == LETTER  # the case is worked and routed on the correction
    (event,) = [e for e in case.events if e.kind == "scan_text_corrected"]
    assert event.actor.email == TRIAGE
    full = client.get(
        f"/api/v1/cases/{reference}", headers=staff_token("admin@redress.example")
    ).get_json()
    assert full["messages"][0]["body"] == read
    assert full["messages"][0]["versions"][0]["body"] == LETTER
    assert full["messages"][0]["versions"][0]["author"] == TRIAGE
    # The case page shows both, and who corrected it when.
    sign_in(client, "admin@redress.example")
    html = client.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Corrected by" in html and LETTER in html and "As received:" in html


def test_a_scan_is_corrected_once_through_review(client, staff_token, scan_awaiting_review):
    reference = scan_awaiting_review
    lead = staff_token(TRIAGE)
    client.post(
        f"/api/v1/mailroom/review/{reference}", json={"text": LETTER, "reroute": False},
        headers=lead,
    )  # fmt: skip
    before = record(reference)
    again = client.post(
        f"/api/v1/mailroom/review/{reference}", json={"text": "Something else."}, headers=lead
    )
    assert again.status_code == 409
    assert record(reference) == before


def test_upgrading_restores_what_an_old_correction_overwrote(tmp_path):
    """Before revision 0010 a correction replaced the message (the original kept in its
    meta); the upgrade puts the original back and keeps the correction as a version. It also
    gives existing cases their contacts and proves a customer's only contact."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    application = create_app("test", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with application.app_context():
        upgrade(revision="0009")
        run = db.session.execute

        def insert(table: str, **values) -> None:
            names = ", ".join(values)
            marks = ", ".join(f":{k}" for k in values)
            run(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)  # noqa: S608

        at, later = "2026-11-30 15:00:00", "2026-12-01 09:00:00"
        # The schema as it was at 0009, written by hand: today's models (and so the demo
        # loader) describe columns that later revisions add.
        insert("calendars", id=1, code="federal", name="Federal", timezone="America/New_York",
               hours="{}", holiday_country="US")  # fmt: skip
        insert("agencies", id=1, code="CFPB", name="CFPB", calendar_id=1)
        agency = 1
        for cid in (1, 2):
            insert("customers", id=cid, language="en", created_at=at)
            insert(
                "cases", id=cid, reference=f"RX-TEST-000{cid}", status="new", channel="api",
                priority="normal", agency_id=agency, customer_id=cid,
                description="I withdraw it.", language="en", received_at=at, created_at=at,
                updated_at=at,
            )  # fmt: skip
        points = [
            (1, "email", "victim1@example.org", at),
            (2, "email", "pat@example.org", at),
            (2, "phone", "+12025550188", later),  # attached after the case was opened
        ]
        for cid, kind, value, when in points:
            insert(
                "contact_points", customer_id=cid, kind=kind, value=value, status="ok",
                created_at=when,
            )  # fmt: skip
        insert(
            "messages", case_id=1, direction="inbound", channel="api", body="I withdraw it.",
            created_at=at, meta='{"ocr_text": "' + ORIGINAL + '"}',
        )  # fmt: skip
        insert("events", case_id=1, kind="scan_text_corrected", actor_type="system", at=later)
        db.session.commit()
        upgrade()
        message = run(text("SELECT id, body, meta FROM messages WHERE case_id = 1")).one()
        assert message.body == ORIGINAL and "ocr_text" not in message.meta
        version = run(text("SELECT body, reason FROM message_versions")).one()
        assert (version.body, version.reason) == ("I withdraw it.", "ocr_review")
        assert run(text("SELECT description FROM cases WHERE id = 1")).scalar() == ORIGINAL
        contacts = run(text("SELECT case_id, value FROM case_contacts ORDER BY case_id")).all()
        assert [tuple(c) for c in contacts] == [(1, "victim1@example.org"), (2, "pat@example.org")]
        proven = run(text("SELECT value, proven_by FROM contact_points ORDER BY id")).all()
        assert [tuple(p) for p in proven] == [
            ("victim1@example.org", "intake"),
            ("pat@example.org", None),  # a customer with two contacts: neither is proven
            ("+12025550188", None),
        ]
        db.session.remove()
        db.engine.dispose()
