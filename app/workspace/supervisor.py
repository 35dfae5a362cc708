"""The supervisor's dashboard: breached and at-risk cases, workload per person and per queue,
open cases by age, bulk reassign, and compliance with each posted standard by week, month
and quarter (with a weekly trend). Every list has a CSV.

Breached means one thing everywhere (app.cases.queries.sla_condition): a running clock past
its due time now. Every list and every count here is taken from the same filtered query as
the queue it links to (app.cases.queries.filtered_cases), so a number and the list behind it
agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import case, func, or_, select

from app.api import cursor as cursors
from app.cases import queries
from app.cases import service as cases
from app.cases.models import OPEN_STATUSES, Case
from app.common import spreadsheet
from app.common.errors import DomainError
from app.common.time import utcnow
from app.directory.models import Agency, Category, ServiceStandard
from app.extensions import db
from app.sla.models import SlaClock
from app.staff.models import StaffUser
from app.workspace import bp
from app.workspace.auth import staff_page
from app.workspace.queues import AGE_BUCKETS, age_bounds, page_of_cases, queue_rows
from app.workspace.sla_badges import METRIC_LABELS

TREND_WEEKS = 12
LIST_ROWS = 50  # rows of each case list on the dashboard; its CSV and its queue have them all
CSV_PAGE = 500
LISTS = {"breached": "Breached", "at_risk": "At risk"}


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


# --- scope: the agency and the dashboard's filters -------------------------------------------


@dataclass
class Scope:
    """The agency and the filters (queue, category, assignee) every list and count uses."""

    agency: Agency
    now: datetime
    filters: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def tz(self) -> str:
        return self.agency.calendar.timezone

    def args(self, **more) -> dict:
        """Arguments for app.cases.queries: the agency's open cases, filtered."""
        return {
            "agency": self.agency.code,
            "status": ",".join(OPEN_STATUSES),
            **self.filters,
            **more,
        }

    def link(self, **more) -> str:
        """The team queue showing exactly what a count counts."""
        params = {**self.filters, **{k: v for k, v in more.items() if v}}
        if current_user.sees_all_agencies:
            params["agency"] = self.agency.code
        return url_for("workspace.queue", view="team", **params)

    def here(self, endpoint: str = "workspace.dashboard", clear: bool = False, **more) -> str:
        """This dashboard (or one of its CSVs) with the same agency and filters."""
        params = dict({} if clear else self.filters, **more)
        if current_user.sees_all_agencies:
            params["agency"] = self.agency.code
        return url_for(endpoint, **params)


def _scope() -> Scope:
    """The agency and the filters from the query string, each checked against the agency's
    own queues, categories and staff: an unknown value is an error on the page."""
    scope = Scope(_agency(), utcnow())
    agency = scope.agency
    queue = request.args.get("queue", "").strip()
    if queue:
        if queue == "none" or queue in {q.code for q in agency.queues}:
            scope.filters["queue"] = queue
        else:
            scope.errors.append(f"{agency.code} has no queue '{queue}'.")
    category = request.args.get("category", "").strip()
    if category:
        if category in {c.code for c in _categories(agency)}:
            scope.filters["category"] = category
        else:
            scope.errors.append(f"{agency.code} has no category '{category}'.")
    assignee = request.args.get("assignee", "").strip().lower()
    if assignee:
        if assignee == "none" or assignee in {s.email.lower() for s in _people(agency)}:
            scope.filters["assignee"] = assignee
        else:
            scope.errors.append(f"No one at {agency.code} has the address '{assignee}'.")
    return scope


def _categories(agency: Agency) -> list[Category]:
    return db.session.scalars(
        select(Category).where(Category.agency_id == agency.id).order_by(Category.name)
    ).all()


def _people(agency: Agency) -> list[StaffUser]:
    """Who can hold the agency's cases: its active staff, and anyone (an admin, a member
    since deactivated) who holds one of its open cases now."""
    holding = (
        select(Case.assignee_id)
        .where(Case.agency_id == agency.id, Case.status.in_(OPEN_STATUSES))
        .where(Case.merged_into_id.is_(None), Case.assignee_id.is_not(None))
    )
    return db.session.scalars(
        select(StaffUser)
        .where(
            or_(
                (StaffUser.agency_id == agency.id) & StaffUser.active.is_(True),
                StaffUser.id.in_(holding),
            )
        )
        .order_by(StaffUser.name, StaffUser.id)
    ).all()


