"""Paper-mail batches that survive bad files and interrupted runs: one bad scan fails alone,
a killed run is finished by the next without doubles, the CLI sends what cron sends."""

from __future__ import annotations

import fcntl
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cases.models import Case
from app.extensions import db
from app.inbound.models import InboundMessage
from app.mailroom.drop import ingest, process_folder
from app.mailroom.letters import letter_path
from app.notify.models import OutboxItem
from channels.mail_scans.extract import ocr_available
from tests.helpers import NY
from tests.scans import drop_files as _drop
from tests.scans import fax_bomb_pdf, fax_pdf, jbig2_pdf, render_page, text_pdf

needs_ocr = pytest.mark.skipif(
    not ocr_available() and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="tesseract is not installed (apt-get install tesseract-ocr)",
)
needs_jbig2dec = pytest.mark.skipif(
    shutil.which("jbig2dec") is None and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="jbig2dec is not installed (apt-get install jbig2dec)",
)
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]

DEBT = """Dear Sir or Madam,
A debt collector calls me at work every day about a
credit card debt that I paid off in 2024. Please make them stop.
Sincerely, Maria Lopez"""
HOUSING = """To whom it may concern,
My landlord refused to rent an apartment to me because
I use a wheelchair. He said the building is not for disabled people.
Robert Chen"""


def _rows() -> dict[str, InboundMessage]:
    db.session.expire_all()
    return {r.meta["filename"]: r for r in db.session.scalars(db.select(InboundMessage))}


def _names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".reason.txt"))


def _cases() -> int:
    return db.session.scalar(db.select(db.func.count(Case.id)))


