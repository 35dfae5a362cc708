"""Survey figures for staff: comparisons for supervisors and OMB's quarterly A-11 §280 export.

Both count cases by the quarter they were resolved in (UTC): customers served are the cases
resolved, offered are those invited to the survey, respondents those who answered.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from app.cases.models import Case
from app.directory.models import Agency, Category
from app.extensions import db
from app.surveys.models import SurveyInvitation, SurveyResponse
from app.surveys.service import FIELDS

_QUARTER = re.compile(r"(\d{4})Q([1-4])")
GROUPINGS = ("agency", "category", "channel", "standard_met")


def parse_quarter(text: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter written 2026Q4; ValueError otherwise."""
    match = _QUARTER.fullmatch((text or "").strip().upper())
    if not match:
        raise ValueError("Give the quarter as YYYYQn, for example 2026Q4.")
    year, q = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    )
    return start, end


def _scoped(query, staff, agency_code: str | None):
    if not staff.sees_all_agencies:
        return query.where(Case.agency_id == staff.agency_id)
    if agency_code:
        return query.join(Agency, Agency.id == Case.agency_id).where(
            Agency.code == agency_code.upper()
        )
    return query


def export_rows(staff, quarter: str, agency_code: str | None = None) -> list[dict]:
    """One row per agency and service (category) with cases resolved in the quarter."""
    start, end = parse_quarter(quarter)
    query = (
        select(Case, SurveyInvitation, SurveyResponse)
        .outerjoin(SurveyInvitation, SurveyInvitation.case_id == Case.id)
        .outerjoin(SurveyResponse, SurveyResponse.case_id == Case.id)
        .where(Case.resolved_at >= start, Case.resolved_at < end)
    )
    rows: dict[tuple, dict] = {}
    for case, invitation, response in db.session.execute(_scoped(query, staff, agency_code)):
        category: Category | None = case.category
        key = (case.agency.code, category.code if category else "")
        row = rows.get(key)
        if row is None:
            row = rows[key] = {
                "quarter": quarter.strip().upper(),
                "agency": case.agency.code,
                "agency_name": case.agency.name,
                "service_code": category.code if category else "",
                "service_name": category.name if category else "General complaints",
                "customers_served": 0,
                "customers_offered": 0,
                "respondents": 0,
                **{f"{f}_{n}": 0 for f in FIELDS for n in range(1, 6)},
            }
        row["customers_served"] += 1
        row["customers_offered"] += invitation is not None
        if response is not None:
            row["respondents"] += 1
            for field in FIELDS:
                value = getattr(response, field)
                if value:
                    row[f"{field}_{value}"] += 1
    return [rows[k] for k in sorted(rows)]


def export_columns() -> list[str]:
    return [
        "quarter",
        "agency",
        "agency_name",
        "service_code",
        "service_name",
        "customers_served",
        "customers_offered",
        "respondents",
        *(f"{f}_{n}" for f in FIELDS for n in range(1, 6)),
    ]


def summary(
    staff, by: str, quarter: str | None = None, agency_code: str | None = None
) -> list[dict]:
    """Respondents and, per question, how many answered, the mean (1-5) and the share who
    agreed (4 or 5), grouped by agency, category, channel, or whether the case was
    resolved within its posted standard."""
    query = select(SurveyResponse, Case).join(Case, Case.id == SurveyResponse.case_id)
    if quarter:
        start, end = parse_quarter(quarter)
        query = query.where(Case.resolved_at >= start, Case.resolved_at < end)
    groups: dict[str, list[SurveyResponse]] = {}
    for response, case in db.session.execute(_scoped(query, staff, agency_code)):
        if by == "agency":
            key = case.agency.code
        elif by == "category":
            key = case.category.code if case.category else "(none)"
        elif by == "channel":
            key = case.channel
        else:
            key = {True: "met", False: "missed", None: "no_standard"}[response.standard_met]
        groups.setdefault(key, []).append(response)
    out = []
    for key in sorted(groups):
        responses = groups[key]
        questions = {}
        for field in FIELDS:
            values = [getattr(r, field) for r in responses if getattr(r, field)]
            questions[field] = {
                "answered": len(values),
                "mean": round(sum(values) / len(values), 2) if values else None,
                "agree_percent": round(100 * sum(v >= 4 for v in values) / len(values), 1)
                if values
                else None,
            }
        out.append({by: key, "respondents": len(responses), "questions": questions})
    return out
