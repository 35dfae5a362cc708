"""The mailroom drop folder: each scan stored (hashed) before it is read, then moved to
`done/` or `failed/` with a reason file beside it. Never deletes; two processors may run
at once (a file is claimed by an atomic rename)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.common.time import utcnow
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import DONE, InboundMessage
from channels.mail_scans.manifest import Manifest, ManifestError, parse_manifest

log = logging.getLogger(__name__)

SCAN_SUFFIXES = {".pdf", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}
# A file left in processing/ this long belongs to a processor that died: take it back.
STALE_SECONDS = 30 * 60


@dataclass
class FolderReport:
    opened: int = 0
    review: int = 0
    duplicates: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)


def _move(path: Path, folder: Path, reason: str | None = None) -> Path:
    """Move without overwriting (a second letter with the same name gets a suffix)."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}-{n}{path.suffix}"
        n += 1
    os.replace(path, target)
    if reason:
        target.with_name(target.name + ".reason.txt").write_text(reason.strip() + "\n")
    return target


def _reclaim_stale(work: Path, folder: Path) -> None:
    if not work.is_dir():
        return
    cutoff = datetime.now(UTC).timestamp() - STALE_SECONDS
    for path in work.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            try:
                os.replace(path, folder / path.name)
            except OSError:
                continue


def process_folder(folder: Path, now: datetime | None = None) -> FolderReport:
    folder = folder.resolve()
    done, failed, work = folder / "done", folder / "failed", folder / "processing"
    report = FolderReport()
    _reclaim_stale(work, folder)
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".reason.txt")
    )
    manifests = [p for p in files if p.suffix.lower() == ".json"]
    scans = [p for p in files if p.suffix.lower() != ".json"]
    names = {p.name for p in scans}
    manifest = Manifest(batch=None, entries={})
    entry_problems: dict[str, str] = {}
    for path in manifests:
        try:
            parsed, problems = parse_manifest(
                path.read_bytes(), present=names, today=(now or utcnow()).date()
            )
        except ManifestError as exc:
            # Without a trustworthy manifest the received dates would be wrong: hold the
            # whole batch back with the reason, for the clerk to fix and drop again.
            reason = f"The batch manifest {path.name} cannot be used: {exc}"
            _move(path, failed, reason)
            report.lines.append(f"failed  {path.name}: {exc}")
            for scan in scans:
                _move(scan, failed, reason + "\nFix the manifest and drop the files again.")
                report.failed += 1
                report.lines.append(f"failed  {scan.name}: held back with its batch manifest")
            return report
        manifest.entries.update({k: (v, parsed.batch) for k, v in parsed.entries.items()})
        entry_problems.update(problems)
    work.mkdir(exist_ok=True)
    for path in scans:
        claimed = work / path.name
        try:
            os.replace(path, claimed)  # the claim: only one processor wins the rename
        except FileNotFoundError:
            continue
        line = _one(claimed, manifest, entry_problems, folder, now, report)
        report.lines.append(line)
    for path in manifests:
        if path.exists():
            _move(path, done)
    return report


def _one(path, manifest, entry_problems, folder, now, report) -> str:
    done, failed = folder / "done", folder / "failed"
    name = path.name
    if name in entry_problems:
        _move(path, failed, f"The manifest entry for this file is wrong: {entry_problems[name]}")
        report.failed += 1
        return f"failed  {name}: {entry_problems[name]}"
    if path.suffix.lower() not in SCAN_SUFFIXES:
        reason = "Not a scan type we read (PDF, PNG, TIFF or JPEG)."
        _move(path, failed, reason)
        report.failed += 1
        return f"failed  {name}: {reason}"
    row, seen_before = ingest(
        path.read_bytes(),
        name,
        manifest.entries.get(name),
        file_time=datetime.fromtimestamp(path.stat().st_mtime, UTC),
        source="scan",
        now=now,
    )
    if seen_before:
        _move(path, done, f"Already received (inbound {row.id}, case {_ref(row)}); no new case.")
        report.duplicates += 1
        return f"dup     {name}: same scan as case {_ref(row)}"
    if row.outcome in DONE:
        _move(path, done)
        if row.kind == "letter_review":
            report.review += 1
            return f"review  {name}: case {_ref(row)} — {row.reason}"
        report.opened += 1
        return f"opened  {name}: case {_ref(row)}"
    _move(path, failed, row.reason or "Could not be processed.")
    report.failed += 1
    return f"failed  {name}: {row.reason}"


def _ref(row: InboundMessage) -> str:
    return row.case.reference if row.case else "-"


def ingest(
    data: bytes,
    filename: str,
    entry=None,
    *,
    file_time: datetime | None = None,
    source: str = "scan",
    extra: dict | None = None,
    now: datetime | None = None,
) -> tuple[InboundMessage, bool]:
    """Store one scan (committed) and process it now. Returns its inbound row and whether
    the same bytes were seen (and processed) before: then it is the first row, and nothing
    new is opened."""
    digest = hashlib.sha256(data).hexdigest()
    meta = {"filename": filename, "summary": f"scan {filename}", **(extra or {})}
    if entry is not None:
        item, batch = entry
        meta.update(
            {
                "received": item.received.isoformat() if item.received else None,
                "return_address": item.return_address,
                "name": item.name,
                "language": item.language,
                "batch": batch,
            }
        )
    if file_time is not None:
        meta["file_time"] = file_time.isoformat()
    row, created = inbound.receive(
        "mail",
        source,
        data,
        dedupe_key=f"sha256:{digest}",
        meta=meta,
        now=now,
        process_later=False,
    )
    db.session.commit()
    row_id = row.id
    seen_before = not created and row.outcome in DONE
    if not seen_before:
        inbound.process(row_id, now)  # a new scan, or one whose earlier try failed
    row = db.session.get(InboundMessage, row_id)
    db.session.refresh(row)
    log.info("scan ingested", extra={"inbound_id": row_id, "outcome": row.outcome})
    return row, seen_before
