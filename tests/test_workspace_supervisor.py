"""The supervisor's dashboard counts one way everywhere: breached means overdue now on a
running clock, each case is one row, and every number - the totals, the lists, the workload
per person and per queue, the age buckets, the CSVs, the queues they link to and the API -
agrees with the others (both databases)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

from flask import g

from app.cases.models import OPEN_STATUSES, Case
from app.cases.queries import filtered_cases
from app.common.time import frozen_time
from app.extensions import db
from app.sla.calendar import WEEKDAYS, BusinessCalendar, parse_weekly_hours
from app.sla.state import live_state
from app.workspace.sla_badges import overdue
from tests.helpers import ny
from tests.supervisor_support import CASE_LINK, build_day, queue_refs, team_queue
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    CFPB_WORKER2,
    FTC_SUPERVISOR,
    _reset_staff,
    open_test_case,
    sign_in,
    staff,
    text_of,
)

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # a Wednesday, noon in Washington
COUNT_LINK = re.compile(r'<a class="staff-count" href="([^"]+)">(\d+)<span')


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("</section>", start)
    return html[start:end]


def _table(html: str, heading_id: str) -> list[dict]:
    """The rows of a counts table: name, [open, at risk, breached], and the links."""
    start = html.index(f'aria-labelledby="{heading_id}"')
    body = html[start : html.index("</table>", start)].split("<tfoot>")[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]:
        name = unescape(re.sub(r"<[^>]+>", " ", re.search(r"<th[^>]*>(.*?)</th>", tr, re.S)[1]))
        cells = re.findall(r"<td>(.*?)</td>", tr, re.S)
        numbers = [int(re.match(r"\s*(\d+)", re.sub(r"<[^>]+>", "", c))[1]) for c in cells]
        links = [unescape(m[0]) for m in (COUNT_LINK.findall(c) for c in cells) if m for m in m]
        rows.append({"name": " ".join(name.split()), "n": numbers, "links": links})
    return rows


def _listed(html: str, heading_id: str) -> list[str]:
    return CASE_LINK.findall(_section(html, heading_id))


def _heading_count(html: str, title: str) -> int:
    return int(re.search(rf"{title} \((\d+)\)", text_of_html(html))[1])


def text_of_html(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _another(client, email: str):
    """A second signed-in browser. The tests share one app context, where Flask-Login keeps
    the last user on `g`: forget it, or the next request is the previous user's."""
    g.pop("_login_user", None)
    other = client.application.test_client()
    sign_in(other, email)
    return other


def _csv_rows(client, path: str) -> list[dict]:
    got = client.get(path)
    assert got.status_code == 200, (path, got.status_code)
    assert got.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))


