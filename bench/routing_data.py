"""The real complaint narratives for routing: cleaned of source markers, split by source.

`python -m bench.routing_data` rebuilds `app/routing/data/demo_corpus.csv`, the training text
that `redress demo` ships with (a few thousand rows); the routing benchmark reads the
held-out sources from here too. The narratives are in /work/shared/data/complaints (or
BENCH_COMPLAINTS_DIR); its README says how they fit together.

Two rules keep the figures honest:

- **Markers out.** Each source has a house style that gives it away: CFPB's `XXXX` and
  `{$..}` redactions, MAUDE's `(b)(6)` and "It was reported that", NEISS's upper case and
  `73YOM ... DX:` codes, NHTSA's `tl* the contact owns`. A model would learn the marker, not
  the complaint, so `clean()` strips them (and the model itself folds case and digits).
- **Split by source, not by row.** Training and evaluation never share a source: CFPB trains
  on the bclinkinbeard and payday exports and is evaluated on the AEGIS sample; FDA trains on
  Abbott's MAUDE reports and is evaluated on the da Vinci ones; NHTSA trains on the ADAS
  narratives and is evaluated on the FLAT_CMPL sample; OSHA trains on the fatality reports and
  is evaluated on the accident headlines. CPSC has one source (NEISS), so it is split by year:
  2017-2019 train, 2020-2021 evaluate.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(os.environ.get("BENCH_COMPLAINTS_DIR", "/work/shared/data/complaints"))
CORPUS = Path(__file__).resolve().parent.parent / "app" / "routing" / "data" / "demo_corpus.csv"
SEED = 20261205
MAX_CHARS = 900  # per row in the shipped corpus, cut at a word boundary

csv.field_size_limit(10**8)


@dataclass(frozen=True)
class Row:
    text: str
    agency: str
    category: str | None
    source: str


# --- cleaning --------------------------------------------------------------------------------

_CFPB_MASK = re.compile(r"\b(?:XX/XX/(?:XXXX|\d{2,4})|X{2,}(?:/X{2,})*)\b")
_CFPB_AMOUNT = re.compile(r"\{\$([0-9][0-9,.]*)\}")
_FOIA = re.compile(r"\(\s*b\s*\)\s*\(\s*\d\s*\)", re.I)
_MAUDE_LEAD = re.compile(
    r"^(?:it was reported (?:that|by [^.,]{0,60}? that)|reportedly,?"
    r"|the customer reported that)\s*",
    re.I,
)
_GLUED_SENTENCE = re.compile(r"(?<=[a-z)])\.(?=[A-Za-z])")
_NHTSA_TL = re.compile(r"^\s*[a-z]{2}\s*\*\s*:?\s*", re.I)  # "TL* ", "DT*: " (staff initials)
_NHTSA_TAIL = re.compile(r"(?:\s*\*[a-z]{2,3}\b)+\s*$", re.I)  # "... *TR", "... *NM"
_NEISS_AGE = re.compile(
    r"\b\d{1,3}\s*(?:-?\s*)(?:YO|Y/O|YR|YRS|MO|MOS|WK|DAY)?\s*-?\s*(?:OLD\s*)?(?:[MF]|MALE|FEMALE)\b",
    re.I,
)
_NEISS_DX = re.compile(r"(?:\b|(?<=[A-Z]))DX\b\s*[:\-]?\s*", re.I)
_NEISS_JUNK = re.compile(r">>\s*\w*|\*{2,}|\+LOC|-LOC|#")
_NEISS_WORDS = {
    "PT": "patient", "FX": "fracture", "LAC": "laceration", "LT": "left", "RT": "right",
    "L": "left", "R": "right", "FB": "foreign body", "CHI": "head injury", "C/O": "complains of",
    "W/": "with", "W": "with", "D/T": "due to", "S/P": "after", "PX": "pain", "INJ": "injury",
    "ABR": "abrasion", "CONT": "contusion", "BIBEMS": "brought in by ambulance",
    "EMS": "ambulance", "P/W": "presents with", "ETOH": "alcohol", "HX": "history",
    "ED": "emergency room", "ER": "emergency room", "UNK": "unknown", "TX": "treated",
    "STR": "strain", "SPR": "sprain",
}  # fmt: skip
_NEISS_TOKEN = re.compile(r"(?<![\w/])(" + "|".join(map(re.escape, _NEISS_WORDS)) + r")(?![\w/])")
_SPACES = re.compile(r"\s+")


def _sentence_case(text: str) -> str:
    """All-capitals text (NEISS, older NHTSA and CFPB rows) in ordinary sentence case."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) < 0.6 * len(letters):
        return text
    lowered = text.lower()
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), lowered)


