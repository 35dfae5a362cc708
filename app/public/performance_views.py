"""Measured results beside the posted standards: `/standards` and `GET /api/v1/performance`.

Both read the published snapshot (app.performance), so the page and the API always show
the same figures and the time they were computed.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from itertools import groupby

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import performance
from app.common.languages import DEFAULT_LANGUAGE
from app.directory import localized
from app.directory.models import Agency, Category, ServiceStandard
from app.extensions import db
from app.public import bp
from app.public.i18n import current_language
from app.public.views import reading_order

api_bp = Blueprint("performance_api", __name__, url_prefix="/api/v1")

CSV_COLUMNS = (
    "agency",
    "agency_name",
    "category",
    "metric",
    "wording",
    "target",
    "unit",
    "goal",
    "period",
    "start",
    "end",
    "met",
    "breached",
    "open_past_due",
    "sample",
    "percent_met",
    "channels",
    "computed_at",
)

# The trend chart's drawing box (SVG user units): plot area, then room for the axis labels.
CHART_W, CHART_H = 320, 130
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 40, 312, 8, 104


def trend_chart(trend: list[dict], goal: float) -> dict:
    """Points of the monthly trend for a small SVG line chart on a 0-100 % scale: months
    with too few cases leave a gap rather than a misleading point."""
    step = (PLOT_RIGHT - PLOT_LEFT) / max(len(trend) - 1, 1)

    def y(percent: float) -> float:
        return round(PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * percent / 100, 1)

    def x(i: int) -> float:
        return round(PLOT_LEFT + i * step, 1)

    segments: list[list[tuple[float, float]]] = [[]]
    points = []
    for i, month in enumerate(trend):
        if month["percent_met"] is None:
            if segments[-1]:
                segments.append([])
            continue
        point = (x(i), y(month["percent_met"]))
        segments[-1].append(point)
        points.append(point)
    return {
        "width": CHART_W,
        "height": CHART_H,
        "left": PLOT_LEFT,
        "right": PLOT_RIGHT,
        "goal_y": y(goal),
        "grid": [(label, y(label)) for label in (0, 50, 100)],
        "months": [(trend[0]["month"], x(0)), (trend[-1]["month"], x(len(trend) - 1))]
        if trend
        else [],
        "label_y": PLOT_BOTTOM + 18,
        "lines": [" ".join(f"{px},{py}" for px, py in seg) for seg in segments if len(seg) > 1],
        "points": points,
        "any": bool(points),
    }


def _filtered(figures: dict, agency: str | None) -> list[dict]:
    rows = figures["standards"]
    if agency:
        rows = [r for r in rows if r["agency"]["code"] == agency.upper()]
    return rows


def _in_language(rows: list[dict], lang: str) -> list[dict]:
    """The snapshot's rows with the directory's words in `lang`: agency and category names
    and the standard's wording. The figures are the same in every language; the words are
    read from the directory now, so a translation shows without waiting for the roll-up.
    Agencies come in the reader's alphabetical order, as they do in English."""
    if lang == DEFAULT_LANGUAGE:
        return rows
    agencies = {a.code: a for a in db.session.scalars(select(Agency))}
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    standards = {
        (s.agency.code, s.category.code if s.category else None, s.metric): s
        for s in db.session.scalars(
            select(ServiceStandard).options(
                joinedload(ServiceStandard.agency), joinedload(ServiceStandard.category)
            )
        )
    }

    def say(entity, field: str, english: str | None) -> str | None:
        return english if entity is None else localized(entity, field, lang)

    out = []
    for row in rows:
        code, category = row["agency"]["code"], row["category"]
        standard = standards.get((code, category, row["metric"]))
        out.append(
            row
            | {
                "agency": row["agency"]
                | {"name": say(agencies.get(code), "name", row["agency"]["name"])},
                "category_name": say(categories.get(category), "name", row["category_name"]),
                "wording": say(standard, "wording", row["wording"]),
            }
        )
    out.sort(key=lambda row: reading_order(row["agency"]["name"]))  # stable: keeps each agency's
    return out


@bp.get("/standards")
def standards():
    figures = performance.published().figures
    rows = _in_language(figures["standards"], current_language())
    for row in rows:
        row["chart"] = trend_chart(row["trend"], row["goal"])
    groups = [
        (code, list(items)) for code, items in groupby(rows, key=lambda r: r["agency"]["code"])
    ]
    return render_template(
        "public/standards.html",
        groups=groups,
        computed_at=datetime.fromisoformat(figures["computed_at"]),
        minimum_sample=figures["minimum_sample"],
    )


def _csv(figures: dict, rows: list[dict]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        for period, p in r["periods"].items():
            writer.writerow(
                {
                    "agency": r["agency"]["code"],
                    "agency_name": r["agency"]["name"],
                    "category": r["category"] or "",
                    "metric": r["metric"],
                    "wording": r["wording"],
                    "target": f"{r['target']:g}",
                    "unit": r["unit"],
                    "goal": f"{r['goal']:g}",
                    "period": period,
                    "start": p["start"],
                    "end": p["end"],
                    "met": p["met"],
                    "breached": p["breached"],
                    "open_past_due": p["open_past_due"],
                    "sample": p["sample"],
                    "percent_met": "" if p["percent_met"] is None else p["percent_met"],
                    "channels": ";".join(f"{k}:{v}" for k, v in p["channels"].items()),
                    "computed_at": figures["computed_at"],
                }
            )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="performance.csv"'},
    )


@api_bp.get("/performance")
def performance_figures():
    """Measured results per posted standard and period (JSON, or CSV with ?format=csv).
    ---
    get:
      summary: Met, breached and open-past-due counts per standard, last quarter and 12 months
      parameters:
        - in: query
          name: format
          schema: {type: string, enum: [json, csv]}
        - in: query
          name: agency
          schema: {type: string}
      responses:
        200:
          description: >
            Per posted standard: met, breached and open-past-due counts, sample size,
            percentage met (null under the minimum sample), channel mix and monthly trend,
            with the time the figures were computed.
          content:
            application/json: {}
            text/csv: {}
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    fmt = request.args.get("format")
    if fmt is None:
        best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
        fmt = "csv" if best == "text/csv" else "json"
    if fmt not in ("json", "csv"):
        return jsonify({"errors": {"format": ["Use json or csv."]}}), 422
    figures = performance.published().figures
    rows = _filtered(figures, request.args.get("agency"))
    if fmt == "csv":
        return _csv(figures, rows)
    return jsonify(
        {
            "computed_at": figures["computed_at"],
            "minimum_sample": figures["minimum_sample"],
            "standards": rows,
        }
    )