def test_every_number_on_the_dashboard_agrees_with_the_list_behind_it(client, staff_token):
    with frozen_time(NOW):
        day = build_day(NOW)
        sign_in(client, CFPB_SUPERVISOR)
        page = client.get("/staff/supervisor")
        html = page.get_data(as_text=True)
        assert page.status_code == 200

        # The lists: the expected cases, each once, none in both.
        breached, at_risk = _listed(html, "breached-heading"), _listed(html, "risk-heading")
        assert sorted(breached) == sorted(day.breached)
        assert sorted(at_risk) == sorted(day.at_risk)
        assert not set(breached) & set(at_risk)
        assert _heading_count(html, "Breached") == len(day.breached)
        assert _heading_count(html, "At risk") == len(day.at_risk)
        # Every listed breached row is badged Breached, with the clock that is overdue.
        for row in re.findall(r"<tr>(.*?)</tr>", _section(html, "breached-heading"), re.S)[1:]:
            assert "staff-badge--breached" in row and "overdue" in text_of_html(row)

        # Each grouping adds up to the same totals.
        people = _table(html, "people-heading")
        queues = _table(html, "queues-heading")
        ages = _table(html, "ages-heading")
        expected = [len(day.open), len(day.at_risk), len(day.breached)]
        for rows, heading in ((people, "people"), (queues, "queues"), (ages, "ages")):
            assert [sum(r["n"][i] for r in rows) for i in range(3)] == expected, rows
            table = html[html.index(f'aria-labelledby="{heading}-heading"') :]
            total = re.search(r"<tfoot>(.*?)</tfoot>", table[: table.index("</table>")], re.S)
            assert re.findall(r"<td>(\d+)</td>", total[1]) == [str(n) for n in expected]
        by_name = {r["name"]: r["n"] for r in people}
        assert by_name["Admin admin"][2] == 1  # an admin holding a CFPB case is counted
        assert by_name["Caseworker2 (inactive) caseworker"][2] == 2  # so is a member gone
        assert by_name["Unassigned"][2] == sum(1 for r in day.breached if day.assignee[r] is None)
        servicemembers = next(r for r in queues if r["name"].startswith("Servicemember"))
        assert servicemembers["n"] == [2, 1, 1]

        # Every number is a link to the queue that lists exactly that many cases - and
        # those cases are the right ones.
        links = COUNT_LINK.findall(html)
        assert len(links) >= 15
        for href, n in links:
            refs = queue_refs(client, unescape(href))
            assert len(refs) == len(set(refs)) == int(n), (href, n, refs)
            if "sla=breached" in href:
                assert set(refs) <= day.breached, href
            elif "sla=at_risk" in href:
                assert set(refs) <= day.at_risk, href
            else:
                assert set(refs) <= day.open, href
        assert sorted(queue_refs(client, team_queue(sla="breached"))) == sorted(day.breached)
        mine = team_queue(assignee=CFPB_WORKER2, sla="breached")
        assert sorted(queue_refs(client, mine)) == sorted(
            r for r in day.breached if day.assignee[r] == CFPB_WORKER2
        )

        # The CSVs hold the same rows and numbers.
        listed = _csv_rows(client, "/staff/supervisor/breached.csv")
        assert [r["reference"] for r in listed] == breached
        assert [r["reference"] for r in _csv_rows(client, "/staff/supervisor/at_risk.csv")] == (
            at_risk
        )
        for table, rows in (("workload", people), ("queues", queues), ("ages", ages)):
            exported = _csv_rows(client, f"/staff/supervisor/{table}.csv")
            assert [[int(r["open"]), int(r["at_risk"]), int(r["breached"])] for r in exported] == [
                r["n"] for r in rows
            ], table

        # The API's sla filter is the same definition.
        api = client.get(
            "/api/v1/cases?sla=breached&limit=200", headers=staff_token(CFPB_SUPERVISOR)
        )
        assert sorted(c["reference"] for c in api.json["cases"]) == sorted(day.breached)

        # And SQL and Python say the same of every open case: one live state each.
        cases_ = db.session.scalars(
            db.select(Case).where(Case.reference.in_(day.open | day.gone | day.ftc))
        ).all()
        cfpb = staff(CFPB_SUPERVISOR)
        for state in ("breached", "at_risk", "on_track", "paused"):
            query = filtered_cases(cfpb, {"sla": state, "status": ",".join(OPEN_STATUSES)}, NOW)
            in_sql = {c.reference for c in db.session.scalars(query)}
            in_python = {
                c.reference
                for c in cases_
                if c.agency.code == "CFPB"
                and c.status in OPEN_STATUSES
                and not c.merged_into_id
                and live_state(c.clocks, NOW) == state
            }
            assert in_sql == in_python, state
    assert not (day.gone | day.ftc) & set(breached + at_risk)


def test_a_late_acknowledgment_or_a_paused_clock_never_makes_a_case_breached(client):
    """The issue's rows badged "On track" and "Paused" under "Breached": a clock met late is
    history (the published figures keep it missed), not a breach now."""
    with frozen_time(NOW):
        day = build_day(NOW)
        sign_in(client, CFPB_SUPERVISOR)
        html = client.get("/staff/supervisor").get_data(as_text=True)
        on_track = client.get(team_queue(sla="on_track")).get_data(as_text=True)
        paused = client.get(team_queue(sla="paused")).get_data(as_text=True)
    breached = set(_listed(html, "breached-heading"))
    assert not breached & day.other_open
    assert set(CASE_LINK.findall(on_track)) | set(CASE_LINK.findall(paused)) == day.other_open
    assert "Paused" in text_of_html(paused) and "Breached" not in text_of_html(
        paused.split("</form>", 2)[-1]
    )