# --- counts ----------------------------------------------------------------------------------


@dataclass
class Counts:
    open: int = 0
    at_risk: int = 0
    breached: int = 0


def count(scope: Scope, **more) -> int:
    """How many cases the list with these arguments holds (the same query, counted)."""
    query = queries.filtered_cases(current_user, scope.args(**more), scope.now)
    return db.session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0


def counts_by(scope: Scope, key) -> dict:
    """Open, at-risk and breached cases per value of `key` (a column or expression), in one
    grouped query over the same filtered cases as the lists."""
    flag = {
        state: func.sum(case((queries.sla_condition(state, scope.now), 1), else_=0))
        for state in ("at_risk", "breached")
    }
    query = (
        queries.filtered_cases(current_user, scope.args(), scope.now)
        .with_only_columns(key, func.count(), flag["at_risk"], flag["breached"])
        .group_by(key)
        .order_by(None)
    )
    return {k: Counts(n, int(r or 0), int(b or 0)) for k, n, r, b in db.session.execute(query)}


def workload(scope: Scope) -> list[dict]:
    """Open, at-risk and breached cases per person, and unassigned; each links to the queue
    of exactly those cases."""
    tallies = counts_by(scope, Case.assignee_id)
    people = _people(scope.agency)
    chosen = scope.filters.get("assignee")
    rows = []
    for s in people:
        if chosen and chosen != s.email.lower():
            continue
        rows.append(
            {
                "name": s.name + ("" if s.active else " (inactive)"),
                "email": s.email,
                "role": s.role,
                "filter": s.email.lower(),
                "counts": tallies.get(s.id, Counts()),
            }
        )
    if not chosen or chosen == "none":
        rows.append(
            {
                "name": "Unassigned",
                "email": None,
                "role": "",
                "filter": "none",
                "counts": tallies.get(None, Counts()),
            }
        )
    return rows


def by_queue(scope: Scope) -> list[dict]:
    """Open, at-risk and breached cases per queue of the agency (and without a queue)."""
    tallies = counts_by(scope, Case.queue_id)
    chosen = scope.filters.get("queue")
    rows = [
        {"name": q.name, "filter": q.code, "counts": tallies.get(q.id, Counts())}
        for q in sorted(scope.agency.queues, key=lambda q: q.name)
        if chosen in (None, q.code)
    ]
    if None in tallies:
        rows.append({"name": "No queue", "filter": "none", "counts": tallies[None]})
    return rows


def by_age(scope: Scope) -> list[dict]:
    """Open cases by calendar days since received, in the agency's time zone (AGE_BUCKETS)."""
    whens = []
    for key, _, _, last in AGE_BUCKETS:
        if last is not None:
            start, _ = age_bounds(key, scope.now, scope.tz)
            whens.append((Case.received_at >= start, key))
    bucket = case(*whens, else_=AGE_BUCKETS[-1][0])
    tallies = counts_by(scope, bucket)
    return [
        {"name": words, "filter": key, "counts": tallies.get(key, Counts())}
        for key, words, _, _ in AGE_BUCKETS
    ]


def _linked(scope: Scope, rows: list[dict], name: str) -> list[dict]:
    """Give each row the queue links behind its numbers: open, at risk, breached."""
    for r in rows:
        r["href"] = scope.link(**{name: r["filter"]})
        r["href_at_risk"] = scope.link(**{name: r["filter"]}, sla="at_risk")
        r["href_breached"] = scope.link(**{name: r["filter"]}, sla="breached")
    return rows


# --- case lists ------------------------------------------------------------------------------


def days_open(received_at: datetime, now: datetime, tz: str) -> int:
    """Calendar days since received, by the agency's local dates (as AGE_BUCKETS counts)."""
    zone = ZoneInfo(tz)
    return (now.astimezone(zone).date() - received_at.astimezone(zone).date()).days


def case_rows(scope: Scope, found: list[Case]) -> list[dict]:
    """A dashboard row per case: the clock that makes it breached (or at risk), its assignee
    by name, its queue and how long it has been open."""
    rows = queue_rows(found, scope.now)
    queues = {q.id: q.name for q in scope.agency.queues}
    for row in rows:
        row["queue"] = queues.get(row["queue_id"])
        row["days_open"] = days_open(row["received_at"], scope.now, scope.tz)
    return rows


