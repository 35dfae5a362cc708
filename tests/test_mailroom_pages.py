"""The mailroom in the staff workspace: upload, read a poor scan beside its text, print batches."""

from __future__ import annotations

import io
import os

import pytest

from app.cases.models import Case
from app.extensions import db
from app.jobs import run_ready
from app.mailroom.drop import ingest
from channels.mail_scans.extract import ocr_available
from channels.mail_scans.manifest import ManifestEntry
from tests.scans import image_bytes, render_page, text_pdf
from tests.workspace_support import ADMIN, CFPB_WORKER, sign_in, text_of

TRIAGE = "triage@usagov.example"
HOUSING = """To whom it may concern,

My landlord refused to rent an apartment to me because
I use a wheelchair. He said the building is not for disabled people.

Thank you,
Robert Chen"""
needs_ocr = pytest.mark.skipif(
    not ocr_available() and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="tesseract is not installed (apt-get install tesseract-ocr)",
)


def _case(ref: str) -> Case:
    return db.session.scalar(db.select(Case).where(Case.reference == ref))


def test_a_clerk_uploads_scans_and_sees_what_became_of_each(client):
    sign_in(client, TRIAGE)
    page = client.post(
        "/staff/mailroom/",
        data={
            "received": "2026-11-20",
            "return_address": "88 Pine Street, Albany, NY 12207",
            "file": [(io.BytesIO(text_pdf(HOUSING)), "chen.pdf"), (io.BytesIO(b""), "blank.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 200
    words = text_of(page)
    case = db.session.scalar(db.select(Case))
    assert f"chen.pdf: case {case.reference} opened for" in words
    assert "blank.pdf: not processed: The file is empty" in words
    assert case.agency.code == "HUD-FHEO" and case.customer.contact("postal")


def test_upload_form_explains_what_is_wrong(client):
    sign_in(client, TRIAGE)
    page = client.post(
        "/staff/mailroom/",
        data={"received": "27/11/2026"},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    words = text_of(page)
    assert "Choose at least one scan to upload." in words
    assert "Received date: use the form YYYY-MM-DD" in words


@needs_ocr
def test_a_poor_scan_is_read_beside_its_picture_and_routed(client):
    smudged = image_bytes(render_page("~ ~", noise=0.003, seed=5))
    entry = (ManifestEntry("", None), None)
    row, _ = ingest(smudged, "smudge.png", entry, source="upload")
    case = row.case
    sign_in(client, TRIAGE)
    home = text_of(client.get("/staff/mailroom/"))
    assert f"Read {case.reference}" in home
    review = client.get(f"/staff/mailroom/review/{case.reference}")
    html = review.get_data(as_text=True)
    scan = case.attachments[0]
    picture = f"/staff/mailroom/scans/{scan.id}/page-1.png"
    assert picture in html and 'alt="Page 1 of the scanned letter' in html
    png = client.get(picture)
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    done = client.post(
        f"/staff/mailroom/review/{case.reference}",
        data={"text": HOUSING, "reroute": "yes"},
    )
    assert done.status_code == 302  # transferred away from the front door
    db.session.expire_all()
    case = _case(case.reference)
    assert case.agency.code == "HUD-FHEO" and not case.has_flag("scan_review")


def test_staff_of_another_agency_cannot_read_a_scan(client):
    row, _ = ingest(text_pdf(HOUSING), "chen.pdf", (ManifestEntry("", None), None), source="upload")
    case, scan = row.case, row.case.attachments[0]
    assert case.agency.code == "HUD-FHEO"
    sign_in(client, CFPB_WORKER)
    assert client.get(f"/staff/mailroom/review/{case.reference}").status_code == 404
    assert client.get(f"/staff/mailroom/scans/{scan.id}/page-1.png").status_code == 404
    assert (
        client.post(f"/staff/mailroom/review/{case.reference}", data={"text": "x"}).status_code
        == 404
    )
    assert client.get("/staff/mailroom/letters").status_code == 403


def test_the_admin_prints_a_batch_and_marks_it_mailed(client):
    ingest(
        text_pdf(HOUSING),
        "chen.pdf",
        (ManifestEntry("", None, "88 Pine Street, Albany, NY 12207"), None),
        source="upload",
    )
    run_ready()
    sign_in(client, ADMIN)
    page = text_of(client.get("/staff/mailroom/letters"))
    assert "Make a print batch of 1 letter" in page
    client.post("/staff/mailroom/letters", data={"action": "batch"})
    page = client.get("/staff/mailroom/letters", follow_redirects=True)
    assert "Print batch 1 has 1 letter(s)" in text_of(page) or "not yet" in text_of(page)
    from app.mailroom.models import PrintBatch

    batch = db.session.scalar(db.select(PrintBatch))
    pdf = client.get(f"/staff/mailroom/letters/batches/{batch.id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    client.post("/staff/mailroom/letters", data={"action": "mailed", "batch": batch.id})
    db.session.expire_all()
    assert db.session.get(PrintBatch, batch.id).state == "mailed"
    again = client.post(
        "/staff/mailroom/letters",
        data={"action": "mailed", "batch": batch.id},
        follow_redirects=True,
    )
    assert "already marked mailed" in text_of(again)
