"""Reading scanned letters (no database): text layers, real OCR, contacts, manifests, letters."""

from __future__ import annotations

import io
import os
import resource
import shutil
import time
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from channels.letters import LetterSender, address_lines
from channels.mail_scans.extract import (
    MAX_PAGES,
    ScanError,
    extract,
    ocr_available,
    prepare_for_ocr,
)
from channels.mail_scans.letter_text import find_contacts
from channels.mail_scans.manifest import ManifestError, parse_manifest
from channels.mail_scans.sandbox import Limits, read_in_child
from channels.senders import OutboundMessage
from tests.scans import (
    fax_bomb_pdf,
    fax_pdf,
    image_bytes,
    image_only_pdf,
    jbig2_pdf,
    multipage_tiff,
    png_bomb,
    render_page,
    text_pdf,
)

# Under REQUIRE_SERVICES=1 (CI) a missing Tesseract fails these tests instead of skipping.
needs_ocr = pytest.mark.skipif(
    not ocr_available() and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="tesseract is not installed (apt-get install tesseract-ocr)",
)

LETTER = """Dear Sir or Madam,

A debt collector calls me at work every day about a
credit card debt that I paid off in 2024.

Please make them stop. You can call me at (202) 555-0143.

Sincerely,
Maria Lopez
42 Oak Avenue, Apt 3
Springfield, IL 62704"""


def _words(text: str) -> str:
    return " ".join(text.replace("|", "I").split())


def test_pdf_text_layer_is_read_without_ocr():
    scan = extract(text_pdf(LETTER))
    assert scan.kind == "pdf" and scan.pages[0].method == "text_layer"
    assert "debt collector calls me at work every day" in _words(scan.text)


@needs_ocr
def test_noisy_skewed_png_is_read_by_ocr_with_its_confidence():
    scan = extract(image_bytes(render_page(LETTER)))
    assert scan.pages[0].method == "ocr"
    assert "debt collector calls me at work every day" in _words(scan.text)
    assert scan.confidence > 80


@needs_ocr
def test_image_only_pdf_and_multipage_tiff_are_read_page_by_page():
    second = "Page two: they also sent letters to my neighbor."
    pages = [render_page(LETTER), render_page(second, seed=3)]
    for data in (image_only_pdf(pages), multipage_tiff(pages)):
        scan = extract(data)
        assert [p.method for p in scan.pages] == ["ocr", "ocr"]
        assert "they also sent letters to my neighbor" in _words(scan.pages[1].text)


@needs_ocr
def test_jpeg_photo_of_a_letter_is_read():
    scan = extract(image_bytes(render_page(LETTER).convert("RGB"), "JPEG"))
    assert scan.kind == "jpeg" and "debt collector calls me" in _words(scan.text)


@needs_ocr
def test_upside_down_scan_is_turned_before_reading():
    scan = extract(image_bytes(render_page(LETTER).rotate(180)))
    assert "debt collector calls me" in _words(scan.text)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"%PDF-1.4\n1 0 obj <</Type /Catalog>> garbage", "damaged"),
        (b"PK\x03\x04 a zip file, not a scan", "not a PDF, PNG, TIFF or JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00 truncated", "damaged"),
    ],
)
def test_unreadable_files_say_why_in_words_a_clerk_understands(data, reason):
    with pytest.raises(ScanError, match=reason):
        extract(data)


def test_password_protected_pdf_is_refused_with_the_reason():
    with pytest.raises(ScanError, match="password-protected"):
        extract(text_pdf(LETTER, password="secret"))


def test_too_many_pages_is_refused_with_the_limit():
    with pytest.raises(ScanError, match=f"limit is {MAX_PAGES}"):
        extract(text_pdf("A page.", pages=MAX_PAGES + 1))


def test_contacts_are_found_in_the_letter_text():
    found = find_contacts(LETTER + "\nor email maria.lopez@example.org")
    assert found.phones == ["+12025550143"]
    assert found.emails == ["maria.lopez@example.org"]
    assert found.addresses == ["42 Oak Avenue, Apt 3, Springfield, IL 62704"]
    assert found.name == "Maria Lopez"


def test_contacts_found_on_po_box_and_zip_plus_four():
    found = find_contacts("Write to me at\nP.O. Box 118\nAustin, TX 78701-1234\n")
    assert found.addresses == ["P.O. Box 118, Austin, TX 78701-1234"]