def test_rows_show_the_overdue_clock_in_plain_words_the_local_due_time_and_the_name(client):
    with frozen_time(NOW):
        late = open_test_case(
            "Never answered.", received_at=NOW - timedelta(days=37), acknowledge=False
        )
        sign_in(client, CFPB_SUPERVISOR)
        client.post(
            "/staff/supervisor/reassign", data={"cases": [late.reference], "assignee": CFPB_WORKER}
        )
        section = text_of_html(
            _section(client.get("/staff/supervisor").get_data(as_text=True), "breached-heading")
        )
    # Received Monday Oct 19, 1 PM in Washington: acknowledgment due a business day later;
    # 24 business days have passed since (Veterans Day was a holiday).
    assert re.search(
        rf"{late.reference} Assigned Never answered\. "
        r"Breached Acknowledge: 24 business days overdue Due Tue Oct 20, 2026 1:00 PM EDT 37 "
        r"Consumer complaints Caseworker",
        section,
    ), section


def test_overdue_in_whole_units_as_each_clock_counts_them():
    cal = BusinessCalendar(
        "America/New_York",
        parse_weekly_hours({d: "09:00-17:00" for d in WEEKDAYS[:5]}),
        holiday_country=None,
    )
    due = ny(2026, 11, 20, 16, 0)  # a Friday, 4 PM
    assert (
        overdue(cal, due, due + timedelta(days=37, hours=7), "calendar_days") == "37 days overdue"
    )
    assert overdue(cal, due, due + timedelta(days=1), "calendar_days") == "1 day overdue"
    assert overdue(cal, due, due + timedelta(hours=5), "calendar_days") == "5 hours overdue"
    assert overdue(cal, due, due + timedelta(minutes=5), "calendar_days") == "under an hour overdue"
    # Friday 4 PM to the next Thursday 10 AM: Mon, Tue, Wed whole, and 2 h = 3 business days.
    assert overdue(cal, due, ny(2026, 11, 26, 10, 0), "business_days") == "3 business days overdue"
    # Over the weekend, one business hour has passed (Friday 4-5 PM).
    assert overdue(cal, due, ny(2026, 11, 22, 12, 0), "business_days") == "1 business hour overdue"
    assert overdue(cal, due, ny(2026, 11, 23, 9, 30), "business_hours") == "1 business hour overdue"
    assert (
        overdue(cal, due, due + timedelta(minutes=20), "business_hours")
        == "under a business hour overdue"
    )


def test_filters_narrow_every_list_and_count_and_unknown_ones_are_errors(client):
    with frozen_time(NOW):
        day = build_day(NOW)
        sign_in(client, CFPB_SUPERVISOR)
        page = client.get("/staff/supervisor?queue=servicemembers")
        html = page.get_data(as_text=True)
        assert sorted(_listed(html, "breached-heading") + _listed(html, "risk-heading")) == sorted(
            day.servicemembers
        )
        assert [
            sum(r["n"][0] for r in _table(html, t)) for t in ("people-heading", "ages-heading")
        ] == [2, 2]
        # Links keep the filter, so the lists they open agree.
        for href, n in COUNT_LINK.findall(html):
            assert "queue=servicemembers" in href
            assert len(queue_refs(client, unescape(href))) == int(n)
        assert [
            r["reference"]
            for r in _csv_rows(client, "/staff/supervisor/breached.csv?queue=servicemembers")
        ] == _listed(html, "breached-heading")

        mine = client.get(f"/staff/supervisor?assignee={CFPB_WORKER}").get_data(as_text=True)
        assert set(_listed(mine, "breached-heading")) == {
            r for r in day.breached if day.assignee[r] == CFPB_WORKER
        }
        assert [r["name"] for r in _table(mine, "people-heading")] == ["Caseworker caseworker"]

        none = client.get("/staff/supervisor?category=mortgage").get_data(as_text=True)
        assert _heading_count(none, "Breached") == 0 and "No open case is overdue" in none

        for bad, says in (
            ("queue=fraud", "CFPB has no queue 'fraud'"),  # the FTC's
            ("category=scam", "CFPB has no category 'scam'"),
            ("assignee=caseworker@ftc.example", "No one at CFPB has the address"),
        ):
            refused = client.get(f"/staff/supervisor?{bad}")
            assert refused.status_code == 422 and says in text_of(refused), bad
            assert client.get(f"/staff/supervisor/breached.csv?{bad}").status_code == 422


