"""Staff routes for survey figures: `/api/v1/surveys/summary` and `/api/v1/surveys/export`."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, request

from app.api.auth import current_staff, staff_required
from app.surveys import reports

bp = Blueprint("surveys_api", __name__, url_prefix="/api/v1/surveys")


def _invalid(field: str, message: str):
    return jsonify({"errors": {field: [message]}}), 422


@bp.get("/summary")
@staff_required
def summary():
    """Survey answers compared.
    ---
    get:
      summary: Satisfaction by agency, category, channel or standard met (staff; own agency)
      parameters:
        - in: query
          name: by
          schema: {type: string, enum: [agency, category, channel, standard_met]}
        - in: query
          name: quarter
          schema: {type: string, example: 2026Q4}
        - in: query
          name: agency
          schema: {type: string}
          description: Admins only; an agency code.
      responses:
        200:
          description: Respondents, and per question the answers, mean and share agreeing.
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    by = request.args.get("by", "agency")
    if by not in reports.GROUPINGS:
        return _invalid("by", f"Use one of: {', '.join(reports.GROUPINGS)}.")
    quarter = request.args.get("quarter") or None
    try:
        groups = reports.summary(current_staff(), by, quarter, request.args.get("agency"))
    except ValueError as exc:
        return _invalid("quarter", str(exc))
    return jsonify({"by": by, "quarter": quarter, "groups": groups})


@bp.get("/export")
@staff_required
def export():
    """The quarter's A-11 §280 figures.
    ---
    get:
      summary: OMB A-11 §280 figures per service for a quarter, as CSV (staff; own agency)
      parameters:
        - in: query
          name: quarter
          required: true
          schema: {type: string, example: 2026Q4}
      responses:
        200:
          description: >
            One row per agency and service: customers served, offered the survey,
            respondents, and the count of each answer (1-5) for each question.
          content:
            text/csv: {}
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    quarter = request.args.get("quarter", "")
    try:
        rows = reports.export_rows(current_staff(), quarter, request.args.get("agency"))
    except ValueError as exc:
        return _invalid("quarter", str(exc))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reports.export_columns(), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"a11-280-{quarter.strip().upper()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
