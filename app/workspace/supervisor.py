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
from sqlalchemy import and_, case, func, select

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
FILTERS = ("queue", "category", "assignee")


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
        if assignee == "none" or assignee in {s.email.lower() for s in _staff(agency, None)}:
            scope.filters["assignee"] = assignee
        else:
            scope.errors.append(f"No one at {agency.code} has the address '{assignee}'.")
    return scope


def _categories(agency: Agency) -> list[Category]:
    return db.session.scalars(
        select(Category).where(Category.agency_id == agency.id).order_by(Category.name)
    ).all()


def _staff(agency: Agency, holders: set[int] | None) -> list[StaffUser]:
    """Who may hold the agency's cases: its staff and the admins; with `holders` (ids of
    those holding its open cases now), its active staff and those holders (an admin, a
    member deactivated since)."""
    if holders is None:
        who = (StaffUser.agency_id == agency.id) | (StaffUser.role == "admin")
    else:
        who = ((StaffUser.agency_id == agency.id) & StaffUser.active.is_(True)) | StaffUser.id.in_(
            list(holders)
        )
    return db.session.scalars(
        select(StaffUser).where(who).order_by(StaffUser.name, StaffUser.id)
    ).all()


# --- counts ----------------------------------------------------------------------------------


@dataclass
class Counts:
    open: int = 0
    at_risk: int = 0
    breached: int = 0


STATES = ("open", "at_risk", "breached")


class Tallies:
    """How many cases of the scope are open, at risk and breached, by assignee, queue and age
    bucket: three grouped queries, each the very query of the list it counts (the team
    queue, and that queue with sla=at_risk or sla=breached), so that every number on the
    page agrees with the list it links to. Breached and at-risk cases are found from the
    indexes of running clocks' due and at-risk times; only the open count reads every open
    case, and it asks nothing of the clocks."""

    def __init__(self, scope: Scope) -> None:
        whens = []
        for key, _, _, last in AGE_BUCKETS:
            if last is not None:
                start, _ = age_bounds(key, scope.now, scope.tz)
                whens.append((Case.received_at >= start, key))
        bucket = case(*whens, else_=AGE_BUCKETS[-1][0])
        keys = (Case.assignee_id, Case.queue_id, bucket)
        self.rows: dict[str, list] = {}
        for state in STATES:
            more = {} if state == "open" else {"sla": state}
            query = queries.filtered_cases(current_user, scope.args(**more), scope.now)
            query = query.with_only_columns(*keys, func.count()).group_by(*keys).order_by(None)
            self.rows[state] = db.session.execute(query).all()

    def by(self, dimension: str) -> dict:
        """Counts per assignee id, queue id or age bucket key."""
        index = ("assignee", "queue", "age").index(dimension)
        out: dict = defaultdict(Counts)
        for state, rows in self.rows.items():
            for row in rows:
                counts = out[row[index]]
                setattr(counts, state, getattr(counts, state) + row[-1])
        return out

    def total(self, state: str) -> int:
        return sum(row[-1] for row in self.rows[state])

    def holders(self) -> set[int]:
        """Who holds the open cases counted."""
        return {row[0] for row in self.rows["open"] if row[0] is not None}


def workload(scope: Scope, tallies: Tallies, people: list[StaffUser] | None = None) -> list[dict]:
    """Open, at-risk and breached cases per person, and unassigned."""
    counts = tallies.by("assignee")
    people = _staff(scope.agency, tallies.holders()) if people is None else people
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
                "counts": counts.get(s.id, Counts()),
            }
        )
    if not chosen or chosen == "none":
        rows.append(
            {
                "name": "Unassigned",
                "email": None,
                "role": "",
                "filter": "none",
                "counts": counts.get(None, Counts()),
            }
        )
    return rows


def by_queue(scope: Scope, tallies: Tallies) -> list[dict]:
    """Open, at-risk and breached cases per queue of the agency (and without a queue)."""
    counts = tallies.by("queue")
    chosen = scope.filters.get("queue")
    rows = [
        {"name": q.name, "filter": q.code, "counts": counts.get(q.id, Counts())}
        for q in sorted(scope.agency.queues, key=lambda q: q.name)
        if chosen in (None, q.code)
    ]
    if None in counts:
        rows.append({"name": "No queue", "filter": "none", "counts": counts[None]})
    return rows


