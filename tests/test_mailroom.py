"""Paper mail end to end: drop folder and upload to cases, review queue, letters and batches."""

from __future__ import annotations

import io
import os
import unicodedata
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from app.cases.models import Case
from app.extensions import db
from app.inbound.models import InboundMessage
from app.jobs import run_ready
from app.mailroom.drop import process_folder
from app.notify.models import OutboxItem
from channels.mail_scans.extract import ocr_available
from tests.helpers import NY, SHARED_DATA, act
from tests.scans import drop_files as _drop
from tests.scans import image_bytes, image_only_pdf, render_page, text_pdf

needs_ocr = pytest.mark.skipif(
    not ocr_available() and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="tesseract is not installed (apt-get install tesseract-ocr)",
)
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday after Thanksgiving, 10:00 in DC

DEBT = """Dear Sir or Madam,

A debt collector calls me at work every day about a
credit card debt that I paid off in 2024. Please make them stop.

Sincerely,
Maria Lopez"""
HOUSING = """To whom it may concern,

My landlord refused to rent an apartment to me because
I use a wheelchair. He said the building is not for disabled people.

Thank you,
Robert Chen
88 Pine Street
Albany, NY 12207"""


def _case(row_or_ref) -> Case:
    ref = row_or_ref if isinstance(row_or_ref, str) else row_or_ref.case.reference
    return db.session.scalar(db.select(Case).where(Case.reference == ref))


@needs_ocr
def test_drop_folder_scans_become_routed_cases_with_clocks_from_the_received_date(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(
        drop,
        {
            "debt.png": image_bytes(render_page(DEBT)),
            "housing.pdf": image_only_pdf([render_page(HOUSING, seed=11)]),
            "typed.pdf": text_pdf(DEBT.replace("Maria Lopez", "Ann Ray")),
        },
        {
            "batch": "2026-11-30-A",
            "files": [
                {
                    "file": "debt.png",
                    "received": "2026-11-20",
                    "return_address": "42 Oak Avenue, Apt 3, Springfield, IL 62704",
                },
                {"file": "housing.pdf", "received": "2026-11-25"},
            ],
        },
    )
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.failed) == (3, 0), report.lines
    assert sorted(p.name for p in (drop / "done").iterdir()) == [
        "debt.png",
        "housing.pdf",
        "manifest.json",
        "typed.pdf",
    ]
    rows = {r.meta["filename"]: r for r in db.session.scalars(db.select(InboundMessage))}
    debt, housing, typed = (_case(rows[n]) for n in ("debt.png", "housing.pdf", "typed.pdf"))
    assert "debt collector calls me at work" in " ".join(debt.description.split())
    assert debt.agency.code == "CFPB" and housing.agency.code == "HUD-FHEO"
    assert debt.channel == "mail" and debt.preferred_contact == "mail"
    # The clocks start when the agency received the letter, not when it was scanned.
    assert debt.received_at == datetime(2026, 11, 20, tzinfo=NY)
    assert all(c.started_at == debt.received_at for c in debt.clocks)
    assert typed.received_at.date() != debt.received_at.date()
    resolve_debt = next(c for c in debt.clocks if c.metric == "resolve")
    resolve_typed = next(c for c in typed.clocks if c.metric == "resolve")
    assert resolve_debt.due_at < resolve_typed.due_at
    # The case says where its date came from, and offers the contacts the letter gives.
    assert any("batch manifest" in (e.detail or "") for e in debt.events)
    assert any("file's time" in (e.detail or "") for e in typed.events)
    assert housing.customer.name == "Robert Chen"
    assert housing.messages[0].meta["contact_suggestions"]["addresses"] == [
        "88 Pine Street, Albany, NY 12207"
    ]
    assert debt.customer.contact("postal") == "42 Oak Avenue, Apt 3, Springfield, IL 62704"
    # The scan is on the case, beside its text.
    (scan,) = debt.attachments
    assert scan.disposition == "scan" and scan.content_type == "image/png"


