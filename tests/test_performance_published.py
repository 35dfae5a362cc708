"""Published performance: /standards says what each figure counts, GET /api/v1/performance
gives the same figures in JSON and CSV, and every figure recounts from the public list of
the clocks behind it (GET /api/v1/performance/clocks) over a generated history."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from app import performance
from app.cases import service as cases
from app.common.time import utcnow
from app.extensions import db
from app.sla.state import OUTCOMES
from channels.intake import Intake
from tests.helpers import ny


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
    clock.created_at = min(clock.created_at, due - timedelta(days=30))  # started before due
    return clock


NOW = ny(2026, 11, 15, 12)  # the last complete quarter is 2026Q3


def seed():
    """Resolve clocks of CFPB credit-report cases, by hand: returns the standard's id."""
    received, due = ny(2026, 7, 1, 10), ny(2026, 8, 14, 10)
    plan = (
        # (phase, due, met, channel, how many)
        ("met", due, due - timedelta(hours=1), "web", 6),
        ("met", due, due - timedelta(days=2), "email", 3),
        ("met", due, due + timedelta(days=1), "web", 3),  # met late
        ("running", due, None, "sms", 2),  # still open past due
        ("paused", NOW + timedelta(days=5), None, "web", 2),  # waiting on the customer
        ("running", NOW + timedelta(days=5), None, "web", 1),  # not due yet
        ("met", ny(2026, 3, 10), ny(2026, 3, 1), "web", 4),  # earlier in the 12 months
        ("met", ny(2026, 3, 10), ny(2026, 3, 11), "mail", 1),
        ("met", ny(2025, 6, 10), ny(2025, 6, 1), "web", 2),  # too long ago
    )
    standard_id = None
    for phase, due_at, met, channel, count in plan:
        for _ in range(count):
            case = _open(received, channel)
            standard_id = _set_resolve(case, phase, due_at, met).standard_id
    db.session.commit()
    return standard_id


def test_standards_page_says_what_each_figure_counts(client):
    seed()
    for _ in range(3):  # FTC: three scam complaints resolved on time, too few to say
        due = ny(2026, 9, 10, 12)
        _set_resolve(_open(ny(2026, 8, 20), category="scam"), "met", due, due - timedelta(days=1))
    db.session.commit()
    performance.publish(NOW)
    html = client.get("/standards").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Last complete quarter, 2026Q3" in text
    assert "Last 12 complete months, 2025-11 to 2026-10" in text
    assert "Of the 14 complaints counted, 64.3% were done on time." in text
    assert (
        "9 done on time; 5 missed: 3 done late, 0 closed without being done, 2 still open." in text
    )
    assert "Of the 19 complaints counted, 68.4% were done on time." in text
    assert "Right now: 2 past their time allowed and still open; 2 waiting for information" in text
    ftc = text[text.index("Federal Trade Commission") :]
    assert "Only 3 complaints counted in this period: too few to give a reliable percentage." in ftc
    assert "A missed promise stays missed" in text
    assert f"Figures computed {NOW.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in text
    assert '<svg role="img"' in html and "Month-by-month figures" in html
    spanish = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/standards?lang=es").text))
    assert "De las 14 quejas contadas, el 64,3" in spanish
    assert "Un compromiso incumplido sigue incumplido" in spanish


def test_csv_has_the_same_figures_as_json(client):
    seed()
    performance.publish(NOW)
    body = client.get("/api/v1/performance?agency=cfpb").json
    r = client.get("/api/v1/performance?agency=cfpb", headers={"Accept": "text/csv"})
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    # Two headline periods, five quarters and twelve months per standard.
    assert len(rows) == 19 * len(body["standards"]) and {r["agency"] for r in rows} == {"CFPB"}
    for row in rows:
        standard = next(s for s in body["standards"] if s["standard"] == row["standard"])
        want = next(p for kind, p in _periods(standard) if p["id"] == row["period_id"])
        for key in ("due", "sample", "met", "missed", "met_late", "open_past_due"):
            assert int(row[key]) == want[key], key
        assert row["percent_met"] == (
            "" if want["percent_met"] is None else str(want["percent_met"])
        )
    assert client.get("/api/v1/performance?format=xls").status_code == 422


def _periods(row):
    yield from row["periods"].items()
    yield from (("quarter", q) for q in row["quarters"])
    yield from (("month", m) for m in row["trend"])


def test_worker_job_refreshes_the_published_figures(client):
    from workers.jobs import publish_performance
    from workers.schedule import SCHEDULE

    assert any(p.path == "workers.jobs.publish_performance" for p in SCHEDULE)
    performance.publish(utcnow() - timedelta(hours=5))
    received = utcnow() - timedelta(days=3)
    case = _open(received)
    _set_resolve(case, "met", received + timedelta(days=1), received + timedelta(hours=5))
    db.session.commit()
    stale = client.get("/api/v1/performance").json
    assert all(not r["trend"][-1]["met"] for r in stale["standards"])
    result = publish_performance()
    fresh = client.get("/api/v1/performance").json
    assert fresh["computed_at"] == result["computed_at"] != stale["computed_at"]
    assert sum(r["trend"][-1]["met"] + r["trend"][-2]["met"] for r in fresh["standards"]) == 1
    assert db.session.scalar(db.select(db.func.count(performance.PerformanceSnapshot.id))) == 1


