"""A mailroom batch manifest: each file's received date, envelope return address, batch id.

    {"batch": "2026-11-30-A",
     "files": [{"file": "letter-001.pdf", "received": "2026-11-27",
                "return_address": "12 Elm St, Springfield, IL 62701"}]}

Validation reports every problem at once, each naming the entry and the field, so a clerk can
fix the file in one go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

MAX_RETURN_ADDRESS = 500
_ENTRY_KEYS = {"file", "received", "return_address", "name", "language"}


class ManifestError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ManifestEntry:
    file: str
    received: date | None
    return_address: str | None = None
    name: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Manifest:
    batch: str | None
    entries: dict[str, ManifestEntry]
    # Entries whose file was already taken care of (by a run that then died, or one still
    # running): nothing to do for them now.
    skipped: tuple[str, ...] = ()


def parse_manifest(
    raw: bytes, *, present: set[str], today: date, handled: frozenset[str] = frozenset()
) -> tuple[Manifest, dict[str, str]]:
    """Parse and check a manifest against the files in the folder.

    Returns the manifest (only the usable entries) and, by file name, the problems with
    single entries (bad dates, unknown keys) that send just those files to `failed/`.
    An entry naming a file that is not in the folder but is in `handled` is skipped. A
    manifest that is not JSON of the right shape, or names files that are nowhere,
    raises ManifestError.
    """
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError([f"manifest is not valid JSON ({exc.__class__.__name__})"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ManifestError(['manifest must be an object with a "files" list'])
    batch = data.get("batch")
    if batch is not None and (not isinstance(batch, str) or not batch.strip() or len(batch) > 80):
        raise ManifestError(['"batch" must be a short text'])
    entries: dict[str, ManifestEntry] = {}
    problems: dict[str, str] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    fatal: list[str] = []
    for index, item in enumerate(data["files"], start=1):
        where = f"files[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            fatal.append(f'{where}: each entry needs a "file" name')
            continue
        name = item["file"]
        where = f"{where} ({name})"
        if "/" in name or "\\" in name or name.startswith("."):
            fatal.append(f"{where}: a file name, not a path")
            continue
        if name in seen:
            fatal.append(f"{where}: listed twice")
            continue
        seen.add(name)
        if name not in present and name in handled:
            skipped.append(name)
            continue
        if name not in present:
            fatal.append(f"{where}: no such file in the folder")
            continue
        unknown = set(item) - _ENTRY_KEYS
        bad = [f"{where}: unknown field {key!r}" for key in sorted(unknown)]
        received = None
        if "received" in item:
            try:
                received = date.fromisoformat(str(item["received"]))
            except ValueError:
                bad.append(f"{where}: received must be a date like 2026-11-27")
            else:
                if received > today:
                    bad.append(f"{where}: received date {received} is in the future")
                elif (today - received).days > 366:
                    bad.append(f"{where}: received date {received} is more than a year ago")
        address = item.get("return_address")
        if address is not None and (
            not isinstance(address, str) or len(address) > MAX_RETURN_ADDRESS
        ):
            bad.append(
                f"{where}: return_address must be text of at most {MAX_RETURN_ADDRESS} characters"
            )
        if bad:
            problems[name] = "; ".join(bad)
            continue
        entries[name] = ManifestEntry(
            file=name,
            received=received,
            return_address=(address or "").strip() or None,
            name=item.get("name") if isinstance(item.get("name"), str) else None,
            language=item.get("language") if item.get("language") in ("en", "es") else None,
        )
    if fatal:
        raise ManifestError(fatal)
    batch = batch.strip() if batch else None
    return Manifest(batch=batch, entries=entries, skipped=tuple(skipped)), problems
