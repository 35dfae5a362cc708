"""The raw inbound store: input is kept before processing, outcomes recorded, failures retried."""

from __future__ import annotations

import pytest

from app.cases.models import Case
from app.common.time import utcnow
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage
from app.jobs import run_ready
from channels.intake import Intake

BROKEN = {"on": True}


def _test_processor(row: InboundMessage, now) -> None:
    """A stand-in channel for these tests: the raw bytes are the complaint text."""
    from app.cases import attachments
    from app.cases.service import open_case

    text = row.raw.decode()
    if text == "reject me":
        raise inbound.Rejected("empty complaint: nothing to act on")
    if text == "crash" and BROKEN["on"]:
        raise RuntimeError("parser bug")
    case, _ = open_case(
        Intake(channel="email", description=text, email="ana@example.org"),
        now=now,
        commit=False,
    )
    attachments.store(
        case, b"%PDF-1.4 lease", "../../etc/lease.pdf", "application/pdf", message=case.messages[0]
    )
    inbound.record(row, "case_opened", kind="new_case", case=case, message=case.messages[0])


@pytest.fixture
def test_channel(monkeypatch):
    monkeypatch.setitem(inbound.PROCESSORS, "email", f"{__name__}._test_processor")
    BROKEN["on"] = True


def _receive(raw: bytes, key: str | None = None) -> InboundMessage:
    row, _ = inbound.receive("email", "file", raw, dedupe_key=key, meta={"summary": "test"})
    db.session.commit()
    run_ready()
    db.session.expire_all()
    return db.session.get(InboundMessage, row.id)


def test_input_becomes_a_case_with_its_attachment(app, test_channel):
    row = _receive(b"The landlord kept my deposit.")
    assert row.outcome == "case_opened"
    case = row.case
    assert case.description == "The landlord kept my deposit."
    assert row.message.case_id == case.id
    (file,) = case.attachments
    assert file.filename == "lease.pdf"  # no path from the sender survives
    from app.cases.attachments import read

    assert read(file) == b"%PDF-1.4 lease"


def test_redelivery_with_the_same_key_is_one_row_and_one_case(app, test_channel):
    first = _receive(b"Noise at night", key="<abc@example.org>")
    second = _receive(b"Noise at night", key="<abc@example.org>")
    assert first.id == second.id
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1


def test_rejected_input_is_kept_failed_with_its_reason(app, test_channel):
    row = _receive(b"reject me")
    assert row.outcome == "failed"
    assert row.reason == "empty complaint: nothing to act on"
    assert row.raw == b"reject me"
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_a_crash_rolls_back_its_work_and_can_be_retried_after_a_fix(app, test_channel):
    row = _receive(b"crash")
    assert row.outcome == "failed" and "parser bug" in row.reason
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0
    BROKEN["on"] = False  # the fix is deployed
    inbound.retry(row.id)
    db.session.commit()
    run_ready()
    db.session.expire_all()
    row = db.session.get(InboundMessage, row.id)
    assert row.outcome == "case_opened" and row.attempts == 2
    assert row.case.description == "crash"


def test_operators_list_inbound_by_outcome_and_retry(app, client, staff_token, test_channel):
    ok = _receive(b"Pothole on Main St")
    bad = _receive(b"crash")
    admin = staff_token("admin@redress.example")
    got = client.get("/api/v1/inbound?outcome=failed", headers=admin).get_json()
    assert [r["id"] for r in got["inbound"]] == [bad.id]
    assert got["inbound"][0]["reason"].startswith("internal error (RuntimeError)")
    everything = client.get("/api/v1/inbound?channel=email&limit=1", headers=admin).get_json()
    assert everything["inbound"][0]["id"] == bad.id and everything["next_cursor"]
    page2 = client.get(
        f"/api/v1/inbound?limit=1&cursor={everything['next_cursor']}", headers=admin
    ).get_json()
    assert page2["inbound"][0]["id"] == ok.id and page2["inbound"][0]["case"]
    assert "raw" not in page2["inbound"][0]
    BROKEN["on"] = False
    again = client.post(f"/api/v1/inbound/{bad.id}/retry", headers=admin)
    assert again.status_code == 202
    db.session.expire_all()
    assert db.session.get(InboundMessage, bad.id).outcome == "case_opened"


def test_inbound_list_is_for_admins_and_validates_filters(app, client, staff_token):
    worker = staff_token("caseworker@cfpb.example")
    assert client.get("/api/v1/inbound", headers=worker).status_code == 403
    admin = staff_token("admin@redress.example")
    bad = client.get("/api/v1/inbound?outcome=lost", headers=admin)
    assert bad.status_code == 422 and "outcome" in bad.get_json()["errors"]


def test_staff_download_attachments_safely_and_only_their_agencys(
    app, client, staff_token, test_channel
):
    row = _receive(b"Mold in the apartment")
    case = row.case
    file = case.attachments[0]
    agency_staff = db.session.execute(
        db.text("SELECT email FROM staff_users WHERE agency_id = :a AND role = 'caseworker'"),
        {"a": case.agency_id},
    ).scalar()
    url = f"/api/v1/cases/{case.reference}/attachments/{file.id}"
    got = client.get(url, headers=staff_token(agency_staff))
    assert got.status_code == 200 and got.data == b"%PDF-1.4 lease"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    other = db.session.execute(
        db.text("SELECT email FROM staff_users WHERE agency_id != :a AND role = 'caseworker'"),
        {"a": case.agency_id},
    ).scalar()
    assert client.get(url, headers=staff_token(other)).status_code == 404
    full = client.get(
        f"/api/v1/cases/{case.reference}", headers=staff_token(agency_staff)
    ).get_json()
    assert full["attachments"][0]["filename"] == "lease.pdf"
    assert full["messages"][0]["attachments"][0]["url"] == url


def test_opted_out_number_gets_nothing_even_if_queued_before(app):
    from app.cases.service import open_case
    from app.customers.service import set_contact_status
    from app.notify.delivery import deliver
    from app.notify.models import OutboxItem

    case, _ = open_case(
        Intake(channel="sms", description="Broken streetlight", phone="+12025550143")
    )
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    item.state = "queued"
    set_contact_status("phone", "+12025550143", "opted_out", "STOP by SMS", utcnow())
    db.session.commit()
    assert deliver(item.id) == "failed"
    assert "opted out" in db.session.get(OutboxItem, item.id).last_error
