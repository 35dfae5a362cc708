"""Measured results beside the posted standards: `/standards`, `GET /api/v1/performance`
and the clocks behind every figure, `GET /api/v1/performance/clocks`.

All read the published snapshot (app.performance), so the page and the API always show
the same figures and the time they were computed, and the clock list is as of that time.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from itertools import groupby

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import performance
from app.common.languages import DEFAULT_LANGUAGE
from app.directory import localized
from app.directory.models import Agency, Category, ServiceStandard
from app.extensions import db, limiter
from app.public import bp
from app.public.i18n import current_language
from app.public.views import reading_order

api_bp = Blueprint("performance_api", __name__, url_prefix="/api/v1")

# The counts of a period, in the order the CSV gives them (docs/public-accountability.md).
FIGURE_COLUMNS = (
    "due",
    "sample",
    "met",
    "missed",
    "met_late",
    "stopped_unmet",
    "open_past_due",
    "withdrawn_by_customer",
    "handed_over",
    "merged_before_due",
    "waiting_on_customer",
    "still_open_from_earlier",
)
CSV_COLUMNS = (
    "standard",
    "agency",
    "agency_name",
    "category",
    "metric",
    "wording",
    "target",
    "unit",
    "goal",
    "timezone",
    "period",
    "period_id",
    "start",
    "end",
    "complete",
    *FIGURE_COLUMNS,
    "percent_met",
    "channels",
    "computed_at",
)
CLOCK_COLUMNS = (
    "standard",
    "case",
    "channel",
    "metric",
    "started_at",
    "due_at",
    "counted_at",
    "ended_at",
    "paused_seconds",
    "outcome",
    "counted",
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


def _periods(row: dict):
    """(period kind, figure) of a standard: the two headline periods, the quarters, the months."""
    yield from row["periods"].items()
    for q in row["quarters"]:
        yield "quarter", q
    for m in row["trend"]:
        yield "month", m


def _csv(figures: dict, rows: list[dict]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        for period, p in _periods(r):
            writer.writerow(
                {
                    "standard": r["standard"],
                    "agency": r["agency"]["code"],
                    "agency_name": r["agency"]["name"],
                    "category": r["category"] or "",
                    "metric": r["metric"],
                    "wording": r["wording"],
                    "target": f"{r['target']:g}",
                    "unit": r["unit"],
                    "goal": f"{r['goal']:g}",
                    "timezone": r["timezone"],
                    "period": period,
                    "period_id": p["id"],
                    "start": p["start"],
                    "end": p["end"],
                    "complete": "yes" if p["complete"] else "no",
                    **{k: p[k] for k in FIGURE_COLUMNS},
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
      summary: Measured results per posted standard, by calendar quarter and month
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
            Per posted standard (`standard`: AGENCY/metric or AGENCY/category/metric): for
            the last complete calendar quarter, the last 12 complete months, each of the last
            four quarters and this one so far, and month by month (`trend`), in the agency's
            time zone - the clocks due (`due`), those counted (`sample` = `met` on time +
            `missed`), missed split into `met_late`, `stopped_unmet` and `open_past_due`,
            those not counted (`withdrawn_by_customer`, `handed_over`, `merged_before_due`,
            `waiting_on_customer`), complaints from earlier periods still open past due
            (`still_open_from_earlier`), percentage met (null under the minimum sample) and
            channel mix; live counts `open_past_due_now` and `waiting_on_customer_now`; the
            time the figures were computed. Definitions: docs/public-accountability.md.
          content:
            application/json: {}
            text/csv: {}
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    fmt = _fmt()
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


def _fmt() -> str:
    fmt = request.args.get("format")
    if fmt is None:
        best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
        fmt = "csv" if best == "text/csv" else "json"
    return fmt


def _public_limit() -> str:
    return current_app.config["PUBLIC_RATE_LIMIT"]


@api_bp.get("/performance/clocks")
@limiter.limit(_public_limit)
def performance_clocks():
    """The de-identified clocks behind the published figures, for anyone to recount them.
    ---
    get:
      summary: The clocks behind a published figure (JSON, or CSV with ?format=csv)
      parameters:
        - in: query
          name: period
          required: true
          description: 2026Q4, 2026-11, 2025-12..2026-11, last_quarter or last_12_months.
          schema: {type: string}
        - in: query
          name: standard
          description: A standard as GET /api/v1/performance names it (all when omitted).
          schema: {type: string}
        - in: query
          name: format
          schema: {type: string, enum: [json, csv]}
      responses:
        200:
          description: >
            As of the published figures' time (`as_of`), every clock that counts in the
            period in its agency's time zone: the standard, the case as a keyed hash of its
            reference (stable, not reversible), the channel, started, due and counted-at
            times, when it was met or stopped, the real seconds spent waiting on the
            customer, the outcome and whether it counts towards the percentage. Counting
            the rows by outcome gives the published figure.
          content:
            application/json: {}
            text/csv: {}
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    fmt = _fmt()
    errors: dict[str, list[str]] = {}
    if fmt not in ("json", "csv"):
        errors["format"] = ["Use json or csv."]
    if not request.args.get("period"):
        errors["period"] = [performance.PERIOD_HELP]
    if errors:
        return jsonify({"errors": errors}), 422
    when = performance.published().computed_at
    try:
        plan = performance.recount_plan(request.args.get("standard"), request.args["period"], when)
    except ValueError as exc:
        field = "standard" if "standard" in str(exc) else "period"
        return jsonify({"errors": {field: [str(exc)]}}), 422

    def rows():
        for standards, start, end in plan:
            yield from performance.clock_rows(standards, start, end, when)

    if fmt == "csv":

        def lines():
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=CLOCK_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            for row in rows():
                writer.writerow(row | {"counted": "yes" if row["counted"] else "no"})
                if out.tell() > 65536:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
            yield out.getvalue()

        return Response(
            stream_with_context(lines()),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="performance-clocks.csv"'},
        )

    def document():
        head = {
            "as_of": when.isoformat(),
            "period": request.args["period"],
            "standard": request.args.get("standard"),
            "periods": [
                {
                    "standards": [performance.standard_key(s) for s in standards],
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                }
                for standards, start, end in plan
            ],
        }
        yield json.dumps(head)[:-1] + ', "clocks": ['
        for i, row in enumerate(rows()):
            yield ("," if i else "") + json.dumps(row)
        yield "]}"

    return Response(stream_with_context(document()), mimetype="application/json")