@needs_ocr
def test_bombs_fail_alone_with_their_reasons_and_the_rest_of_the_batch_becomes_cases(
    app, tmp_path, monkeypatch
):
    # The pixel cap raised so the second bomb reaches a reader: the child's memory limit
    # (not this process) is what stops it.
    monkeypatch.setitem(app.config, "SCAN_MAX_PIXELS", 2_000_000_000)
    monkeypatch.setitem(app.config, "SCAN_MEMORY_MB", 400)
    drop = tmp_path / "drop"
    fax = render_page(HOUSING, dpi=200, noise=0, skew=0, size=(8.5, 2.5))
    _drop(
        drop,
        {
            "a-typed.pdf": text_pdf(DEBT),
            "b-giant.pdf": fax_bomb_pdf(765_000, 990_000),  # 757 gigapixels declared
            "c-heavy.pdf": fax_bomb_pdf(40_000, 30_000),  # 1.2 gigapixels: past the cap
            "d-fax.pdf": fax_pdf(fax),  # a real fax: no resolution in the PDF
        },
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
    report = process_folder(drop, now=NOW)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert (report.opened, report.failed) == (2, 2), report.lines
    assert _names(drop / "done") == ["a-typed.pdf", "d-fax.pdf"]
    assert _names(drop / "failed") == ["b-giant.pdf", "c-heavy.pdf"]
    giant = (drop / "failed" / "b-giant.pdf.reason.txt").read_text()
    assert "765,000 x 990,000 pixels" in giant and "the limit is 2,000 million" in giant
    heavy = (drop / "failed" / "c-heavy.pdf.reason.txt").read_text()
    assert "more than 400 MB of memory" in heavy
    rows = _rows()
    assert rows["c-heavy.pdf"].outcome == "failed" and "400 MB" in rows["c-heavy.pdf"].reason
    assert rows["b-giant.pdf"].outcome == "failed"  # kept, retryable, like any failed row
    assert rows["d-fax.pdf"].case.agency.code == "HUD-FHEO"  # the fax was read and routed
    assert "refused to rent an apartment" in " ".join(rows["d-fax.pdf"].case.description.split())
    assert grown_mb < 150, f"the batch process grew by {grown_mb:.0f} MB"


def test_without_jbig2dec_a_jbig2_letter_waits_in_review_saying_why(app, tmp_path, monkeypatch):
    monkeypatch.setenv("JBIG2DEC_CMD", "/nonexistent/jbig2dec")
    drop = tmp_path / "drop"
    _drop(drop, {"copier.pdf": jbig2_pdf(render_page(DEBT, size=(8.5, 3)))})
    report = process_folder(drop, now=NOW)
    assert report.review == 1, report.lines
    row = _rows()["copier.pdf"]
    assert "jbig2dec is not installed" in row.reason and "characters" not in row.reason
    assert row.case.has_flag("scan_review") and row.case.agency.code == "USAGOV"


@needs_ocr
@needs_jbig2dec
def test_a_jbig2_letter_is_read_and_routed(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(drop, {"copier.pdf": jbig2_pdf(render_page(DEBT, noise=0, skew=0, size=(8.5, 3)))})
    report = process_folder(drop, now=NOW)
    assert report.opened == 1, report.lines
    assert _rows()["copier.pdf"].case.agency.code == "CFPB"


def test_a_file_left_in_processing_by_a_dead_run_is_taken_back_at_once(app, tmp_path):
    drop = tmp_path / "drop"
    (drop / "processing").mkdir(parents=True)
    (drop / "processing" / "left.pdf").write_bytes(text_pdf(DEBT))  # its run died
    report = process_folder(drop, now=NOW)
    assert report.opened == 1, report.lines
    assert _names(drop / "done") == ["left.pdf"] and _names(drop / "processing") == []


def test_a_file_already_stored_before_the_crash_opens_no_second_case(app, tmp_path):
    drop = tmp_path / "drop"
    data = text_pdf(DEBT)
    ingest(data, "stored.pdf", source="scan", now=NOW)  # the dead run stored and read it...
    assert _cases() == 1
    (drop / "processing").mkdir(parents=True)
    (drop / "processing" / "stored.pdf").write_bytes(data)  # ...and died before moving it
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.duplicates, report.failed) == (0, 1, 0), report.lines
    assert _cases() == 1 and len(_rows()) == 1
    assert _names(drop / "done") == ["stored.pdf"]


def test_a_file_a_live_processor_holds_is_left_to_it(app, tmp_path):
    drop = tmp_path / "drop"
    (drop / "processing").mkdir(parents=True)
    held = drop / "processing" / "held.pdf"
    held.write_bytes(text_pdf(DEBT))
    with open(held, "rb") as claim:  # the other processor's claim: its lock on the file
        fcntl.flock(claim, fcntl.LOCK_EX)
        report = process_folder(drop, now=NOW)
    assert report.opened == 0 and held.exists() and _cases() == 0


def test_manifest_entries_already_handled_are_skipped_but_old_names_still_count(app, tmp_path):
    drop = tmp_path / "drop"
    (drop / "done").mkdir(parents=True)
    (drop / "done" / "old.pdf").write_bytes(b"yesterday's letter")
    past = time.time() - 3600
    os.utime(drop / "done" / "old.pdf", (past, past))
    # The batch: a.pdf was finished by a run that then died; b.pdf waits.
    _drop(
        drop,
        {"b.pdf": text_pdf(HOUSING)},
        {
            "files": [
                {"file": "a.pdf", "received": "2026-11-20"},
                {"file": "b.pdf", "received": "2026-11-24"},
            ]
        },
    )
    (drop / "done" / "a.pdf").write_bytes(text_pdf(DEBT))  # moved there after the manifest
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.failed) == (1, 0), report.lines
    assert any(line.startswith("skipped a.pdf") for line in report.lines), report.lines
    assert _rows()["b.pdf"].case.received_at == datetime(2026, 11, 24, tzinfo=NY)
    assert "manifest.json" in _names(drop / "done")
    # A name found only among an earlier day's files is still missing from this batch.
    _drop(drop, {"c.pdf": text_pdf(DEBT)}, {"files": [{"file": "old.pdf"}, {"file": "c.pdf"}]})
    report = process_folder(drop, now=NOW)
    assert report.failed == 1 and report.opened == 0
    assert "no such file" in (drop / "failed" / "manifest.json.reason.txt").read_text()


