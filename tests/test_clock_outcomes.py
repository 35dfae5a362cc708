"""A clock that passed its due time unmet is missed, for good: closing, merging, withdrawing,
pausing late, transferring and reopening stop or continue clocks but never erase an outcome,
and the published figures count each one where docs/public-accountability.md says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import performance
from app.common.time import frozen_time
from app.sla.state import ClockTimes, outcome
from app.sla.sweep import sweep
from tests.helpers import act, ny

CFPB = "caseworker@cfpb.example"
FTC = "caseworker@ftc.example"
ADMIN = "admin@redress.example"


@pytest.fixture
def admin(staff_token):
    return staff_token(ADMIN)


def open_at(client, headers, when, category="credit-report", **extra) -> str:
    """A complaint received at `when` (a web complaint, acknowledged on the screen)."""
    body = {"description": "A debt collector calls me at work.", "category": category, **extra}
    with frozen_time(when):
        r = client.post("/api/v1/complaints", json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["reference"]


def act_at(client, headers, ref, when, **body) -> dict:
    with frozen_time(when):
        return act(client, headers, ref, **body)


def case(client, headers, ref) -> dict:
    r = client.get(f"/api/v1/cases/{ref}", headers=headers)
    assert r.status_code == 200
    return r.json


def clock(body: dict, metric: str) -> dict:
    return next(c for c in body["sla"] if c["metric"] == metric)


def figures(client, now) -> dict[str, dict]:
    performance.publish(now)
    return {r["standard"]: r for r in client.get("/api/v1/performance").json["standards"]}


def month(row: dict, label: str) -> dict:
    return next(m for m in row["trend"] if m["month"] == label)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- Closing unresolved ---------------------------------------------------------------------


def test_closing_unresolved_after_the_due_time_keeps_the_recorded_breach(client, admin):
    ref = open_at(client, admin, ny(2026, 9, 1, 10))  # CFPB: respond in 15 days, resolve in 60
    sweep(ny(2026, 9, 17, 9))  # the sweep records the missed first response
    closed = act_at(client, admin, ref, ny(2026, 10, 5, 12), action="close", reason="No reply.")
    first, resolve = clock(closed, "first_response"), clock(closed, "resolve")
    assert first["outcome"] == "stopped_unmet" and first["stop_reason"] == "closed"
    assert at(first["breached_at"]) == at(first["due_at"]) == ny(2026, 9, 16, 10)
    # Closed before the resolve clock was due: missed at its due time, not dropped.
    assert resolve["outcome"] == "stopped_unmet"
    assert at(resolve["breached_at"]) == ny(2026, 10, 31, 10)
    assert closed["events"][-1]["after"]["stopped"] == ["first_response", "resolve"]

    rows = figures(client, ny(2026, 11, 15, 12))
    september = month(rows["CFPB/first_response"], "2026-09")
    assert (september["sample"], september["met"], september["missed"]) == (1, 0, 1)
    assert september["stopped_unmet"] == 1
    october = month(rows["CFPB/resolve"], "2026-10")
    assert (october["sample"], october["stopped_unmet"]) == (1, 1)
    assert month(rows["CFPB/acknowledge"], "2026-09")["met"] == 1


def test_a_clock_closed_before_its_due_time_counts_only_once_that_time_comes(client, admin):
    ref = open_at(client, admin, ny(2026, 9, 1, 10))
    act_at(client, admin, ref, ny(2026, 9, 3, 10), action="close", reason="Spam.")
    before = figures(client, ny(2026, 9, 10, 12))["CFPB/first_response"]
    assert month(before, "2026-09")["due"] == 0  # due on Sep 16: nothing to say yet
    after = figures(client, ny(2026, 9, 20, 12))["CFPB/first_response"]
    assert month(after, "2026-09")["stopped_unmet"] == 1


# --- Withdrawn by the customer, merged -----------------------------------------------------


def test_withdrawn_complaints_are_shown_apart_unless_already_late(client, admin):
    early = open_at(client, admin, ny(2026, 9, 1, 10))
    late = open_at(client, admin, ny(2026, 9, 1, 11))
    body = act_at(
        client, admin, early, ny(2026, 9, 4, 10), action="close", reason="Sorted.", withdrawn=True
    )
    assert {c["outcome"] for c in body["sla"] if c["metric"] != "acknowledge"} == {
        "withdrawn_by_customer"
    }
    body = act_at(
        client, admin, late, ny(2026, 9, 25, 10), action="close", reason="Gave up.", withdrawn=True
    )
    assert clock(body, "first_response")["outcome"] == "stopped_unmet"  # due Sep 16: missed
    assert clock(body, "resolve")["outcome"] == "withdrawn_by_customer"
    bad = client.post(
        f"/api/v1/cases/{open_at(client, admin, ny(2026, 9, 2, 10), 'identity-theft')}/actions",
        json={"action": "close", "reason": "x", "withdrawn": "maybe"},
        headers=admin,
    )
    assert bad.status_code == 422 and "withdrawn" in bad.json["errors"]

    rows = figures(client, ny(2026, 12, 15, 12))
    first = month(rows["CFPB/first_response"], "2026-09")
    assert (first["withdrawn_by_customer"], first["stopped_unmet"], first["sample"]) == (1, 1, 1)
    resolve = month(rows["CFPB/resolve"], "2026-10")
    assert (resolve["withdrawn_by_customer"], resolve["sample"], resolve["due"]) == (2, 0, 2)
    # The page says what happened instead of "No complaints were due in this period".
    performance.publish(ny(2027, 1, 15, 12))  # last quarter: 2026Q4
    page = client.get("/standards").get_data(as_text=True)
    block = page[page.index('id="standard-cfpb-all-resolve"') :]
    last_quarter = block[block.index('data-period="last_quarter"') :].split("</tr>")[0]
    assert "No complaints were due" not in last_quarter
    assert "2 withdrawn by the customer" in last_quarter


def test_merged_duplicates_keep_their_outcome_and_stay_reachable(client, admin):
    keep = open_at(client, admin, ny(2026, 9, 1, 10))
    on_time = open_at(client, admin, ny(2026, 9, 2, 10))
    late = open_at(client, admin, ny(2026, 9, 1, 12))
    merged = act_at(client, admin, on_time, ny(2026, 9, 3, 10), action="merge", into=keep)
    assert clock(merged, "first_response")["outcome"] == "merged_before_due"
    merged = act_at(client, admin, late, ny(2026, 9, 20, 10), action="merge", into=keep)
    assert clock(merged, "first_response")["outcome"] == "stopped_unmet"
    assert clock(merged, "first_response")["breached_at"] is not None
    assert merged["merged_into"] == keep

    listed = client.get("/api/v1/cases?status=merged", headers=admin).json["cases"]
    assert {c["reference"] for c in listed} == {on_time, late}
    assert all(c["merged_into"] == keep and c["status"] == "closed" for c in listed)
    assert {c["reference"] for c in client.get("/api/v1/cases", headers=admin).json["cases"]} == {
        keep
    }
    both = client.get("/api/v1/cases?status=new,merged", headers=admin).json["cases"]
    assert {c["reference"] for c in both} == {keep, on_time, late}
    survivor = case(client, admin, keep)
    shown = {m["reference"]: m for m in survivor["merged_cases"]}
    assert {c["outcome"] for c in shown[late]["sla"] if c["metric"] == "first_response"} == {
        "stopped_unmet"
    }
    rows = figures(client, ny(2026, 10, 1, 12))
    first = month(rows["CFPB/first_response"], "2026-09")
    assert (first["merged_before_due"], first["stopped_unmet"]) == (1, 1)


# --- Pausing late -------------------------------------------------------------------------


def test_asking_for_information_after_the_due_time_does_not_pause_the_miss(client, admin):
    ref = open_at(client, admin, ny(2026, 9, 1, 10))
    act_at(client, admin, ref, ny(2026, 9, 3, 10), action="reply", body="Looking into it.")
    asked = act_at(
        client, admin, ref, ny(2026, 11, 5, 10), action="request_info", body="Your statement?"
    )
    resolve = clock(asked, "resolve")
    assert asked["status"] == "waiting_on_customer"
    assert asked["events"][-1]["after"]["paused"] == []
    assert resolve["state"] == "breached" and at(resolve["due_at"]) == ny(2026, 10, 31, 10)
    with frozen_time(ny(2026, 11, 10, 10)):
        from app.cases import service
        from app.cases.service import get_case
        from app.extensions import db

        service.customer_replied(get_case(ref), "Here it is.", "email")
        db.session.commit()
    done = act_at(client, admin, ref, ny(2026, 11, 20, 10), action="resolve", resolution="Fixed.")
    resolve = clock(done, "resolve")
    assert resolve["outcome"] == "met_late" and at(resolve["due_at"]) == ny(2026, 10, 31, 10)
    october = month(figures(client, ny(2026, 12, 1, 12))["CFPB/resolve"], "2026-10")
    assert (october["met_late"], october["met"], october["missed"]) == (1, 0, 1)


def test_waiting_on_the_customer_before_the_due_time_still_moves_it(client, admin):
    ref = open_at(client, admin, ny(2026, 9, 1, 10))
    act_at(client, admin, ref, ny(2026, 9, 5, 10), action="request_info", body="Statement?")
    with frozen_time(ny(2026, 9, 10, 10)):
        from app.cases import service
        from app.extensions import db

        service.customer_replied(service.get_case(ref), "Here.", "email")
        db.session.commit()
    resolve = clock(case(client, admin, ref), "resolve")
    # 60 days, plus the 5 days (of real time) we waited.
    assert at(resolve["due_at"]) == ny(2026, 10, 31, 10).astimezone(UTC) + timedelta(days=5)
    performance.publish(ny(2026, 9, 11))
    rows = client.get("/api/v1/performance/clocks?standard=CFPB/resolve&period=2026-11").json
    assert rows["clocks"] == []  # not due yet at the time computed


# --- Transfers ------------------------------------------------------------------------------


def test_transfer_before_the_due_time_hands_the_clocks_over(client, admin, staff_token):
    ref = open_at(client, admin, ny(2026, 11, 2, 10), category="identity-theft")  # FTC
    body = act_at(
        client, admin, ref, ny(2026, 11, 3, 10), action="transfer", agency="CFPB", reason="Bank."
    )
    history = {(c["agency"], c["metric"]): c for c in body["clock_history"]}
    assert history[("FTC", "first_response")]["outcome"] == "handed_over"
    assert history[("FTC", "resolve")]["outcome"] == "handed_over"
    assert history[("FTC", "acknowledge")]["outcome"] == "met"  # the sender keeps its success
    assert {c["metric"] for c in body["sla"]} == {"acknowledge", "first_response", "resolve"}
    for metric in ("first_response", "resolve"):
        mine = clock(body, metric)
        assert history[("CFPB", metric)]["superseded_at"] is None
        assert at(mine["started_at"]) == ny(2026, 11, 2, 10) and mine["outcome"] == "not_yet_due"
    assert at(clock(body, "first_response")["due_at"]) == ny(2026, 11, 17, 10)
    act_at(client, staff_token(CFPB), ref, ny(2026, 11, 5, 10), action="reply", body="On it.")
    rows = figures(client, ny(2026, 12, 1, 12))
    ftc = month(rows["FTC/first_response"], "2026-11")
    assert (ftc["handed_over"], ftc["sample"]) == (1, 0)
    assert month(rows["CFPB/first_response"], "2026-11")["met"] == 1


def test_transfer_after_the_due_time_leaves_the_sender_its_miss(client, admin):
    ref = open_at(client, admin, ny(2026, 11, 2, 10), category="identity-theft")
    sweep(ny(2026, 11, 10, 9))  # FTC's first response (5 business days) was due Nov 9
    body = act_at(
        client, admin, ref, ny(2026, 11, 16, 10), action="transfer", agency="CFPB", reason="Bank."
    )
    ftc = next(
        c for c in body["clock_history"] if c["agency"] == "FTC" and c["metric"] == "first_response"
    )
    assert ftc["outcome"] == "stopped_unmet" and at(ftc["breached_at"]) == ny(2026, 11, 9, 10)
    # The receiving agency's clock starts at the original received time, as before.
    assert at(clock(body, "first_response")["due_at"]) == ny(2026, 11, 17, 10)
    act_at(client, admin, ref, ny(2026, 11, 16, 15), action="reply", body="On it.")
    rows = figures(client, ny(2026, 12, 1, 12))
    assert month(rows["FTC/first_response"], "2026-11")["stopped_unmet"] == 1
    assert month(rows["CFPB/first_response"], "2026-11")["met"] == 1


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_a_paused_clock_transferred_resumes_on_the_next_message(client, admin, who):
    """The reported case: a 30-day standard, received Sep 16, information requested Sep 17,
    transferred Sep 18, answered Sep 19, resolved Dec 5 - published as met, due Jan 3."""
    ref = open_at(client, admin, ny(2026, 9, 16, 10), category="identity-theft")  # FTC
    act_at(client, admin, ref, ny(2026, 9, 17, 10), action="request_info", body="Which bank?")
    moved = act_at(
        client, admin, ref, ny(2026, 9, 18, 10), action="transfer", agency="OSHA", reason="Work."
    )
    assert moved["status"] == "new" and clock(moved, "resolve")["state"] == "paused"
    if who == "customer":
        with frozen_time(ny(2026, 9, 19, 10)):
            from app.cases import service
            from app.extensions import db

            service.customer_replied(service.get_case(ref), "The credit union.", "email")
            db.session.commit()
        assert case(client, admin, ref)["events"][-1]["after"]["resumed"] == ["resolve"]
    else:
        answered = act_at(client, admin, ref, ny(2026, 9, 19, 10), action="reply", body="Hi.")
        assert answered["events"][-1]["after"]["resumed"] == ["resolve"]
    resolve = clock(case(client, admin, ref), "resolve")
    # OSHA: 30 calendar days from Sep 16, plus the two days waited (Sep 17 to 19).
    assert at(resolve["due_at"]) == ny(2026, 10, 18, 10)
    done = act_at(client, admin, ref, ny(2026, 12, 5, 10), action="resolve", resolution="Done.")
    assert clock(done, "resolve")["outcome"] == "met_late"
    rows = figures(client, ny(2026, 12, 15, 12))
    assert month(rows["OSHA/resolve"], "2026-10")["met_late"] == 1
    assert month(rows["FTC/resolve"], "2026-10")["handed_over"] == 1


# --- Reopening ------------------------------------------------------------------------------


def test_reopening_a_case_closed_unresolved_runs_its_clocks_again(client, admin):
    soon = open_at(client, admin, ny(2026, 9, 1, 10))
    late = open_at(client, admin, ny(2026, 9, 1, 11))
    for ref in (soon, late):
        act_at(client, admin, ref, ny(2026, 9, 3, 10), action="close", reason="Wrong.")
    act_at(client, admin, soon, ny(2026, 9, 5, 10), action="reopen", reason="Our mistake.")
    act_at(client, admin, late, ny(2026, 9, 20, 10), action="reopen", reason="Our mistake.")
    body = act_at(client, admin, soon, ny(2026, 9, 8, 10), action="reply", body="Sorry.")
    assert clock(body, "first_response")["outcome"] == "met"  # reopened before the due time
    body = act_at(client, admin, late, ny(2026, 9, 22, 10), action="reply", body="Sorry.")
    first = clock(body, "first_response")
    assert first["outcome"] == "met_late" and first["state"] == "breached"
    assert at(first["met_at"]) == ny(2026, 9, 22, 10)
    september = month(figures(client, ny(2026, 10, 1, 12))["CFPB/first_response"], "2026-09")
    assert (september["met"], september["met_late"], september["stopped_unmet"]) == (1, 1, 0)


def test_reopening_a_resolved_case_keeps_the_first_outcome_and_starts_a_new_clock(client, admin):
    ref = open_at(client, admin, ny(2026, 9, 1, 10))
    act_at(client, admin, ref, ny(2026, 9, 10, 10), action="resolve", resolution="Fixed.")
    body = act_at(client, admin, ref, ny(2026, 9, 20, 10), action="reopen", reason="It is not.")
    resolves = [c for c in body["clock_history"] if c["metric"] == "resolve"]
    assert [c["outcome"] for c in resolves] == ["met", "not_yet_due"]
    assert resolves[0]["superseded_at"] is not None and resolves[1]["superseded_at"] is None
    # The new clock does not count the ten days the case sat resolved.
    assert at(clock(body, "resolve")["due_at"]) == ny(2026, 10, 31, 10).astimezone(UTC) + timedelta(
        days=10
    )
    rows = figures(client, ny(2026, 11, 15, 12))["CFPB/resolve"]
    assert month(rows, "2026-10")["met"] == 1 and month(rows, "2026-11")["open_past_due"] == 1


# --- Periods --------------------------------------------------------------------------------


def test_periods_are_calendar_months_and_quarters_in_the_agency_time_zone(client, admin):
    # Due Sep 30 22:00 in New York (Oct 1 02:00 UTC): September's, not October's.
    ref = open_at(client, admin, ny(2026, 8, 1, 22))
    act_at(client, admin, ref, ny(2026, 8, 2, 10), action="reply", body="Looking.")
    act_at(client, admin, ref, ny(2026, 9, 30, 21), action="resolve", resolution="Done.")
    row = figures(client, ny(2026, 11, 15, 12))["CFPB/resolve"]
    assert (month(row, "2026-09")["met"], month(row, "2026-10")["met"]) == (1, 0)
    assert row["timezone"] == "America/New_York"
    quarter = row["periods"]["last_quarter"]
    assert quarter["id"] == "2026Q3" and quarter["met"] == 1 and quarter["complete"]
    assert at(quarter["start"]) == ny(2026, 7, 1) and at(quarter["end"]) == ny(2026, 10, 1)
    year = row["periods"]["last_12_months"]
    assert year["id"] == "2025-11..2026-10" and at(year["end"]) == ny(2026, 11, 1)
    assert [q["quarter"] for q in row["quarters"]] == [
        "2025Q4",
        "2026Q1",
        "2026Q2",
        "2026Q3",
        "2026Q4",
    ]
    assert not row["quarters"][-1]["complete"] and row["trend"][-1]["month"] == "2026-11"


def test_a_finished_month_does_not_change_and_earlier_open_cases_are_still_shown(client, admin):
    open_late = open_at(client, admin, ny(2026, 7, 1, 10))  # first response due Jul 16
    for day in (1, 2):  # two answered in time, due in September
        ref = open_at(client, admin, ny(2026, 9, day, 10))
        act_at(client, admin, ref, ny(2026, 9, day + 2, 10), action="reply", body="Hi.")
    gone_late = open_at(client, admin, ny(2026, 9, 3, 10))  # due Sep 18, still open
    before = figures(client, ny(2026, 11, 15, 12))["CFPB/first_response"]
    september = month(before, "2026-09")
    assert (september["met"], september["open_past_due"], september["percent_met"]) == (2, 1, None)
    assert month(before, "2026-07")["open_past_due"] == 1
    assert before["open_past_due_now"] == 2
    this_quarter = before["quarters"][-1]
    assert this_quarter["still_open_from_earlier"] == 2 and this_quarter["due"] == 0
    act_at(client, admin, gone_late, ny(2026, 11, 20, 10), action="reply", body="Sorry.")
    act_at(client, admin, open_late, ny(2026, 11, 20, 10), action="close", reason="Old.")
    after = figures(client, ny(2026, 11, 25, 12))["CFPB/first_response"]
    again = month(after, "2026-09")
    for key in ("due", "sample", "met", "missed", "percent_met"):
        assert again[key] == september[key], key
    assert (again["met_late"], again["open_past_due"]) == (1, 0)
    assert after["open_past_due_now"] == 0 and after["quarters"][-1]["still_open_from_earlier"] == 0


def test_a_clock_that_starts_already_past_due_counts_when_it_starts(client, admin):
    """A letter received in July and opened in October: its first response was due in July,
    but July's figures were published long ago; it counts in October."""
    with frozen_time(ny(2026, 10, 20, 10)):
        ref = open_at(
            client,
            admin,
            ny(2026, 10, 20, 10),
            channel="mail",
            received_at=ny(2026, 7, 1, 10).isoformat(),
            address="1 Main St",
        )
    row = figures(client, ny(2026, 11, 15, 12))["CFPB/first_response"]
    assert month(row, "2026-07")["due"] == 0
    assert month(row, "2026-10")["open_past_due"] == 1
    performance.publish(ny(2026, 11, 15, 12))
    listed = client.get(
        "/api/v1/performance/clocks?standard=CFPB/first_response&period=2026-10"
    ).json["clocks"]
    assert [(c["outcome"], c["counted_at"][:10], c["due_at"][:10]) for c in listed] == [
        ("open_past_due", "2026-10-20", "2026-07-16")
    ]
    assert ref not in str(listed)


