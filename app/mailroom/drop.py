"""The mailroom drop folder: each scan stored (hashed) before it is read, then moved to
`done/` or `failed/` with a reason file beside it. Never deletes.

Crash-safe: a processor claims a file by locking it (flock) and renaming it into
`processing/`, and holds the lock until the file is in `done/` or `failed/`. Two processors
may run at once; a file in `processing/` that nobody holds belongs to a run that died, and
the next run takes it back at once (the inbound store's dedupe makes a second read safe).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.common.time import utcnow
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import DONE, InboundMessage
from app.jobs import run_ready
from channels.mail_scans.manifest import Manifest, ManifestError, parse_manifest

log = logging.getLogger(__name__)

SCAN_SUFFIXES = {".pdf", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}
# Where files cannot be locked (some network shares), a file left in processing/ this long
# belongs to a processor that died.
STALE_SECONDS = 30 * 60


@dataclass
class FolderReport:
    opened: int = 0
    review: int = 0
    duplicates: int = 0
    failed: int = 0
    left: int = 0  # not started within the run's time budget: the next run takes them
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


def _lock(fd: int) -> bool | None:
    """Take the file's lock without waiting: True, False (another processor holds it), or
    None where the file system cannot lock (the rename alone is then the claim)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _take_back_abandoned(work: Path, folder: Path) -> None:
    """Files in processing/ that no live processor holds go back into the folder."""
    if not work.is_dir():
        return
    for path in work.iterdir():
        if not path.is_file():
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            locked = _lock(fd)
            stale = path.stat().st_mtime < time.time() - STALE_SECONDS
            if locked or (locked is None and stale):
                _move(path, folder)
        except OSError:
            continue
        finally:
            os.close(fd)  # releases the lock


def _claim(path: Path, work: Path) -> tuple[Path, int] | None:
    """Lock the file, then rename it into processing/: only one processor gets it. Returns
    the claimed path and the open descriptor holding the lock (close it when done)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _lock(fd) is False:
            raise BlockingIOError
        claimed = work / path.name
        if os.stat(path).st_ino != os.fstat(fd).st_ino or claimed.exists():
            raise FileExistsError  # replaced meanwhile, or a same-named letter in progress
        os.replace(path, claimed)
    except OSError:
        os.close(fd)
        return None
    return claimed, fd


def _handled_since(folder: Path, since: float) -> frozenset[str]:
    """The names (as dropped) of files moved to done/ or failed/ at or after `since`, and of
    those in processing/ now: a manifest's entries for them were taken care of."""
    names = set()
    for sub in ("done", "failed", "processing"):
        place = folder / sub
        if not place.is_dir():
            continue
        for path in place.iterdir():
            if path.name.endswith(".reason.txt"):
                continue
            with contextlib.suppress(OSError):
                if sub == "processing" or path.stat().st_ctime >= since:
                    names.add(path.name)
                    # _move's "-N" for a name already taken there
                    names.add(re.sub(r"-\d+(\.[^.]*)?$", r"\1", path.name))
    return frozenset(names)


def process_folder(
    folder: Path, now: datetime | None = None, *, budget_seconds: float | None = None
) -> FolderReport:
    """Turn the folder's scans into cases. With `budget_seconds`, no file is started after
    that long (the rest wait for the next run), so a periodic job ends in bounded time."""
    folder = folder.resolve()
    done, failed, work = folder / "done", folder / "failed", folder / "processing"
    report = FolderReport()
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    _take_back_abandoned(work, folder)
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
    named: dict[Path, set[str]] = {}
    for path in manifests:
        try:
            parsed, problems = parse_manifest(
                path.read_bytes(),
                present=names,
                today=(now or utcnow()).date(),
                handled=_handled_since(folder, path.stat().st_mtime),
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
        report.lines.extend(
            f"skipped {name}: already in done/ or failed/, or being read" for name in parsed.skipped
        )
        manifest.entries.update({k: (v, parsed.batch) for k, v in parsed.entries.items()})
        entry_problems.update(problems)
        named[path] = set(parsed.entries) | set(problems)
    work.mkdir(exist_ok=True)
    for path in scans:
        if deadline is not None and time.monotonic() > deadline:
            report.left = sum(1 for p in scans if p.exists())
            report.lines.append(f"{report.left} scan(s) left for the next run")
            break
        claim = _claim(path, work)
        if claim is None:
            continue
        claimed, fd = claim
        try:
            report.lines.append(_one(claimed, manifest, entry_problems, folder, now, report))
        finally:
            os.close(fd)  # the file is in done/ or failed/ now (or, after a crash, in processing/)
        run_ready()  # its acknowledgment goes out now, as after any intake (cron and CLI alike)
    for path, wanted in named.items():
        # Kept while any file it names waits here or is being read: the next run needs it.
        waiting = any((folder / n).exists() or (work / n).exists() for n in wanted)
        if not waiting:
            with contextlib.suppress(FileNotFoundError):  # another processor moved it first
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