def test_a_batch_run_killed_midway_is_finished_by_the_next_run_without_doubles(app, tmp_path):
    """The real `redress intake scans` killed (SIGKILL, its whole process group) while it
    reads a letter; the next run takes that letter back at once and finishes the batch, with
    the manifest's dates, each letter one case."""
    drop = tmp_path / "drop"
    letters = {f"letter-{i}.pdf": text_pdf(f"{DEBT}\nLetter number {i}.") for i in range(1, 5)}
    _drop(
        drop,
        letters,
        {"files": [{"file": name, "received": "2026-11-23"} for name in letters]},
    )
    db.session.commit()
    env = {
        **os.environ,
        "REDRESS_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
    }
    env.pop("REDIS_URL", None)
    redress = Path(sys.executable).with_name("redress")
    run = subprocess.Popen(  # noqa: S603 - our own command
        [str(redress), "intake", "scans", str(drop)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "letter-2.pdf" not in _names(drop / "processing"):  # reading the second letter
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never reached the second letter"
            time.sleep(0.005)
        os.killpg(run.pid, signal.SIGKILL)  # the process group we started: run and reader
    finally:
        run.wait(timeout=30)
    assert _names(drop / "processing") == ["letter-2.pdf"]
    report = process_folder(drop, now=NOW)
    assert report.failed == 0, report.lines
    assert _names(drop / "done") == [*letters, "manifest.json"]
    assert _names(drop / "failed") == [] and _names(drop / "processing") == []
    rows = _rows()
    assert sorted(rows) == sorted(letters) and _cases() == 4  # each letter once
    assert {r.outcome for r in rows.values()} == {"case_opened"}
    assert {r.case.received_at for r in rows.values()} == {datetime(2026, 11, 23, tzinfo=NY)}


def test_cli_intake_scans_sends_the_acknowledgment_letters_as_cron_does(app, tmp_path):
    from app.cli import intake

    drop = tmp_path / "drop"
    _drop(
        drop,
        {"a.pdf": text_pdf(DEBT)},
        {"files": [{"file": "a.pdf", "return_address": "42 Oak Avenue, Springfield, IL 62704"}]},
    )
    result = CliRunner().invoke(intake, ["scans", str(drop)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    (ack,) = db.session.scalars(db.select(OutboxItem)).all()
    assert ack.kind == "acknowledgment" and ack.channel == "mail"
    assert ack.state == "sent"  # rendered to the print spool, waiting for a print batch
    assert letter_path(ack).is_file()


def test_an_uploaded_bomb_fails_alone_with_its_reason(app, client, staff_token):
    clerk = staff_token("triage@usagov.example")
    got = client.post(
        "/api/v1/mailroom/scans",
        data={
            "file": [
                (io.BytesIO(fax_bomb_pdf(765_000, 990_000)), "giant.pdf"),
                (io.BytesIO(text_pdf(HOUSING)), "housing.pdf"),
            ]
        },
        headers=clerk,
        content_type="multipart/form-data",
    )
    assert got.status_code == 201, got.get_json()
    giant, housing = got.get_json()["results"]
    assert giant["outcome"] == "failed" and "765,000 x 990,000 pixels" in giant["reason"]
    assert housing["outcome"] == "case_opened"


def test_the_drop_folder_job_may_outlast_a_slow_file():
    """RQ's default job timeout (180 s) would kill a run in the middle of a file the reader
    may take SCAN_TIMEOUT_SECONDS over, leaving it in processing/ again and again."""
    from config import Config
    from workers.jobs import SCAN_RUN_SECONDS
    from workers.schedule import SCHEDULE

    (job,) = [p for p in SCHEDULE if p.path == "workers.jobs.scan_drop_folder"]
    assert job.timeout >= SCAN_RUN_SECONDS + Config.SCAN_TIMEOUT_SECONDS + 60


def test_files_a_run_had_no_time_for_wait_with_their_manifest_for_the_next_run(app, tmp_path):
    drop = tmp_path / "drop"
    _drop(
        drop,
        {"a.pdf": text_pdf(DEBT), "b.pdf": text_pdf(HOUSING)},
        {"files": [{"file": "a.pdf", "received": "2026-11-24"}, {"file": "b.pdf"}]},
    )
    report = process_folder(drop, now=NOW, budget_seconds=0)  # out of time at once
    assert (report.opened, report.left) == (0, 2), report.lines
    assert _names(drop) == ["a.pdf", "b.pdf", "manifest.json", "processing"]
    report = process_folder(drop, now=NOW)
    assert (report.opened, report.failed) == (2, 0), report.lines
    assert _rows()["a.pdf"].case.received_at == datetime(2026, 11, 24, tzinfo=NY)
    assert _names(drop / "done") == ["a.pdf", "b.pdf", "manifest.json"]