def test_age_buckets_count_calendar_days_in_the_agencys_time_zone(client):
    # NOW is Wednesday Nov 25, noon in Washington. Received Monday 23:30 local = 2 days;
    # Sunday 23:30 local (Monday in UTC) = 3 days.
    received = {
        "two": ny(2026, 11, 23, 23, 30),
        "three": ny(2026, 11, 22, 23, 30),
        "thirty": ny(2026, 10, 26, 0, 5),
        "old": ny(2026, 10, 25, 23, 55),
    }
    with frozen_time(NOW):
        refs = {
            k: open_test_case(f"Age {k}.", received_at=v).reference for k, v in received.items()
        }
        sign_in(client, CFPB_SUPERVISOR)
        html = client.get("/staff/supervisor").get_data(as_text=True)
        ages = {r["name"]: r for r in _table(html, "ages-heading")}
        assert {k: v["n"][0] for k, v in ages.items()} == {
            "0–2 days": 1, "3–5 days": 1, "6–10 days": 0, "11–30 days": 1, "More than 30 days": 1,
        }  # fmt: skip
        assert queue_refs(client, ages["0–2 days"]["links"][0]) == [refs["two"]]
        assert queue_refs(client, ages["3–5 days"]["links"][0]) == [refs["three"]]
        assert queue_refs(client, ages["More than 30 days"]["links"][0]) == [refs["old"]]
        listed = client.get(ages["3–5 days"]["links"][0])
        assert "Showing only: Open 3–5 days" in text_of(listed)
        # The queue's own filter form keeps the age it was opened with.
        assert '<input type="hidden" name="age" value="3-5">' in listed.get_data(as_text=True)
        assert client.get(team_queue(age="7-9")).status_code == 422
        exported = _csv_rows(client, "/staff/supervisor/ages.csv")
    assert [r["days_open"] for r in exported] == [
        "0–2 days",
        "3–5 days",
        "6–10 days",
        "11–30 days",
        "More than 30 days",
    ]


def test_staff_see_only_their_agencys_cases_in_every_list_and_export(client):
    with frozen_time(NOW):
        day = build_day(NOW)
        sign_in(client, CFPB_SUPERVISOR)
        pages = [
            client.get("/staff/supervisor").get_data(as_text=True),
            client.get("/staff/supervisor?agency=FTC").get_data(as_text=True),  # ignored
        ]
        exports = [
            client.get(f"/staff/supervisor/{name}.csv?agency=FTC").get_data(as_text=True)
            for name in ("breached", "at_risk", "workload", "queues", "ages", "compliance")
        ]
        for html in pages:
            assert "Consumer Financial Protection Bureau" in html
            assert not set(CASE_LINK.findall(html)) & day.ftc
        for text in exports:
            assert not any(ref in text for ref in day.ftc)
            assert "FTC" not in text and "Federal Trade" not in text
        # The queue a dashboard link opens is scoped the same way.
        assert client.get(team_queue(queue="fraud")).status_code == 422
        assert not set(queue_refs(client, team_queue(sla="breached", agency="FTC"))) & day.ftc

        ftc = _another(client, FTC_SUPERVISOR)
        theirs = ftc.get("/staff/supervisor").get_data(as_text=True)
        assert set(_listed(theirs, "breached-heading")) == day.ftc
        assert not set(CASE_LINK.findall(theirs)) & day.open
        ftc_csv = ftc.get("/staff/supervisor/breached.csv").get_data(as_text=True)
        assert sorted(r["reference"] for r in csv.DictReader(io.StringIO(ftc_csv))) == sorted(
            day.ftc
        )

        admin = _another(ftc, ADMIN)
        both = admin.get("/staff/supervisor?agency=FTC").get_data(as_text=True)
        assert set(_listed(both, "breached-heading")) == day.ftc
        assert "agency=FTC" in COUNT_LINK.findall(both)[0][0]

        worker = _another(admin, CFPB_WORKER)
        for path in (
            "/staff/supervisor",
            "/staff/supervisor/breached.csv",
            "/staff/supervisor/ages.csv",
        ):
            assert worker.get(path).status_code == 403, path


