"""Published performance: the figures on /standards and in GET /api/v1/performance equal an
independent count over the clocks (met, breached, open past due; paused ones left out)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from app import performance
from app.cases import service as cases
from app.common.time import utcnow
from app.directory.models import ServiceStandard
from app.extensions import db
from app.sla.models import SlaClock
from channels.intake import Intake


def _open(received, channel="web", category="credit-report"):
    intake = Intake(
        channel=channel,
        description="The bureau keeps a debt on my report that I paid.",
        category=category,
        email="pat@example.org",
        received_at=received,
    )
    case, _ = cases.open_case(intake, now=received, commit=False, acknowledge=False)
    return case


def _set_resolve(case, phase, due, met=None):
    clock = next(c for c in case.clocks if c.metric == "resolve")
    clock.phase, clock.due_at, clock.met_at = phase, due, met
    return clock


def seed(now):
    """Resolve clocks of CFPB credit-report cases, by hand: returns the standard's id."""
    recent, older, ancient = (
        now - timedelta(days=30),
        now - timedelta(days=200),
        now - timedelta(days=400),
    )
    due_recent = now - timedelta(days=10)
    plan = (
        # (received, phase, due, met, channel, how many)
        (recent, "met", due_recent, due_recent - timedelta(hours=1), "web", 6),
        (recent, "met", due_recent, due_recent - timedelta(days=2), "email", 3),
        (recent, "met", due_recent, due_recent + timedelta(days=1), "web", 3),  # late
        (recent, "running", now - timedelta(days=5), None, "sms", 2),  # open past due
        (recent, "paused", now - timedelta(days=5), None, "web", 2),  # waiting on customer
        (recent, "stopped", now - timedelta(days=5), None, "web", 1),  # merged away
        (recent, "running", now + timedelta(days=5), None, "web", 1),  # not due yet
        (older, "met", older + timedelta(days=20), older + timedelta(days=3), "web", 4),
        (older, "met", older + timedelta(days=20), older + timedelta(days=25), "mail", 1),
        (ancient, "met", ancient + timedelta(days=20), ancient + timedelta(days=3), "web", 2),
    )
    standard_id = None
    for received, phase, due, met, channel, count in plan:
        for _ in range(count):
            case = _open(received, channel)
            standard_id = _set_resolve(case, phase, due, met).standard_id
    db.session.commit()
    return standard_id


def independent_count(start, end):
    """The published definition, counted clock by clock in Python."""
    out: dict[int, dict] = {}
    for c in db.session.scalars(db.select(SlaClock)):
        if c.standard_id is None:
            continue
        row = out.setdefault(c.standard_id, {"met": 0, "breached": 0, "open_past_due": 0})
        if c.phase == "met" and start <= c.met_at < end:
            row["met" if c.met_at <= c.due_at else "breached"] += 1
        elif c.phase == "running" and start <= c.due_at < end:
            row["open_past_due"] += 1
    return out


def test_published_figures_equal_an_independent_count_over_the_clocks(client):
    now = utcnow()
    standard_id = seed(now)
    performance.publish(now)
    body = client.get("/api/v1/performance").json
    assert body["computed_at"] == now.isoformat()
    standards = {s.id: s for s in db.session.scalars(db.select(ServiceStandard))}
    by_key = {(r["agency"]["code"], r["category"], r["metric"]): r for r in body["standards"]}
    assert len(by_key) == len(standards)
    for name, months in performance.PERIODS:
        start = performance.months_back(now, months)
        expected = independent_count(start, now)
        for sid, standard in standards.items():
            key = (
                standard.agency.code,
                standard.category.code if standard.category else None,
                standard.metric,
            )
            got = by_key[key]["periods"][name]
            want = expected.get(sid, {"met": 0, "breached": 0, "open_past_due": 0})
            assert {k: got[k] for k in want} == want, (name, key)
            assert got["sample"] == sum(want.values())
    # The resolve standard by hand: paused, stopped and not-yet-due clocks are left out.
    resolve = next(
        r
        for r in body["standards"]
        if standards[standard_id].wording == r["wording"]
        and r["metric"] == "resolve"
        and r["agency"]["code"] == "CFPB"
    )
    quarter, year = resolve["periods"]["last_quarter"], resolve["periods"]["last_12_months"]
    assert (quarter["met"], quarter["breached"], quarter["open_past_due"]) == (9, 3, 2)
    assert quarter["sample"] == 14 and quarter["percent_met"] == 64.3
    assert quarter["channels"] == {"web": 9, "email": 3, "sms": 2}
    assert (year["met"], year["breached"], year["open_past_due"], year["sample"]) == (13, 4, 2, 19)
    assert year["percent_met"] == 68.4
    assert year["channels"] == {"web": 13, "email": 3, "sms": 2, "mail": 1}
    # The monthly trend covers whole months back from this one, counted the same way.
    first = performance.months_back(now, 11).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    want = independent_count(first, now)[standard_id]
    assert sum(m["sample"] for m in resolve["trend"]) == sum(want.values())
    assert sum(m["met"] for m in resolve["trend"]) == want["met"]
    assert len(resolve["trend"]) == 12 and resolve["trend"][-1]["month"] == now.strftime("%Y-%m")
    assert resolve["goal"] == standards[standard_id].goal