def test_dropping_the_same_file_twice_opens_one_case(app, tmp_path):
    drop = tmp_path / "drop"
    data = text_pdf(DEBT)
    _drop(drop, {"letter.pdf": data})
    assert process_folder(drop, now=NOW).opened == 1
    _drop(drop, {"letter-again.pdf": data})
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.duplicates) == (0, 1)
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1
    reason = (drop / "done" / "letter-again.pdf.reason.txt").read_text()
    assert "Already received" in reason


def test_bad_files_go_to_failed_with_a_reason_and_nothing_is_lost(app, tmp_path):
    drop = tmp_path / "drop"
    files = {
        "empty.pdf": b"",
        "broken.pdf": b"%PDF-1.7\n%garbage that is not a pdf",
        "locked.pdf": text_pdf(DEBT, password="secret"),
        "notes.docx": b"PK\x03\x04 word document",
    }
    _drop(drop, files)
    report = process_folder(drop, now=NOW)
    assert report.failed == 4 and report.opened == 0
    failed = drop / "failed"
    for name, data in files.items():
        assert (failed / name).read_bytes() == data  # kept as dropped
    assert "empty" in (failed / "empty.pdf.reason.txt").read_text()
    assert "password-protected" in (failed / "locked.pdf.reason.txt").read_text()
    assert "Not a scan type" in (failed / "notes.docx.reason.txt").read_text()
    kept = db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)).all()
    assert {r.outcome for r in kept} == {"failed"} and len(kept) == 3  # the .docx never parsed