def by_age(scope: Scope, tallies: Tallies) -> list[dict]:
    """Open cases by calendar days since received, in the agency's time zone (AGE_BUCKETS)."""
    counts = tallies.by("age")
    return [
        {"name": words, "filter": key, "counts": counts.get(key, Counts())}
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


def _settled_counts(agency: Agency, boundaries: list[datetime], now: datetime):
    """How many clocks of each of the agency's standards met or missed them, per stretch of
    time between consecutive `boundaries` (counted in the database: (standard id, stretch,
    on time, count) rows, a few per standard).

    A clock counts when it settled: met (on time or late), or fell due unmet (still open, or
    stopped unmet: closed, merged or transferred late). The outcomes are the published ones
    (app.sla.state.outcome); unlike the published figures, which count a clock in the period
    of its due time, this operational view counts a met clock when it was met. A clock
    transferred away still counts for the agency that owned it."""
    from app.performance import counted_outcome_sql

    c = SlaClock
    settled = case((c.phase == "met", c.met_at), else_=c.due_at)
    stretch = case(*((settled >= b, i) for i, b in reversed(list(enumerate(boundaries)))), else_=-1)
    on_time = case((and_(c.phase == "met", c.met_at <= c.due_at), 1), else_=0)
    return db.session.execute(
        select(c.standard_id, stretch, on_time, func.count())
        .join(ServiceStandard, ServiceStandard.id == c.standard_id)
        .where(ServiceStandard.agency_id == agency.id)
        .where(counted_outcome_sql(now), settled >= boundaries[0], settled <= now)
        .group_by(c.standard_id, stretch, on_time)
    ).all()


def week_starts(now: datetime, tz: str, weeks: int = TREND_WEEKS) -> list[datetime]:
    """Midnight on the Monday of each of the last `weeks` weeks, in the agency's zone (a
    week across a daylight-saving change is an hour longer or shorter)."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return [
        datetime.combine(monday - timedelta(weeks=weeks - 1 - i), time(0), tzinfo=zone).astimezone(
            UTC
        )
        for i in range(weeks)
    ]


def compliance(agency: Agency, now: datetime) -> dict:
    """Per posted standard: tallies for week, month and quarter, and a weekly trend."""
    tz = agency.calendar.timezone
    starts = period_starts(now, tz)
    weeks_from = week_starts(now, tz)
    boundaries = sorted({*weeks_from, *starts.values()})
    periods: dict[int, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    weeks: dict[int, list[Tally]] = defaultdict(lambda: [Tally() for _ in range(TREND_WEEKS)])
    for standard_id, index, on_time, n in _settled_counts(agency, boundaries, now):
        begins = boundaries[index]  # each period and week starts on a boundary
        tallies = [periods[standard_id][name] for name, at in starts.items() if begins >= at]
        if begins >= weeks_from[0]:
            week = max(i for i, at in enumerate(weeks_from) if at <= begins)
            tallies.append(weeks[standard_id][week])
        for tally in tallies:
            if on_time:
                tally.on_time += n
            else:
                tally.missed += n
    standards = db.session.scalars(
        select(ServiceStandard)
        .where(ServiceStandard.agency_id == agency.id)
        .order_by(ServiceStandard.category_id.is_not(None), ServiceStandard.id)
    ).all()
    labels = [week_label(w, tz) for w in weeks_from]
    return {
        "starts": starts,
        "week_starts": weeks_from,
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
    tallies = Tallies(scope)
    lists = {}
    for state in LISTS:
        found, _ = page_of_cases(current_user, scope.args(sla=state), None, limit=LIST_ROWS)
        lists[state] = {"rows": case_rows(scope, found), "count": tallies.total(state)}
    people_all = _staff(agency, tallies.holders())
    people = workload(scope, tallies, people_all)
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
        open_count=tallies.total("open"),
        workload=_linked(scope, people, "assignee"),
        queues=_linked(scope, by_queue(scope, tallies), "queue"),
        ages=_linked(scope, by_age(scope, tallies), "age"),
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
    # Back to the dashboard as it was filtered (the filters are checked again there).
    back = url_for(
        "workspace.dashboard",
        agency=agency.code,
        **{k: request.form[f"keep_{k}"] for k in FILTERS if request.form.get(f"keep_{k}")},
    )
    if not references or not assignee:
        flash("Tick at least one case and choose who should take them.", "error")
        return redirect(back)
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
    return redirect(back)


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
    found = {"workload": workload, "queues": by_queue, "ages": by_age}[table](scope, Tallies(scope))
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
