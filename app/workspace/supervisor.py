"""The supervisor's dashboard: breached and at-risk cases, workload, bulk reassign, and
compliance with each posted standard by week, month and quarter (with a trend and CSV)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import and_, case, exists, func, select

from app.cases import service as cases
from app.cases.models import OPEN_STATUSES, Case
from app.common.errors import DomainError
from app.common.time import utcnow
from app.directory.models import Agency, ServiceStandard
from app.extensions import db
from app.sla.models import SlaClock
from app.staff.models import StaffUser
from app.workspace import bp
from app.workspace.auth import staff_page
from app.workspace.queues import page_of_cases, queue_rows
from app.workspace.sla_badges import METRIC_LABELS

TREND_WEEKS = 12


def _agency() -> Agency:
    """The supervisor's own agency; an admin picks one with ?agency=CODE."""
    if not current_user.sees_all_agencies:
        return current_user.agency
    code = (request.values.get("agency") or "").upper()
    query = select(Agency).order_by(Agency.code)
    if code:
        query = query.where(Agency.code == code)
    agency = db.session.scalar(query.limit(1))
    if agency is None:
        abort(404)
    return agency


def workload(agency: Agency, now: datetime) -> list[dict]:
    """Open and breached cases per staff member of the agency (two grouped queries)."""
    open_case = and_(
        Case.agency_id == agency.id,
        Case.status.in_(OPEN_STATUSES),
        Case.merged_into_id.is_(None),
    )
    breached = exists().where(
        SlaClock.case_id == Case.id, SlaClock.phase == "running", SlaClock.due_at <= now
    )
    counts = {
        sid: (n, b)
        for sid, n, b in db.session.execute(
            select(
                Case.assignee_id,
                func.count(),
                func.sum(case((breached, 1), else_=0)),
            )
            .where(open_case)
            .group_by(Case.assignee_id)
        )
    }
    staff = db.session.scalars(
        select(StaffUser)
        .where(StaffUser.agency_id == agency.id, StaffUser.active.is_(True))
        .order_by(StaffUser.name)
    ).all()
    rows = [
        {
            "name": s.name,
            "email": s.email,
            "role": s.role,
            "open": counts.get(s.id, (0, 0))[0],
            "breached": int(counts.get(s.id, (0, 0))[1] or 0),
        }
        for s in staff
    ]
    n, b = counts.get(None, (0, 0))
    rows.append(
        {"name": "Unassigned", "email": None, "role": "", "open": n, "breached": int(b or 0)}
    )
    return rows


# --- compliance ------------------------------------------------------------------------------


@dataclass
class Tally:
    on_time: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.on_time + self.missed

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.on_time / self.total, 1) if self.total else None


