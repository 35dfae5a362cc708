"""Labelled complaint files (an agency's export): read them and route every row, to measure.

`redress route evaluate FILE.csv --text COLUMN --label COLUMN [--label-map FILE]` uses this.
Labels are agency codes, or anything a label map turns into one (CFPB's "Product" column,
a 311 export's "Agency Name"). Every problem with the file is a clear error, never a crash.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.routing.engine import Router, RoutingInput
from app.routing.figures import Figures, figures

MAX_FIELD = 10 * 1024 * 1024  # one complaint's text; a longer field is an error, not a hang


class LabelledFileError(ValueError):
    """The file (or its label map) cannot be used as given; the message says why."""


@dataclass(frozen=True)
class Labelled:
    text: str
    agency: str


def read_label_map(path: Path, agencies: set[str]) -> dict[str, str]:
    """A mapping label -> agency code, from YAML/JSON (`label: CODE`) or a two-column CSV."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LabelledFileError(f"Cannot read the label map {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LabelledFileError(f"The label map {path} is not UTF-8 text.") from None
    mapping: object
    if path.suffix.lower() in (".csv", ".tsv"):
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        rows = [r for r in csv.reader(raw.splitlines(), dialect) if any(c.strip() for c in r)]
        if any(len(r) < 2 for r in rows):
            raise LabelledFileError(f"The label map {path} needs two columns: label, agency.")
        mapping = {r[0].strip(): r[1].strip() for r in rows}
    else:
        try:
            mapping = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            raise LabelledFileError(f"The label map {path} is not valid YAML{where}.") from None
    if not isinstance(mapping, dict) or not mapping:
        raise LabelledFileError(
            f"The label map {path} must map each label to an agency code, like "
            '"Debt collection: CFPB" (YAML) or a two-column CSV.'
        )
    out: dict[str, str] = {}
    unknown = []
    for label, code in mapping.items():
        code = str(code).strip().upper() if code is not None else ""
        if code not in agencies:
            unknown.append(f"{label!s} -> {code or '(nothing)'}")
        out[str(label).strip()] = code
    if unknown:
        shown = "; ".join(unknown[:10]) + (
            f"; and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise LabelledFileError(
            f"The label map {path} names agencies the directory does not have: {shown}."
        )
    return out


def read_labelled(
    path: Path,
    text_column: str,
    label_column: str,
    agencies: set[str],
    label_map: dict[str, str] | None = None,
    *,
    skip_unknown: bool = False,
) -> tuple[list[Labelled], Counter]:
    """The file's rows as (text, agency); and the labels it skipped (with `skip_unknown`)."""
    csv.field_size_limit(MAX_FIELD)
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    rows: list[Labelled] = []
    unknown: Counter = Counter()
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, dialect=dialect)
            columns = reader.fieldnames or []
            if not columns:
                raise LabelledFileError(f"{path} is empty: it needs a header row and complaints.")
            missing = [c for c in (text_column, label_column) if c not in columns]
            if missing:
                shown = ", ".join(repr(c) for c in columns[:20])
                raise LabelledFileError(
                    f"{path} has no column {' or '.join(repr(m) for m in missing)}; its columns "
                    f"are {shown}."
                )
            for row in reader:
                label = (row.get(label_column) or "").strip()
                agency = _agency(label, agencies, label_map)
                if agency is None:
                    unknown[label or "(blank)"] += 1
                    continue
                rows.append(Labelled(row.get(text_column) or "", agency))
    except OSError as exc:
        raise LabelledFileError(f"Cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LabelledFileError(f"{path} is not UTF-8 text (save it as UTF-8 CSV).") from None
    except csv.Error as exc:
        raise LabelledFileError(f"{path} is not a readable CSV file: {exc}") from None
    if unknown and not skip_unknown:
        shown = ", ".join(f"{label!r} ({n})" for label, n in unknown.most_common(10))
        hint = "give --label-map FILE" if label_map is None else "add them to the label map"
        raise LabelledFileError(
            f"{sum(unknown.values())} rows have labels that are not agencies of the directory: "
            f"{shown}. To measure them, {hint}; to leave them out, --skip-unknown."
        )
    if not rows:
        raise LabelledFileError(f"{path} has no labelled complaints to route.")
    return rows, unknown


def _agency(label: str, agencies: set[str], label_map: dict[str, str] | None) -> str | None:
    if label_map is not None and label in label_map:
        return label_map[label]
    code = label.upper()
    return code if code in agencies else None


def route_all(router: Router, rows: Iterable[Labelled], channel: str | None = None) -> Figures:
    """Route every row with no category, as email, SMS and letters arrive."""
    truth, decided = [], []
    for row in rows:
        decision = router.route(RoutingInput(row.text, category=None, channel=channel))
        truth.append(row.agency)
        decided.append(None if decision.source == "triage" else decision.agency)
    return figures(truth, decided, router.threshold if router.model is not None else None)


def as_json(f: Figures) -> str:
    return json.dumps(f.as_dict(), indent=2, sort_keys=True)