def test_manifest_gives_dates_and_reports_every_bad_entry():
    raw = (
        b'{"batch": "B-7", "files": ['
        b'{"file": "a.pdf", "received": "2026-11-20",'
        b' "return_address": "1 Main St, Dover, DE 19901"},'
        b'{"file": "b.png", "received": "2026-13-01"},'
        b'{"file": "c.png", "received": "2027-01-05", "color": "blue"}]}'
    )
    manifest, problems = parse_manifest(
        raw, present={"a.pdf", "b.png", "c.png"}, today=date(2026, 11, 30)
    )
    assert manifest.batch == "B-7"
    assert manifest.entries["a.pdf"].received == date(2026, 11, 20)
    assert set(manifest.entries) == {"a.pdf"}
    assert "received must be a date" in problems["b.png"]
    assert "in the future" in problems["c.png"] and "unknown field 'color'" in problems["c.png"]


def test_manifest_naming_missing_files_or_not_json_is_refused():
    with pytest.raises(ManifestError, match="no such file"):
        parse_manifest(
            b'{"files": [{"file": "gone.pdf"}]}', present=set(), today=date(2026, 11, 30)
        )
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest(b"{files: [", present=set(), today=date(2026, 11, 30))
    with pytest.raises(ManifestError, match="a file name, not a path"):
        parse_manifest(
            b'{"files": [{"file": "../etc/passwd"}]}', present=set(), today=date(2026, 11, 30)
        )


def test_letter_pdf_has_reference_address_block_and_spanish_accents(tmp_path):
    sender = LetterSender(tmp_path, "Mailroom\nPO Box 1000\nWashington, DC 20013")
    result = sender.send(
        OutboundMessage(
            channel="mail",
            to="42 Oak Avenue, Apt 3, Springfield, IL 62704",
            recipient_name="María López",
            body="Recibimos su queja. Le responderemos pronto.",
            subject="Recibimos su queja RX-ABCD-EFGH",
            key="acknowledgment-9",
            reference="RX-ABCD-EFGH",
            sender_name="Consumer Financial Protection Bureau",
        ),
        on=date(2026, 11, 30),
    )
    path = tmp_path / result.provider_ref.removeprefix("letter:")
    text = PdfReader(io.BytesIO(path.read_bytes())).pages[0].extract_text()
    assert "RX-ABCD-EFGH" in text and "Recibimos su queja" in text
    assert "María López" in text and "Springfield, IL 62704" in text
    assert address_lines("42 Oak Avenue, Apt 3, Springfield, IL 62704") == [
        "42 Oak Avenue",
        "Apt 3",
        "Springfield, IL 62704",
    ]


@needs_ocr
def test_a_page_ocr_cannot_finish_in_time_is_left_for_a_person(monkeypatch):
    import channels.mail_scans.extract as extract_module

    monkeypatch.setattr(extract_module, "OCR_TIMEOUT_SECONDS", 1)
    speckled = image_bytes(render_page("Iv Iuv l", noise=0.08, seed=5))  # heavy noise: slow OCR
    scan = extract(speckled)
    assert scan.text == "" and scan.confidence == 0.0


# --- Scans that cannot hurt the reader: fax and JBIG2 PDFs, bombs, a reader in a child --------

needs_jbig2dec = pytest.mark.skipif(
    shutil.which("jbig2dec") is None and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="jbig2dec is not installed (apt-get install jbig2dec)",
)
FAX = """Dear Sir or Madam,
A debt collector calls me at work every day
about a debt that I paid off in 2024."""


@needs_ocr
@pytest.mark.parametrize("box", [(612, 792), (1, 1)], ids=["letter-page", "one-point-page"])
def test_a_fax_pdf_is_read_at_its_own_resolution(box):
    """CCITT G4 images carry no resolution in a PDF (pypdf's picture says dpi (1, 1)); taken
    at its word, the page was scaled x300 to 510,000 x 330,000 pixels and the batch died."""
    page = render_page(FAX, dpi=200, noise=0, skew=0, size=(8.5, 2.5))
    scan = extract(fax_pdf(page, box=box))
    assert scan.pages[0].method == "ocr"
    assert "debt collector calls me at work every day" in _words(scan.text)