def clean(text: str | None, source: str) -> str | None:
    """The narrative without its source's markers, or None when too little is left."""
    if not text:
        return None
    t = text.replace("\r", " ")
    t = _CFPB_AMOUNT.sub(r"$\1", t)
    t = _CFPB_MASK.sub(" ", t)
    t = _FOIA.sub(" ", t)
    if source.startswith("nhtsa"):
        t = _NHTSA_TAIL.sub("", _NHTSA_TL.sub("", html.unescape(t)))
    if source.startswith("cpsc"):
        t = _NEISS_AGE.sub(" ", t, count=1)
        t = _NEISS_DX.sub(". ", t)
        t = _NEISS_JUNK.sub(" ", t)
        t = _NEISS_TOKEN.sub(lambda m: _NEISS_WORDS[m.group(1)], t.upper())
    if source.startswith("fda"):
        t = _GLUED_SENTENCE.sub(". ", t)
        t = _MAUDE_LEAD.sub("", t.strip())
        t = t[:1].upper() + t[1:]
    t = _SPACES.sub(" ", t).strip(" .;,-")
    t = re.sub(r"\s+([.,;:])", r"\1", t)
    t = re.sub(r"([.,;:]){2,}", r"\1", t)
    t = _sentence_case(t)
    return t if len(t) >= 15 else None