def test_nothing_due_says_so_and_only_then(client):
    r = client.get("/standards")
    assert "No complaints were due in this period." in r.get_data(as_text=True)
    body = client.get("/api/v1/performance").json
    assert all(r["periods"]["last_quarter"]["due"] == 0 for r in body["standards"])


# --- The rule itself, and the nightly roll-up ------------------------------------------------

DUE = datetime(2026, 9, 16, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phase", "met", "stopped", "reason", "expected"),
    [
        ("met", DUE, None, None, "met"),
        ("met", DUE + timedelta(seconds=1), None, None, "met_late"),
        ("stopped", None, DUE - timedelta(days=3), "closed", "stopped_unmet"),
        ("stopped", None, DUE + timedelta(days=3), "closed", "stopped_unmet"),
        ("stopped", None, DUE - timedelta(days=3), "withdrawn", "withdrawn_by_customer"),
        ("stopped", None, DUE + timedelta(days=3), "withdrawn", "stopped_unmet"),
        ("stopped", None, DUE - timedelta(days=3), "merged", "merged_before_due"),
        ("stopped", None, DUE, "merged", "stopped_unmet"),
        ("stopped", None, DUE - timedelta(days=3), "transferred", "handed_over"),
        ("stopped", None, DUE + timedelta(days=3), "transferred", "stopped_unmet"),
        ("stopped", None, None, None, "stopped_unmet"),  # stopped before reasons were kept
        ("paused", None, None, None, "waiting_on_customer"),
        ("running", None, None, None, "open_past_due"),
    ],
)
def test_outcome_of_a_clock(phase, met, stopped, reason, expected):
    times = ClockTimes(phase, DUE, DUE - timedelta(days=1), met, stopped, reason)
    assert outcome(times, DUE + timedelta(days=10)) == expected
    if phase == "running":
        assert outcome(times, DUE - timedelta(seconds=1)) == "not_yet_due"