def period_starts(now: datetime, tz: str) -> dict[str, datetime]:
    """Start of this week (Monday), month and quarter, at midnight in the agency's zone."""
    local = now.astimezone(ZoneInfo(tz))
    today = local.date()
    zone = ZoneInfo(tz)

    def midnight(d):
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)

    quarter_month = 3 * ((today.month - 1) // 3) + 1
    return {
        "week": midnight(today - timedelta(days=today.weekday())),
        "month": midnight(today.replace(day=1)),
        "quarter": midnight(today.replace(month=quarter_month, day=1)),
    }


def _settled_rows(agency: Agency, since: datetime, now: datetime):
    """Clocks of the agency's standards that met or missed them since `since`, counted when
    they settled: met (on time or late), or fell due unmet (still open, or stopped unmet:
    closed, merged or transferred late). The outcomes are the published ones
    (app.sla.state.outcome); unlike the published figures, which count a clock in the period
    of its due time, this operational view counts a met clock when it was met. A clock
    transferred away still counts for the agency that owned it."""
    from app.performance import counted_outcome_sql

    settled = case((SlaClock.phase == "met", SlaClock.met_at), else_=SlaClock.due_at)
    return db.session.execute(
        select(SlaClock.standard_id, SlaClock.phase, SlaClock.met_at, SlaClock.due_at)
        .join(ServiceStandard, ServiceStandard.id == SlaClock.standard_id)
        .where(ServiceStandard.agency_id == agency.id)
        .where(counted_outcome_sql(now), settled >= since, settled <= now)
    ).all()


def compliance(agency: Agency, now: datetime) -> dict:
    """Per posted standard: tallies for week, month and quarter, and a weekly trend."""
    starts = period_starts(now, agency.calendar.timezone)
    trend_start = starts["week"] - timedelta(weeks=TREND_WEEKS - 1)
    since = min(starts["quarter"], trend_start)
    periods: dict[int, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    weeks: dict[int, list[Tally]] = defaultdict(lambda: [Tally() for _ in range(TREND_WEEKS)])
    for standard_id, phase, met_at, due_at in _settled_rows(agency, since, now):
        settled = met_at if phase == "met" else due_at
        on_time = phase == "met" and met_at <= due_at
        for name, start in starts.items():
            if settled >= start:
                tally = periods[standard_id][name]
                tally.on_time += on_time
                tally.missed += not on_time
        index = int((settled - trend_start).total_seconds() // (7 * 86400))
        if 0 <= index < TREND_WEEKS:
            weeks[standard_id][index].on_time += on_time
            weeks[standard_id][index].missed += not on_time
    standards = db.session.scalars(
        select(ServiceStandard)
        .where(ServiceStandard.agency_id == agency.id)
        .order_by(ServiceStandard.category_id.is_not(None), ServiceStandard.id)
    ).all()
    week_starts = [trend_start + timedelta(weeks=i) for i in range(TREND_WEEKS)]
    return {
        "starts": starts,
        "week_starts": week_starts,
        "standards": [
            {
                "standard": s,
                "label": _standard_label(s),
                "periods": {p: periods[s.id][p] for p in ("week", "month", "quarter")},
                "trend": weeks[s.id],
                "chart": trend_chart(weeks[s.id], s.goal),
            }
            for s in standards
        ],
    }


def _standard_label(s: ServiceStandard) -> str:
    unit = s.unit.replace("_", " ")
    target = f"{s.target:g} {unit[:-1] if s.target == 1 else unit}"
    scope = s.category.name if s.category else "all complaints"
    return f"{METRIC_LABELS.get(s.metric, s.metric)} within {target} ({scope})"


def trend_chart(weeks: list[Tally], goal: float, width: int = 360, height: int = 120) -> dict:
    """Points of a weekly compliance line and the goal line, for a server-rendered SVG."""
    pad, step = 24, (width - 2 * 24) / max(len(weeks) - 1, 1)

    def y(percent: float) -> float:
        return round(height - pad - (height - 2 * pad) * percent / 100.0, 1)

    points = [(round(pad + i * step, 1), y(t.percent)) for i, t in enumerate(weeks) if t.total]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{x},{yy}" for x, yy in points),
        "dots": points,
        "goal_y": y(goal),
        "zero_y": y(0),
        "top_y": y(100),
        "pad": pad,
    }


# --- views -----------------------------------------------------------------------------------


@bp.get("/supervisor")
@staff_page("supervisor", "admin")
def dashboard() -> ResponseReturnValue:
    agency = _agency()
    now = utcnow()
    scope = {"agency": agency.code}
    breached, more_breached = page_of_cases(current_user, {**scope, "sla": "breached"}, None)
    at_risk, more_at_risk = page_of_cases(current_user, {**scope, "sla": "at_risk"}, None)
    agencies = (
        db.session.scalars(select(Agency).order_by(Agency.code)).all()
        if current_user.sees_all_agencies
        else []
    )
    return render_template(
        "workspace/supervisor.html",
        agency=agency,
        agencies=agencies,
        breached=queue_rows(breached, now),
        at_risk=queue_rows(at_risk, now),
        more_breached=bool(more_breached),
        more_at_risk=bool(more_at_risk),
        workload=workload(agency, now),
        compliance=compliance(agency, now),
        tz=agency.calendar.timezone,
    )


@bp.post("/supervisor/reassign")
@staff_page("supervisor", "admin")
def bulk_reassign() -> ResponseReturnValue:
    """Assign the ticked cases to one staff member; each goes through act(), as on its page."""
    agency = _agency()
    references = request.form.getlist("cases")
    assignee = request.form.get("assignee", "")
    if not references or not assignee:
        flash("Tick at least one case and choose who should take them.", "error")
        return redirect(url_for("workspace.dashboard", agency=agency.code))
    done, problems = [], []
    for reference in references[:200]:
        try:
            case_ = cases.get_case_for(current_user, reference)
            cases.act(case_, "assign", current_user, {"assignee": assignee})
            done.append(case_.reference)
        except DomainError as exc:
            db.session.rollback()
            problems.append(f"{reference}: {exc.message}")
    if done:
        flash(f"Reassigned {len(done)} case(s) to {assignee}: {', '.join(done)}.", "success")
    for problem in problems:
        flash(problem, "error")
    return redirect(url_for("workspace.dashboard", agency=agency.code))


@bp.get("/supervisor/compliance.csv")
@staff_page("supervisor", "admin")
def compliance_csv() -> ResponseReturnValue:
    agency = _agency()
    data = compliance(agency, utcnow())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["agency", "standard", "metric", "category", "target", "unit", "goal_percent",
         "period", "period_start", "met_on_time", "missed", "compliance_percent"]
    )  # fmt: skip
    for row in data["standards"]:
        s = row["standard"]
        common = [agency.code, row["label"], s.metric, s.category.code if s.category else "",
                  f"{s.target:g}", s.unit, f"{s.goal:g}"]  # fmt: skip
        for name in ("week", "month", "quarter"):
            t = row["periods"][name]
            start = data["starts"][name].isoformat()
            writer.writerow([*common, name, start, t.on_time, t.missed, _pct(t)])
        for start, t in zip(data["week_starts"], row["trend"], strict=True):
            writer.writerow(
                [*common, "trend_week", start.isoformat(), t.on_time, t.missed, _pct(t)]
            )
    filename = f"compliance-{agency.code.lower()}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _pct(t: Tally) -> str:
    return "" if t.percent is None else f"{t.percent:g}"