def cut(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


# --- the sources -----------------------------------------------------------------------------

# CFPB products (old and current taxonomy) to the demo directory's categories.
_CFPB_PRODUCTS = (
    ("credit reporting", "credit-report"),
    ("debt collection", "debt-collection"),
    ("mortgage", "mortgage"),
    ("credit card", "credit-card"),
    ("bank account", "bank-account"),
    ("checking or savings", "bank-account"),
    ("student loan", "student-loan"),
    ("money transfer", "money-transfer"),
    ("prepaid card", "money-transfer"),
    ("vehicle loan", "vehicle-loan"),
    ("payday", "payday-loan"),
    ("consumer loan", "payday-loan"),
    ("debt or credit management", "credit-report"),
)


def cfpb_category(product: str, sub_product: str = "") -> str | None:
    text = f"{product} {sub_product}".lower()
    if "vehicle" in text:
        return "vehicle-loan"
    for words, code in _CFPB_PRODUCTS:
        if words in text:
            return code
    return None


def _csv(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> Iterator[dict]:
    with path.open(encoding=encoding, newline="") as handle:
        yield from csv.DictReader(handle, delimiter=delimiter)


def _cfpb_bclinkinbeard() -> Iterator[tuple[str, str | None]]:
    seen = set()
    for name in ("narratives.json", "narratives-ecg.json"):
        for r in json.loads((DATA_DIR / "cfpb_bclinkinbeard" / name).read_text()):
            if r["Complaint ID"] in seen:
                continue
            seen.add(r["Complaint ID"])
            yield r["Consumer complaint narrative"], cfpb_category(r["Product"], r["Sub-product"])


def _cfpb_payday() -> Iterator[tuple[str, str | None]]:
    folder = DATA_DIR / "cfpb_payday_seunnna"
    for name in ("cfpb_payday_loan_2023_2827rows.csv", "cfpb_payday_loan_2025_131rows.csv"):
        for r in _csv(folder / name):
            yield r["Consumer complaint narrative"], "payday-loan"


def _cfpb_aegis() -> Iterator[tuple[str, str | None]]:
    for r in json.loads((DATA_DIR / "cfpb_aegis_eval" / "cfpb_sample.json").read_text()):
        yield r["text"], cfpb_category(r["expected_category"])


def _nhtsa_adas() -> Iterator[tuple[str, str | None]]:
    for r in _csv(
        DATA_DIR / "nhtsa_adas_narratives" / "nhtsa_adas_complaint_narratives_5317rows.csv"
    ):
        yield r["sentences"], "vehicle-safety"


def _nhtsa_flat() -> Iterator[tuple[str, str | None]]:
    path = DATA_DIR / "nhtsa_flat_cmpl_sample" / "nhtsa-complaints_with_header.tsv"
    for r in _csv(path, delimiter="\t"):
        yield r["CDESCR"], "vehicle-safety"


def _fda_abbott() -> Iterator[tuple[str, str | None]]:
    for r in _csv(DATA_DIR / "fda_maude_abbott" / "maude_abbott_combined_1995rows.csv"):
        yield r["Event Description"], "medical-device"


def _fda_davinci() -> Iterator[tuple[str, str | None]]:
    for r in _csv(DATA_DIR / "fda_maude_davinci" / "daVinci_MAUDE_Data_2013.csv", "latin-1"):
        yield r["Event"], "medical-device"


def _neiss(years: tuple[str, ...]) -> Callable[[], Iterator[tuple[str, str | None]]]:
    def rows() -> Iterator[tuple[str, str | None]]:
        for r in _csv(DATA_DIR / "cpsc_neiss_2017_2021" / "NEISS_17-21_sample_10000rows.csv"):
            if r["Treatment_Date"][:4] in years:
                yield r["Narrative"], "unsafe-product"

    return rows


def _osha_fatalities() -> Iterator[tuple[str, str | None]]:
    for r in _csv(DATA_DIR / "osha_fatalities_2009_2022" / "osha_fatalities_09-22_complete.csv"):
        yield r["description"], "workplace-injury"


def _osha_accidents() -> Iterator[tuple[str, str | None]]:
    for r in _csv(DATA_DIR / "osha_accidents_2011_2015" / "accident.csv"):
        yield r["event_desc"], "workplace-injury"


@dataclass(frozen=True)
class Source:
    name: str
    agency: str
    role: str  # "train" or "evaluate"
    rows: Callable[[], Iterator[tuple[str, str | None]]]
    take: int  # rows drawn (at random, after cleaning and de-duplication)


SOURCES = (
    Source("cfpb_bclinkinbeard", "CFPB", "train", _cfpb_bclinkinbeard, 472),
    Source("cfpb_payday_seunnna", "CFPB", "train", _cfpb_payday, 330),
    Source("nhtsa_adas_narratives", "NHTSA", "train", _nhtsa_adas, 650),
    Source("fda_maude_abbott", "FDA", "train", _fda_abbott, 650),
    Source("cpsc_neiss_2017_2019", "CPSC", "train", _neiss(("2017", "2018", "2019")), 650),
    Source("osha_fatalities_2009_2022", "OSHA", "train", _osha_fatalities, 650),
    Source("cfpb_aegis_eval", "CFPB", "evaluate", _cfpb_aegis, 300),
    Source("nhtsa_flat_cmpl_sample", "NHTSA", "evaluate", _nhtsa_flat, 300),
    Source("fda_maude_davinci", "FDA", "evaluate", _fda_davinci, 300),
    Source("cpsc_neiss_2020_2021", "CPSC", "evaluate", _neiss(("2020", "2021")), 300),
    Source("osha_accidents_2011_2015", "OSHA", "evaluate", _osha_accidents, 300),
)


def rows_of(source: Source, seed: int = SEED) -> list[Row]:
    """A source's rows, cleaned and distinct, in a reproducible random order."""
    seen: set[str] = set()
    kept: list[Row] = []
    prefix = source.name.split("_")[0]
    for text, category in source.rows():
        cleaned = clean(text, prefix)
        if cleaned is None:
            continue
        key = cleaned.casefold()
        if key in seen:
            continue
        seen.add(key)
        kept.append(Row(cleaned, source.agency, category, source.name))
    rng = random.Random(f"{seed}:{source.name}")
    rng.shuffle(kept)
    return kept


def training_rows(seed: int = SEED) -> list[Row]:
    return [r for s in SOURCES if s.role == "train" for r in rows_of(s, seed)[: s.take]]


def heldout_rows(part: str = "test", seed: int = SEED) -> list[Row]:
    """The evaluation sources (never in the shipped corpus), in two halves: "dev" is what the
    examples and rules were improved against, "test" is only ever measured, and is what the
    benchmark reports."""
    start = {"dev": 0, "test": 1}[part]
    return [
        r for s in SOURCES if s.role == "evaluate" for r in rows_of(s, seed)[start::2][: s.take]
    ]


def write_corpus(path: Path = CORPUS) -> Counter:
    rows = training_rows()
    heldout = {r.text.casefold() for s in SOURCES if s.role == "evaluate" for r in rows_of(s)}
    path.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["text", "agency", "category", "source"])
        for r in rows:
            if r.text.casefold() in heldout:
                continue  # a row in both a training and an evaluation source stays out
            out.writerow([cut(r.text), r.agency, r.category or "", r.source])
            counts[r.source] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CORPUS, help="where to write the corpus")
    parser.add_argument("--show", type=int, default=0, help="print N cleaned rows per source")
    args = parser.parse_args(argv)
    if args.show:
        for s in SOURCES:
            print(f"== {s.name} ({s.agency}, {s.role})")
            for r in rows_of(s)[: args.show]:
                print("  -", cut(r.text, 300))
        return 0
    counts = write_corpus(args.out)
    print(f"wrote {sum(counts.values())} rows to {args.out}: {dict(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