def all_rows(scope: Scope, state: str) -> Iterator[dict]:
    """Every row of a list, page by page in the dashboard's order (for its CSV)."""
    cursor = None
    while True:
        found, next_values = page_of_cases(
            current_user, scope.args(sla=state), cursor, limit=CSV_PAGE
        )
        yield from case_rows(scope, found)
        if not next_values:
            return
        cursor = cursors.encode(next_values)


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
    tz = agency.calendar.timezone
    starts = period_starts(now, tz)
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
    labels = [week_label(w, tz) for w in week_starts]
    return {
        "starts": starts,
        "week_starts": week_starts,
        "week_labels": labels,
        "standards": [
            {
                "standard": s,
                "label": _standard_label(s),
                "periods": {p: periods[s.id][p] for p in ("week", "month", "quarter")},
                "trend": weeks[s.id],
                "charts": {
                    layout: trend_chart(weeks[s.id], s.goal, labels, layout)
                    for layout in CHART_LAYOUTS
                },
            }
            for s in standards
        ],
    }


def _standard_label(s: ServiceStandard) -> str:
    unit = s.unit.replace("_", " ")
    target = f"{s.target:g} {unit[:-1] if s.target == 1 else unit}"
    scope = s.category.name if s.category else "all complaints"
    return f"{METRIC_LABELS.get(s.metric, s.metric)} within {target} ({scope})"


def week_label(start: datetime, tz: str) -> str:
    """'Sep 7': the Monday a week starts on, in the agency's zone."""
    local = start.astimezone(ZoneInfo(tz))
    return f"{local:%b} {local.day}"


# Two drawings of each trend, one shown by the stylesheet: a wide one for desktops (every
# week labelled) and a narrow one for phones (every other week), so that the labels are
# drawn at a readable size instead of being scaled down with the picture.
CHART_LAYOUTS = {
    "wide": {"width": 760, "height": 260, "left": 56, "right": 28, "top": 14, "bottom": 44,
             "every": 1},
    "narrow": {"width": 360, "height": 230, "left": 46, "right": 24, "top": 12, "bottom": 40,
               "every": 2},
}  # fmt: skip