def test_csv_exports_are_formula_safe_and_carry_no_contact_details(client):
    with frozen_time(NOW):
        case = open_test_case(
            '=HYPERLINK("http://evil.example","click")',
            subject="=1+2",
            email="private.person@example.org",
            received_at=NOW - timedelta(days=20),
        )
        member = staff(CFPB_WORKER)
        real_name = member.name
        member.name = "@SUM(A1:A9)"
        db.session.commit()
        try:
            sign_in(client, CFPB_SUPERVISOR)
            client.post(
                "/staff/supervisor/reassign",
                data={"cases": [case.reference], "assignee": CFPB_WORKER},
            )
            breached = client.get("/staff/supervisor/breached.csv").get_data(as_text=True)
            people = client.get("/staff/supervisor/workload.csv").get_data(as_text=True)
        finally:
            member.name = real_name
            db.session.commit()
    row = next(csv.DictReader(io.StringIO(breached)))
    assert row["reference"] == case.reference and row["assignee"] == "'@SUM(A1:A9)"
    assert (row["clock"], row["state"], row["how_long"]) == (
        "First response",
        "Breached",
        "5 days overdue",
    )
    for text in (breached, people):
        assert "private.person" not in text and "HYPERLINK" not in text and "=1+2" not in text
        assert "@cfpb.example" not in text  # staff by name, as on the screen
        for line in csv.reader(io.StringIO(text)):
            assert not any(cell[:1] in ("=", "+", "-", "@") for cell in line), line
    assert "'@SUM(A1:A9)" in people


def test_trend_charts_are_wide_svgs_with_week_labels_and_a_text_alternative(client):
    with frozen_time(NOW - timedelta(days=1)):  # acknowledged at once, this week
        open_test_case("Answered.", received_at=NOW - timedelta(days=1))
    with frozen_time(NOW):
        sign_in(client, CFPB_SUPERVISOR)
        html = client.get("/staff/supervisor").get_data(as_text=True)
    wide = re.findall(r'<svg class="staff-chart staff-chart--wide" viewBox="0 0 (\d+) (\d+)"', html)
    narrow = re.findall(
        r'<svg class="staff-chart staff-chart--narrow" viewBox="0 0 (\d+) (\d+)"', html
    )
    assert len(wide) == len(narrow) == 3  # CFPB posts three standards
    assert all(int(w) >= 600 for w, _ in wide)
    first = html[
        html.index("staff-chart--wide") : html.index("</svg>", html.index("staff-chart--wide"))
    ]
    weeks = re.findall(r'class="staff-chart__week"[^>]*>([A-Z][a-z]{2} \d{1,2})<', first)
    assert weeks[0] == "Sep 7" and weeks[-1] == "Nov 23" and len(weeks) == 12
    assert "<title id=" in first and "<desc id=" in first and "Nov 23: 100.0 % (1 of 1)" in first
    main = html.split("<main", 1)[1]
    assert "style=" not in main and "<script" not in main  # CSP: no inline style or script
    assert "The figures as a table" in html


def test_reassigning_from_a_filtered_dashboard_returns_to_it_with_counts_moved(client):
    with frozen_time(NOW):
        refs = [
            open_test_case(f"Late {i}.", received_at=NOW - timedelta(days=20)).reference
            for i in range(2)
        ]
        sign_in(client, CFPB_SUPERVISOR)
        done = client.post(
            "/staff/supervisor/reassign",
            data={"cases": refs[:1], "assignee": CFPB_WORKER2, "keep_category": "debt-collection"},
        )
        assert done.status_code == 302
        assert "category=debt-collection" in done.headers["Location"]
        html = client.get(done.headers["Location"]).get_data(as_text=True)
    people = {r["name"]: r["n"] for r in _table(html, "people-heading")}
    assert people["Caseworker2 caseworker"] == [1, 0, 1]
    assert people["Unassigned"] == [1, 0, 1]
    assert 'name="keep_category" value="debt-collection"' in html