def test_standards_page_shows_measured_results_and_says_when_too_few(client):
    now = utcnow()
    seed(now)
    for _ in range(3):  # FTC: three scam complaints resolved on time, too few to say
        due = now - timedelta(days=2)
        _set_resolve(
            _open(now - timedelta(days=20), category="scam"), "met", due, due - timedelta(days=1)
        )
    db.session.commit()
    performance.publish(now)
    html = client.get("/standards").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "64.3% of 14 complaints met this" in text
    assert "68.4% of 19 complaints met this" in text
    assert "(9 on time, 3 late, 2 still open past due)" in text
    ftc = text[text.index("Federal Trade Commission") :]
    assert "Only 3 complaints in this period: too few to give a reliable percentage." in ftc
    assert f"Figures computed {now:%Y-%m-%d %H:%M} UTC" in text
    assert '<svg role="img"' in html and "Month-by-month figures" in html


def test_no_data_explains_itself_instead_of_dividing_by_zero(client):
    r = client.get("/standards")
    assert r.status_code == 200
    assert "No complaints were due in this period." in r.get_data(as_text=True)
    body = client.get("/api/v1/performance").json
    assert all(r["periods"]["last_quarter"]["percent_met"] is None for r in body["standards"])
    assert all(r["periods"]["last_quarter"]["sample"] == 0 for r in body["standards"])


def test_csv_has_the_same_figures_as_json(client):
    now = utcnow()
    seed(now)
    performance.publish(now)
    body = client.get("/api/v1/performance?agency=cfpb").json
    r = client.get("/api/v1/performance?agency=cfpb", headers={"Accept": "text/csv"})
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 2 * len(body["standards"]) and {r["agency"] for r in rows} == {"CFPB"}
    for row in rows:
        want = next(
            s
            for s in body["standards"]
            if s["metric"] == row["metric"] and (s["category"] or "") == row["category"]
        )["periods"][row["period"]]
        assert int(row["met"]) == want["met"] and int(row["sample"]) == want["sample"]
        assert row["percent_met"] == (
            "" if want["percent_met"] is None else str(want["percent_met"])
        )
    assert client.get("/api/v1/performance?format=xls").status_code == 422


def test_worker_job_refreshes_the_published_figures(client):
    from workers.jobs import publish_performance
    from workers.schedule import SCHEDULE

    assert any(p.path == "workers.jobs.publish_performance" for p in SCHEDULE)
    performance.publish(utcnow() - timedelta(hours=5))
    seed(utcnow())
    stale = client.get("/api/v1/performance").json
    assert all(r["periods"]["last_quarter"]["sample"] == 0 for r in stale["standards"])
    result = publish_performance()
    fresh = client.get("/api/v1/performance").json
    assert fresh["computed_at"] == result["computed_at"] != stale["computed_at"]
    assert sum(r["periods"]["last_quarter"]["sample"] for r in fresh["standards"]) > 0
    assert db.session.scalar(db.select(db.func.count(performance.PerformanceSnapshot.id))) == 1


def test_trend_chart_leaves_gaps_for_months_with_too_few_cases():
    from app.public.performance_views import trend_chart

    percents = (100.0, 50.0, None, 80.0, 90.0, 0.0)
    trend = [{"month": f"2026-0{i + 1}", "percent_met": p} for i, p in enumerate(percents)]
    chart = trend_chart(trend, 90)
    assert len(chart["points"]) == 5
    assert len(chart["lines"]) == 2  # broken at the month without a figure
    top, bottom = chart["points"][0][1], chart["points"][-1][1]
    assert top < chart["goal_y"] < bottom  # SVG y grows downwards
    assert chart["months"][0][0] == "2026-01" and chart["months"][1][0] == "2026-06"
    assert [label for label, _y in chart["grid"]] == [0, 50, 100]


def test_openapi_documents_performance_and_survey_reports(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "csv" in str(paths["/api/v1/performance"]["get"]["parameters"])
    assert "2026Q4" in str(paths["/api/v1/surveys/export"]["get"])
    assert "standard_met" in str(paths["/api/v1/surveys/summary"]["get"]["parameters"])