def trend_chart(weeks: list[Tally], goal: float, labels: list[str], layout: str) -> dict:
    """The geometry of a weekly compliance chart (a server-rendered SVG): a line per run of
    weeks that settled something, a dot per week with its figures, the goal, week labels."""
    g = CHART_LAYOUTS[layout]
    w, h, left, top = g["width"], g["height"], g["left"], g["top"]
    plot_w, plot_h = w - left - g["right"], h - top - g["bottom"]
    step = plot_w / max(len(weeks) - 1, 1)

    def y(percent: float) -> float:
        return round(top + plot_h * (1 - percent / 100.0), 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    runs, run, dots = [], [], []
    for i, t in enumerate(weeks):
        if t.total:
            point = (x(i), y(t.percent))
            run.append(point)
            dots.append(
                {
                    "x": point[0],
                    "y": point[1],
                    "below": t.percent < goal,
                    "title": f"Week of {labels[i]}: {t.percent:g} % met on time "
                    f"({t.on_time} of {t.total})",
                }
            )
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    last = len(weeks) - 1
    return {
        "layout": layout,
        "width": w,
        "height": h,
        "left": left,
        "right": w - g["right"],
        "lines": [" ".join(f"{px},{py}" for px, py in r) for r in runs if len(r) > 1],
        "dots": dots,
        "goal_y": y(goal),
        "grid": [(y(p), f"{p}%") for p in (0, 50, 100)],
        "label_y": h - g["bottom"] + 22,
        # The latest week is always labelled; on a phone, every other week back from it.
        "labels": [(x(i), labels[i]) for i in range(len(weeks)) if (last - i) % g["every"] == 0],
    }


# --- views -----------------------------------------------------------------------------------


@bp.get("/supervisor")
@staff_page("supervisor", "admin")
def dashboard() -> ResponseReturnValue:
    scope = _scope()
    agency = scope.agency
    lists = {}
    for state in LISTS:
        found, _ = page_of_cases(current_user, scope.args(sla=state), None, limit=LIST_ROWS)
        lists[state] = {"rows": case_rows(scope, found), "count": count(scope, sla=state)}
    people = workload(scope)
    people_all = _people(agency)
    agencies = (
        [
            (a.code, f"{a.code}: {a.name}")
            for a in db.session.scalars(select(Agency).order_by(Agency.code))
        ]
        if current_user.sees_all_agencies
        else []
    )
    return render_template(
        "workspace/supervisor.html",
        scope=scope,
        agency=agency,
        agencies=agencies,
        lists=lists,
        open_count=count(scope),
        workload=_linked(scope, people, "assignee"),
        queues=_linked(scope, by_queue(scope), "queue"),
        ages=_linked(scope, by_age(scope), "age"),
        queue_options=[(q.code, q.name) for q in sorted(agency.queues, key=lambda q: q.name)],
        category_options=[(c.code, c.name) for c in _categories(agency)],
        people_options=[(s.email.lower(), s.name) for s in people_all],
        reassign_options=[(s.email, f"{s.name} ({s.role})") for s in people_all if s.active],
        compliance=compliance(agency, scope.now),
        tz=scope.tz,
    ), (422 if scope.errors else 200)


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


def _csv(name: str, header: list[str], rows) -> Response:
    return Response(
        # Built whole, inside the request: the rows read the database as they go.
        spreadsheet.csv_text(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{utcnow():%Y-%m-%d}.csv"'},
    )


CASE_COLUMNS = ["reference", "status", "queue", "category", "assignee", "clock", "state",
                "how_long", "due", "time_zone", "days_open", "received"]  # fmt: skip


@bp.get("/supervisor/<any(breached, at_risk):state>.csv")
@staff_page("supervisor", "admin")
def list_csv(state: str) -> ResponseReturnValue:
    """Every row of the breached or at-risk list, with the columns the screen shows (not the
    complaint's words: open the case for them)."""
    scope = _scope()
    if scope.errors:
        abort(422)

    def rows():
        for r in all_rows(scope, state):
            b = r["badge"]
            yield [
                r["reference"],
                r["status"].replace("_", " "),
                r["queue"],
                r["category"],
                r["assignee"] or "Unassigned",
                b.metric_label if b else "",
                b.label if b else "",
                b.text if b else "",
                _local(b.due_at, scope.tz) if b else "",
                scope.tz,
                r["days_open"],
                _local(r["received_at"], scope.tz),
            ]

    return _csv(f"{state.replace('_', '-')}-{scope.agency.code.lower()}", CASE_COLUMNS, rows())


@bp.get("/supervisor/<any(workload, queues, ages):table>.csv")
@staff_page("supervisor", "admin")
def counts_csv(table: str) -> ResponseReturnValue:
    """The workload per person, per queue, or open cases by age, as on the screen."""
    scope = _scope()
    if scope.errors:
        abort(422)
    first = {"workload": "person", "queues": "queue", "ages": "days_open"}[table]
    found = {"workload": workload, "queues": by_queue, "ages": by_age}[table](scope)
    header = [first, *(["role"] if table == "workload" else []), "open", "at_risk", "breached"]
    rows = (
        [
            r["name"],
            *([r["role"]] if table == "workload" else []),
            r["counts"].open,
            r["counts"].at_risk,
            r["counts"].breached,
        ]
        for r in found
    )
    return _csv(f"{table}-{scope.agency.code.lower()}", header, rows)


def _local(value: datetime | None, tz: str) -> str:
    return "" if value is None else f"{value.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


@bp.get("/supervisor/compliance.csv")
@staff_page("supervisor", "admin")
def compliance_csv() -> ResponseReturnValue:
    agency = _agency()
    data = compliance(agency, utcnow())
    header = ["agency", "standard", "metric", "category", "target", "unit", "goal_percent",
              "period", "period_start", "met_on_time", "missed", "compliance_percent"]  # fmt: skip
    rows = []
    for row in data["standards"]:
        s = row["standard"]
        common = [agency.code, row["label"], s.metric, s.category.code if s.category else "",
                  f"{s.target:g}", s.unit, f"{s.goal:g}"]  # fmt: skip
        for name in ("week", "month", "quarter"):
            t = row["periods"][name]
            start = data["starts"][name].isoformat()
            rows.append([*common, name, start, t.on_time, t.missed, _pct(t)])
        for start, t in zip(data["week_starts"], row["trend"], strict=True):
            rows.append([*common, "trend_week", start.isoformat(), t.on_time, t.missed, _pct(t)])
    return _csv(f"compliance-{agency.code.lower()}", header, rows)


def _pct(t: Tally) -> str:
    return "" if t.percent is None else f"{t.percent:g}"