def test_an_implausible_resolution_is_treated_as_unknown():
    fax = Image.new("L", (1728, 2200), 255)
    fax.info["dpi"] = (1, 1)
    assert prepare_for_ocr(fax).size == (1728, 2200)  # unknown: read as it is
    small = Image.new("L", (850, 550), 255)
    small.info["dpi"] = (100, 100)
    assert prepare_for_ocr(small).size == (2550, 1650)  # a real 100 dpi scan: to 300 dpi
    photo = Image.new("L", (4032, 3024), 255)  # a phone photo (EXIF says 72 dpi)
    photo.info["dpi"] = (72, 72)
    assert prepare_for_ocr(photo).size == (4032, 3024)  # big enough already: not x4


@pytest.mark.parametrize(
    "make",
    [
        lambda: fax_bomb_pdf(765_000, 990_000),  # 757 gigapixels declared, 124 kB of file
        lambda: png_bomb(12_000, 9_000),  # 108 megapixels: under Pillow's own bomb error
    ],
    ids=["fax-pdf", "png"],
)
def test_a_page_with_too_many_pixels_is_refused_before_it_is_decoded(make):
    with pytest.raises(ScanError, match=r"million pixels.*the limit is 50 million"):
        extract(make(), max_pixels=50_000_000)


@needs_ocr
@needs_jbig2dec
def test_a_jbig2_scan_is_decoded_and_read():
    scan = extract(jbig2_pdf(render_page(FAX, noise=0, skew=0, size=(8.5, 2.5))))
    assert scan.pages[0].method == "ocr" and not scan.problems
    assert "debt collector calls me at work every day" in _words(scan.text)


def test_without_jbig2dec_a_jbig2_page_is_reported_not_read_as_empty(monkeypatch):
    monkeypatch.setenv("JBIG2DEC_CMD", "/nonexistent/jbig2dec")
    scan = extract(jbig2_pdf(render_page(FAX, size=(8.5, 2.5))))
    assert scan.pages[0].method == "none"
    assert scan.problems == [
        "Page 1 is a JBIG2 image and jbig2dec is not installed on this server, "
        "so nobody has read it yet."
    ]


def test_a_scan_is_read_in_a_child_process_with_the_same_result():
    scan = read_in_child(text_pdf(LETTER), Limits())
    assert scan.pages[0].method == "text_layer"
    assert "debt collector calls me at work every day" in _words(scan.text)
    with pytest.raises(ScanError, match="password-protected"):
        read_in_child(text_pdf(LETTER, password="secret"), Limits())


def test_a_reader_that_needs_more_memory_than_allowed_is_stopped_alone():
    """1.6 gigapixels of fax: let past the pixel cap, the child's memory limit stops it, and
    this process does not grow (it never decodes the page)."""
    bomb = fax_bomb_pdf(40_000, 40_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
    with pytest.raises(ScanError, match="more than 300 MB of memory"):
        read_in_child(bomb, Limits(max_pixels=10**10, memory_mb=300))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024
    with pytest.raises(ScanError, match="the limit is 50 million"):
        read_in_child(bomb, Limits(max_pixels=50_000_000))  # the cap, with default memory


@needs_ocr
def test_a_reader_that_takes_too_long_is_stopped_with_the_reason():
    speckled = render_page("Iv Iuv l", noise=0.08, seed=5)  # heavy noise: slow OCR
    started = time.monotonic()
    with pytest.raises(ScanError, match="longer than 2 seconds"):
        read_in_child(multipage_tiff([speckled] * 12), Limits(timeout_seconds=2))
    assert time.monotonic() - started < 15


def test_the_child_reader_gets_no_credentials(monkeypatch):
    """A decoder exploited by a hostile scan finds no database URL or secret in its
    environment (the reader needs none)."""
    import subprocess

    from channels.mail_scans import sandbox

    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db/redress")
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok")
    seen = {}
    real_popen = subprocess.Popen

    def spy(args, **kwargs):
        seen.update(kwargs["env"])
        return real_popen(args, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", spy)
    read_in_child(text_pdf(LETTER), Limits())
    assert not {"DATABASE_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN"} & set(seen)
    assert seen["OMP_THREAD_LIMIT"] == "1" and seen["PATH"] == os.environ["PATH"]