# --- The public recount ---------------------------------------------------------------------

# Every outcome a published period counts or shows (not_yet_due clocks are not listed).
FIGURE_KEYS = tuple(o for o in OUTCOMES if o != "not_yet_due")


def _clocks(client, period, standard=None, fmt="json"):
    query = {"period": period, "format": fmt} | ({"standard": standard} if standard else {})
    r = client.get("/api/v1/performance/clocks", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r


def test_every_published_figure_recounts_from_the_public_clock_list(client):
    from app.cases.demo_history import DEMO_END, generate

    done = generate(90, seed=2, sweeps=False)
    assert done["transfer"] and done["merge"] and done["reopen"] and done["withdraw"]
    performance.publish(DEMO_END)
    body = client.get("/api/v1/performance").json
    everything = _clocks(client, "1990-01..2027-12").json
    assert everything["as_of"] == body["computed_at"]
    every_row = everything["clocks"]
    assert {r["outcome"] for r in every_row} >= {
        "met",
        "met_late",
        "stopped_unmet",
        "open_past_due",
        "handed_over",
        "withdrawn_by_customer",
    }
    listed: dict[str, list[dict]] = {}
    checked = 0
    for row in body["standards"]:
        key = row["standard"]
        mine = [c for c in every_row if c["standard"] == key]
        assert row["open_past_due_now"] == sum(c["outcome"] == "open_past_due" for c in mine)
        for _kind, figure in _periods(row):
            if figure["id"] not in listed:
                listed[figure["id"]] = _clocks(client, figure["id"]).json["clocks"]
            clocks = [c for c in listed[figure["id"]] if c["standard"] == key]
            counts = {k: sum(c["outcome"] == k for c in clocks) for k in FIGURE_KEYS}
            assert {k: figure[k] for k in FIGURE_KEYS} == counts, (key, figure["id"])
            counted = [c for c in clocks if c["counted"]]
            assert figure["sample"] == len(counted)
            assert figure["missed"] == len(counted) - counts["met"]
            assert figure["due"] == len(clocks)
            channels: dict[str, int] = {}
            for c in counted:
                channels[c["channel"]] = channels.get(c["channel"], 0) + 1
            assert figure["channels"] == channels
            want = (
                round(100 * counts["met"] / len(counted), 1)
                if len(counted) >= performance.MIN_SAMPLE
                else None
            )
            assert figure["percent_met"] == want
            start = datetime.fromisoformat(figure["start"])
            earlier = [
                c
                for c in mine
                if c["outcome"] == "open_past_due"
                and datetime.fromisoformat(c["counted_at"]) < start
            ]
            assert figure["still_open_from_earlier"] == len(earlier)
            checked += 1
    assert checked == 19 * len(body["standards"])
    assert sum(r["periods"]["last_12_months"]["sample"] for r in body["standards"]) > 100


def test_clock_list_is_de_identified_stable_and_the_same_in_csv(client, app):
    from app.cases.demo_history import DEMO_END, generate
    from app.cases.models import Case

    generate(25, seed=3, sweeps=False)
    performance.publish(DEMO_END)
    first = _clocks(client, "2026Q4").json["clocks"]
    again = _clocks(client, "2026Q4").json["clocks"]
    assert first == again and first
    references = set(db.session.scalars(db.select(Case.reference)))
    hashes = {c["case"] for c in first}
    assert all(re.fullmatch(r"[0-9a-f]{20}", h) for h in hashes)
    plain = {hashlib.sha256(ref.encode()).hexdigest()[:20] for ref in references}
    assert not hashes & plain and not any(ref in str(first) for ref in references)
    # Keyed: another deployment's key gives other hashes for the same references.
    key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another-deployment-key"
    try:
        assert {c["case"] for c in _clocks(client, "2026Q4").json["clocks"]} != hashes
    finally:
        app.config["SECRET_KEY"] = key
    r = _clocks(client, "2026Q4", fmt="csv")
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [(x["case"], x["outcome"], x["due_at"]) for x in rows] == [
        (c["case"], c["outcome"], c["due_at"]) for c in first
    ]
    one = _clocks(client, "2026Q4", standard="CFPB/resolve").json["clocks"]
    assert one and {c["standard"] for c in one} == {"CFPB/resolve"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "period"),
        ({"period": "2026Q5"}, "period"),
        ({"period": "2026-13"}, "period"),
        ({"period": "2026-11..2026-01"}, "period"),
        ({"period": "2026Q4", "standard": "NOPE/resolve"}, "standard"),
        ({"period": "2026Q4", "format": "xls"}, "format"),
    ],
)
def test_clock_list_refuses_bad_input_clearly(client, query, field):
    r = client.get("/api/v1/performance/clocks", query_string=query)
    assert r.status_code == 422 and field in r.json["errors"]


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
    assert "period" in str(paths["/api/v1/performance/clocks"]["get"]["parameters"])
    assert "2026Q4" in str(paths["/api/v1/surveys/export"]["get"])
    assert "standard_met" in str(paths["/api/v1/surveys/summary"]["get"]["parameters"])