def test_a_bad_manifest_holds_back_the_batch_with_the_reason(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(
        drop,
        {"a.pdf": text_pdf(DEBT)},
        {"files": [{"file": "a.pdf", "received": "2026-11-20"}, {"file": "missing.pdf"}]},
    )
    report = process_folder(drop, now=NOW)
    assert report.failed == 1 and report.opened == 0
    assert "no such file" in (drop / "failed" / "manifest.json.reason.txt").read_text()
    assert "drop the files again" in (drop / "failed" / "a.pdf.reason.txt").read_text()
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_an_entry_with_a_bad_date_fails_alone(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(
        drop,
        {"a.pdf": text_pdf(DEBT), "b.pdf": text_pdf(HOUSING)},
        {"files": [{"file": "a.pdf", "received": "2026-02-30"}, {"file": "b.pdf"}]},
    )
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.failed) == (1, 1)
    assert "received must be a date" in (drop / "failed" / "a.pdf.reason.txt").read_text()


@needs_ocr
def test_a_poor_scan_goes_to_review_and_is_routed_after_correction(
    app, client, staff_token, tmp_path
):
    drop = tmp_path / "drop"
    smudged = render_page("~ ~", noise=0.003, seed=5)  # a faint page: a few marks, nothing legible
    _drop(drop, {"smudge.png": image_bytes(smudged)})
    report = process_folder(drop, now=NOW)
    assert report.review == 1, report.lines
    case = _case(db.session.scalar(db.select(InboundMessage)))
    assert case.has_flag("scan_review")
    assert case.agency.code == "USAGOV"  # the front door reads it; not misrouted on noise
    lead = staff_token("triage@usagov.example")
    queue = client.get("/api/v1/mailroom/review", headers=lead).get_json()["cases"]
    assert [c["reference"] for c in queue] == [case.reference]
    assert queue[0]["scan_url"].endswith(f"/attachments/{case.attachments[0].id}")
    assert "characters could be read" in queue[0]["reason"] or "confidence" in queue[0]["reason"]
    fixed = client.post(
        f"/api/v1/mailroom/review/{case.reference}",
        json={"text": "A debt collector calls me at work every day about a paid debt."},
        headers=lead,
    )
    assert fixed.status_code == 200 and fixed.get_json()["transferred_to"] == "CFPB"
    db.session.expire_all()
    case = _case(case.reference)
    assert case.agency.code == "CFPB" and not case.has_flag("scan_review")
    # What OCR read stays as received; the correction is a version beside it.
    first = case.messages[0]
    assert first.body != first.current_body
    assert first.current_body == case.description
    assert first.current_body.startswith("A debt collector calls me")
    assert client.get("/api/v1/mailroom/review", headers=lead).get_json()["cases"] == []


def test_without_ocr_installed_image_scans_wait_for_review_with_a_clear_message(
    app, tmp_path, monkeypatch
):
    monkeypatch.setenv("TESSERACT_CMD", "/nonexistent/tesseract")
    drop = tmp_path / "drop"
    _drop(drop, {"letter.png": image_bytes(render_page(DEBT))})
    report = process_folder(drop, now=NOW)
    assert report.review == 1
    row = db.session.scalar(db.select(InboundMessage))
    assert "OCR is not installed" in row.reason
    assert row.case.has_flag("scan_review")


def _letter_from_a_mail_customer(tmp_path) -> None:
    """A debt-collection letter with the envelope's return address: a mail customer's case."""
    drop = tmp_path / "drop"
    _drop(
        drop,
        {"a.pdf": text_pdf(DEBT)},
        {"files": [{"file": "a.pdf", "return_address": "42 Oak Avenue, Springfield, IL 62704"}]},
    )
    process_folder(drop, now=NOW)


def test_mail_customer_gets_a_printed_acknowledgment_through_a_print_batch(
    app, client, staff_token, tmp_path
):
    _letter_from_a_mail_customer(tmp_path)
    run_ready()  # the acknowledgment's delivery job (inline mode)
    case = db.session.scalar(db.select(Case))
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    assert item.channel == "mail" and item.state == "sent" and item.kind == "acknowledgment"
    admin = staff_token("admin@redress.example")
    waiting = client.get("/api/v1/mailroom/letters", headers=admin).get_json()["letters"]
    assert [w["case"] for w in waiting] == [case.reference]
    batch = client.post("/api/v1/mailroom/batches", headers=admin)
    assert batch.status_code == 201 and batch.get_json()["letters"] == 1
    batch_id = batch.get_json()["id"]
    pdf = client.get(f"/api/v1/mailroom/batches/{batch_id}/pdf", headers=admin)
    assert pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert case.reference in text and "Maria Lopez" in text and "Springfield, IL 62704" in text
    assert client.post("/api/v1/mailroom/batches", headers=admin).status_code == 409  # none left
    mailed = client.post(f"/api/v1/mailroom/batches/{batch_id}/mailed", headers=admin)
    assert mailed.get_json()["state"] == "mailed"
    assert (
        client.post(f"/api/v1/mailroom/batches/{batch_id}/mailed", headers=admin).status_code == 409
    )
    full = client.get(f"/api/v1/cases/{case.reference}", headers=admin).get_json()
    ack = next(m for m in full["messages"] if m["direction"] == "outbound")
    assert ack["delivery"][0]["state"] == "delivered"
    assert any(e["kind"] == "letter_mailed" for e in full["events"])
    worker = staff_token("caseworker@cfpb.example")
    assert client.get("/api/v1/mailroom/batches", headers=worker).status_code == 403


def test_mailroom_upload_opens_cases_and_validates(app, client, staff_token):
    clerk = staff_token("triage@usagov.example")
    got = client.post(
        "/api/v1/mailroom/scans",
        data={
            "received": "2026-11-20",
            "return_address": "88 Pine Street, Albany, NY 12207",
            "file": (io.BytesIO(text_pdf(HOUSING)), "housing.pdf"),
        },
        headers=clerk,
        content_type="multipart/form-data",
    )
    assert got.status_code == 201, got.get_json()
    (result,) = got.get_json()["results"]
    assert result["outcome"] == "case_opened" and not result["duplicate"]
    assert _case(result["case"]).agency.code == "HUD-FHEO"
    none = client.post(
        "/api/v1/mailroom/scans", data={}, headers=clerk, content_type="multipart/form-data"
    )
    assert none.status_code == 422 and "file" in none.get_json()["errors"]
    future = client.post(
        "/api/v1/mailroom/scans",
        data={"received": "2099-01-01", "file": (io.BytesIO(b"x"), "x.pdf")},
        headers=clerk,
        content_type="multipart/form-data",
    )
    assert future.status_code == 422 and "received" in future.get_json()["errors"]


def test_cli_intake_scans_reports_each_file_and_fails_when_one_fails(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(drop, {"good.pdf": text_pdf(DEBT), "bad.pdf": b""})
    runner = CliRunner()
    from app.cli import intake

    result = runner.invoke(intake, ["scans", str(drop)], obj=None)
    assert result.exit_code == 1, result.output
    assert "opened  good.pdf: case RX-" in result.output
    assert "failed  bad.pdf: The file is empty" in result.output
    missing = runner.invoke(intake, ["scans", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "not a folder" in missing.output


OCR_SAMPLES = SHARED_DATA / "ocr_testimages"
REAL_SCANS = {  # Tesseract's own test pages and their ground truth; the limit we hold to
    "phototest.tif": ("phototest.gold.txt", 0.05),
    "phototest-rotated-180.png": ("phototest.gold.txt", 0.05),
    "8071_093.3B.tif": ("8071_093.3B.txt", 0.10),
    "8087_054.3B.tif": ("8087_054.3B.txt", 0.10),
}


def character_error_rate(expected: str, got: str) -> float:
    """Edit distance over the ground truth's length; spacing and curly quotes folded."""
    quotes = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
    a = " ".join(unicodedata.normalize("NFKC", expected).translate(quotes).split())
    b = " ".join(unicodedata.normalize("NFKC", got).translate(quotes).split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(len(a), 1)


@needs_ocr
@pytest.mark.skipif(not OCR_SAMPLES.is_dir(), reason="shared OCR samples not present")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # OCR is the same on both
def test_real_scans_become_cases_read_within_a_measured_error_rate(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(drop, {name: (OCR_SAMPLES / name).read_bytes() for name in REAL_SCANS})
    report = process_folder(drop, now=NOW)
    assert report.failed == 0, report.lines
    rows = {r.meta["filename"]: r for r in db.session.scalars(db.select(InboundMessage))}
    rates = {}
    for name, (truth, limit) in REAL_SCANS.items():
        case = _case(rows[name])
        expected = (OCR_SAMPLES / truth).read_text(errors="replace")
        rates[name] = character_error_rate(expected, case.description)
        assert rates[name] < limit, (name, rates[name])
    print("character error rates:", {k: f"{v:.2%}" for k, v in rates.items()})


def test_a_mail_customer_is_invited_to_the_survey_by_letter_with_a_code_to_type(
    app, client, staff_token, tmp_path
):
    import re

    _letter_from_a_mail_customer(tmp_path)
    run_ready()
    case = db.session.scalar(db.select(Case))
    worker = staff_token("caseworker@cfpb.example")
    act(
        client,
        worker,
        case.reference,
        action="resolve",
        resolution="The collector has stopped calling.",
    )
    run_ready()
    letter = db.session.scalar(db.select(OutboxItem).where(OutboxItem.kind == "survey_invitation"))
    assert letter.channel == "mail" and letter.state == "sent"
    from app.mailroom.letters import letter_path

    text = PdfReader(io.BytesIO(letter_path(letter).read_bytes())).pages[0].extract_text()
    code = re.search(r"survey code is ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})", text).group(1)
    assert f"/survey/{code}" in text
    typed = code.replace("-", "").lower()  # as a person might type it
    page = client.get(f"/survey/{typed}")
    assert page.status_code == 200 and "My need was addressed" in page.get_data(as_text=True)
