"""How well routing does on labelled complaints, and those figures as text for people.

Shared by `redress route train` (the model on its held-back slice), `redress route evaluate`
(the whole router on an agency's labelled export) and the routing benchmark.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

# A misroute costs a transfer and days of the customer's clock on top of a person's time, so
# it counts double a triaged case when two models are compared.
MISROUTE_COST = 2.0
TRIAGE = "(triage)"


@dataclass
class Figures:
    """Shares of right agency, triage and wrong agency; per-agency precision and recall; the
    confusion counts (true agency -> where it went)."""

    n: int
    right: float
    triage: float
    wrong: float
    threshold: float | None
    per_agency: dict[str, dict]
    confusion: dict[str, dict[str, int]]

    @property
    def score(self) -> float:
        return self.right - MISROUTE_COST * self.wrong

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "right": round(self.right, 4),
            "triage": round(self.triage, 4),
            "wrong": round(self.wrong, 4),
            "threshold": self.threshold,
            "score": round(self.score, 4),
            "per_agency": self.per_agency,
            "confusion": self.confusion,
        }


def figures(
    truth: Sequence[str], decided: Sequence[str | None], threshold: float | None = None
) -> Figures:
    """`decided` holds the agency each complaint went to, None for triage."""
    n = len(truth)
    confusion: dict[str, Counter] = defaultdict(Counter)
    for t, d in zip(truth, decided, strict=True):
        confusion[t][d or TRIAGE] += 1
    right = sum(1 for t, d in zip(truth, decided, strict=True) if d == t)
    triage = sum(1 for d in decided if d is None)
    per_agency: dict[str, dict] = {}
    for agency in sorted(set(truth) | {d for d in decided if d}):
        sent = sum(1 for d in decided if d == agency)
        hit = confusion[agency][agency] if agency in confusion else 0
        total = sum(confusion[agency].values()) if agency in confusion else 0
        per_agency[agency] = {
            "n": total,
            "sent": sent,
            "precision": round(hit / sent, 4) if sent else None,
            "recall": round(hit / total, 4) if total else None,
        }
    return Figures(
        n=n,
        right=right / n if n else 0.0,
        triage=triage / n if n else 0.0,
        wrong=(n - right - triage) / n if n else 0.0,
        threshold=threshold,
        per_agency=per_agency,
        confusion={t: dict(c) for t, c in sorted(confusion.items())},
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def lines(f: Figures, *, confusion: bool = True) -> list[str]:
    """The figures as a short report: totals, per agency, and the confusion matrix."""
    out = [
        f"Complaints: {f.n:,}",
        f"  right agency:  {_pct(f.right)}",
        f"  triage:        {_pct(f.triage)}",
        f"  wrong agency:  {_pct(f.wrong)}",
    ]
    if f.threshold is not None:
        out.append(f"  (model threshold {f.threshold:.0%})")
    if not f.n:
        return out
    out.append("")
    out.append(
        f"  {'agency':<12} {'complaints':>10} {'sent there':>10} {'precision':>9} {'recall':>7}"
    )
    for agency, a in f.per_agency.items():
        out.append(
            f"  {agency:<12} {a['n']:>10,} {a['sent']:>10,} {_pct(a['precision']):>9} "
            f"{_pct(a['recall']):>7}"
        )
    if confusion:
        columns = sorted({d for row in f.confusion.values() for d in row} - {TRIAGE}) + [TRIAGE]
        columns = [c for c in columns if any(c in row for row in f.confusion.values())]
        width = max(6, *(len(c) for c in columns))
        out.append("")
        out.append("  Confusion (rows: the right agency; columns: where routing sent it)")
        out.append("  " + " " * 12 + " ".join(f"{c:>{width}}" for c in columns))
        for truth, row in f.confusion.items():
            out.append(f"  {truth:<12}" + " ".join(f"{row.get(c, 0):>{width}}" for c in columns))
    return out