def test_nightly_rollup_counts_the_clocks_due_that_day_in_the_agency_time_zone(client, admin):
    from app.extensions import db

    late = open_at(client, admin, ny(2026, 8, 1, 22))  # resolve due Sep 30 22:00 New York
    act_at(client, admin, late, ny(2026, 8, 2, 10), action="reply", body="Looking.")
    act_at(client, admin, late, ny(2026, 10, 2, 10), action="close", reason="Could not fix.")
    with frozen_time(ny(2026, 10, 3, 3)):
        result = performance.rollup(datetime(2026, 9, 30).date())
    assert result["day"] == "2026-09-30"
    rows = db.session.scalars(db.select(performance.PerformanceDaily)).all()
    resolve = [r for r in rows if r.metric == "resolve"]
    assert [(r.day.isoformat(), r.met, r.missed) for r in resolve] == [("2026-09-30", 0, 1)]


def test_supervisor_compliance_keeps_missed_clocks_closed_or_transferred_away(client, admin):
    from app.directory.models import Agency
    from app.extensions import db
    from app.workspace.supervisor import compliance

    closed = open_at(client, admin, ny(2026, 11, 2, 10), category="identity-theft")  # FTC
    moved = open_at(client, admin, ny(2026, 11, 2, 11), category="identity-theft")
    act_at(client, admin, closed, ny(2026, 11, 12, 10), action="close", reason="No reply.")
    act_at(client, admin, moved, ny(2026, 11, 12, 10), action="transfer", agency="CFPB", reason="x")
    ftc = db.session.scalar(db.select(Agency).where(Agency.code == "FTC"))
    figures = compliance(ftc, ny(2026, 11, 20, 12))
    first = next(s for s in figures["standards"] if s["standard"].metric == "first_response")
    month_tally = first["periods"]["month"]
    assert (month_tally.on_time, month_tally.missed) == (0, 2)  # both were due Nov 9


def test_performance_commands_publish_and_refuse_a_bad_time(app):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["performance", "publish", "--now", "2026-11-15T12:00:00-05:00"])
    assert done.exit_code == 0 and "as of 2026-11-15 17:00:00+00:00" in done.output
    bad = runner.invoke(args=["performance", "publish", "--now", "yesterday"])
    assert bad.exit_code != 0 and "--now" in bad.output
    refused = runner.invoke(args=["sla", "sweep", "--now", "2026-11-15"])
    assert refused.exit_code != 0 and "time zone" in refused.output


def test_demo_history_command_fills_an_empty_database_only(app):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["performance", "demo-history", "--cases", "5", "--seed", "1"])
    assert done.exit_code == 0, done.output
    assert "open: 5" in done.output and "Figures published as of 2027-01-01" in done.output
    again = runner.invoke(args=["performance", "demo-history", "--cases", "5"])
    assert again.exit_code != 0 and "already has cases" in again.output
