"""Staff work on cases through the API: listing with scope, every action, the lifecycle."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.cases.models import Case
from app.common.time import frozen_time
from app.extensions import db
from tests.helpers import NY, ny

CFPB_WORKER = "caseworker@cfpb.example"
CFPB_WORKER2 = "caseworker2@cfpb.example"
CFPB_SUPERVISOR = "supervisor@cfpb.example"
FTC_WORKER = "caseworker@ftc.example"
ADMIN = "admin@redress.example"


def open_complaint(client, category="credit-report", **extra) -> str:
    body = {
        "description": "A debt collector calls me at work.",
        "category": category,
        "email": "pat@example.org",
        **extra,
    }
    r = client.post("/api/v1/complaints", json=body)
    assert r.status_code == 201, r.json
    return r.json["reference"]


def act(client, headers, ref, **body):
    return client.post(f"/api/v1/cases/{ref}/actions", json=body, headers=headers)


def clock(body, metric):
    return next(c for c in body["sla"] if c["metric"] == metric)


def test_staff_api_needs_a_valid_token(client):
    assert client.get("/api/v1/cases").status_code == 401
    bad = client.get("/api/v1/cases", headers={"Authorization": "Bearer rdx_nope"})
    assert bad.status_code == 401


def test_staff_see_only_their_agencys_cases_and_admins_see_all(client, staff_token):
    cfpb_ref = open_complaint(client)
    ftc_ref = open_complaint(client, category="identity-theft")
    cfpb = staff_token(CFPB_WORKER)
    listed = [c["reference"] for c in client.get("/api/v1/cases", headers=cfpb).json["cases"]]
    assert cfpb_ref in listed and ftc_ref not in listed
    assert client.get(f"/api/v1/cases/{ftc_ref}", headers=cfpb).status_code == 404
    assert act(client, cfpb, ftc_ref, action="note", body="peek").status_code == 404
    assert client.get("/api/v1/cases?agency=FTC", headers=cfpb).status_code == 403
    admin = staff_token(ADMIN)
    listed = [c["reference"] for c in client.get("/api/v1/cases", headers=admin).json["cases"]]
    assert {cfpb_ref, ftc_ref} <= set(listed)


def test_case_list_filters_and_pages_with_a_cursor(client, staff_token):
    refs = [open_complaint(client) for _ in range(5)]
    headers = staff_token(CFPB_WORKER)
    act(client, headers, refs[0], action="assign")
    seen, cursor = [], None
    while True:
        url = "/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [c["reference"] for c in page["cases"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(refs) and len(seen) == 5
    assigned = client.get("/api/v1/cases?status=assigned&assignee=me", headers=headers).json
    assert [c["reference"] for c in assigned["cases"]] == [refs[0]]
    unassigned = client.get("/api/v1/cases?assignee=none", headers=headers).json["cases"]
    assert refs[0] not in [c["reference"] for c in unassigned]
    by_due = client.get("/api/v1/cases?sort=due&limit=3", headers=headers).json
    dues = [min(c["due_at"] for c in x["sla"] if c["state"] != "met") for x in by_due["cases"]]
    assert dues == sorted(dues)
    assert client.get("/api/v1/cases?status=bogus", headers=headers).status_code == 422
    assert client.get("/api/v1/cases?cursor=%%%", headers=headers).status_code == 422


def test_sla_filter_finds_breached_and_at_risk_cases(client, staff_token):
    headers = staff_token(CFPB_WORKER)
    with frozen_time(ny(2026, 11, 2, 10, 0)):
        old = open_complaint(client)
    with frozen_time(ny(2026, 12, 21, 9, 30)):
        fresh = open_complaint(client)
        breached = client.get("/api/v1/cases?sla=breached", headers=headers).json["cases"]
        on_track = client.get("/api/v1/cases?sla=on_track", headers=headers).json["cases"]
    assert [c["reference"] for c in breached] == [old]
    assert any(c["state"] == "breached" and c["breached_at"] for c in breached[0]["sla"])
    assert [c["reference"] for c in on_track] == [fresh]


def test_full_case_shows_routing_messages_events_and_clocks(client, staff_token):
    ref = open_complaint(client)
    full = client.get(f"/api/v1/cases/{ref}", headers=staff_token(CFPB_WORKER)).json
    assert full["routing"]["explanation"]
    assert full["routing"]["source"] in ("rule", "category")
    assert full["messages"][0]["body"].startswith("A debt collector")
    assert [e["kind"] for e in full["events"]] == ["opened", "routed", "acknowledged"]
    assert full["customer"]["contacts"] == [
        {"kind": "email", "value": "pat@example.org", "proven": True}
    ]
    assert full["customer"]["on_case"] == [
        {"kind": "email", "value": "pat@example.org", "source": "intake"}
    ]
    assert len(full["sla"]) == 3


def test_assign_start_reply_resolve_close_each_leave_an_event(client, staff_token):
    ref = open_complaint(client)
    h = staff_token(CFPB_WORKER)
    r = act(client, h, ref, action="assign")
    assert r.status_code == 200 and r.json["status"] == "assigned"
    assert r.json["assignee"] == CFPB_WORKER
    r = act(client, h, ref, action="start")
    assert r.json["status"] == "in_progress"
    r = act(client, h, ref, action="note", body="Called the creditor; waiting on records.")
    assert r.json["messages"][-1]["direction"] == "internal"
    r = act(client, h, ref, action="reply", body="We have contacted the company on your behalf.")
    assert r.json["messages"][-1]["direction"] == "outbound"
    assert r.json["messages"][-1]["channel"] == "email"
    assert clock(r.json, "first_response")["state"] == "met"
    assert clock(r.json, "acknowledge")["state"] == "met"
    r = act(
        client, h, ref, action="resolve", resolution="The account was removed from your report."
    )
    assert r.json["status"] == "resolved"
    assert clock(r.json, "resolve")["state"] == "met"
    assert r.json["resolution"].startswith("The account")
    r = act(client, h, ref, action="close")
    assert r.json["status"] == "closed"
    kinds = [e["kind"] for e in r.json["events"]]
    assert kinds == [
        "opened",
        "routed",
        "acknowledged",
        "assign",
        "start",
        "note",
        "reply",
        "resolve",
        "close",
    ]
    assert all(e["actor"] == CFPB_WORKER for e in r.json["events"][3:])
    assign = r.json["events"][3]
    assert assign["before"]["status"] == "new" and assign["after"]["status"] == "assigned"


def test_disallowed_transition_is_409_with_a_clear_message(client, staff_token):
    ref = open_complaint(client)
    h = staff_token(CFPB_WORKER)
    r = act(client, h, ref, action="reopen", reason="why not")
    assert r.status_code == 409
    assert "Cannot reopen a case that is new" in r.json["errors"]["_case"][0]
    act(client, h, ref, action="resolve", resolution="Done.")
    act(client, h, ref, action="close")
    r = act(client, h, ref, action="request_info", body="?")
    assert r.status_code == 409


def test_action_input_is_validated(client, staff_token):
    ref = open_complaint(client)
    h = staff_token(CFPB_WORKER)
    assert act(client, h, ref, action="fly").status_code == 422
    r = act(client, h, ref, action="resolve")
    assert r.status_code == 422 and "resolution" in r.json["errors"]
    r = act(client, h, ref, action="reply", body="   ")
    assert r.status_code == 422 and "body" in r.json["errors"]
    r = act(client, h, ref, action="assign", assignee=CFPB_WORKER2)
    assert r.status_code == 403  # caseworkers claim cases; supervisors assign them
    r = act(client, staff_token(CFPB_SUPERVISOR), ref, action="assign", assignee=FTC_WORKER)
    assert r.status_code == 422 and "assignee" in r.json["errors"]
    r = act(client, staff_token(CFPB_SUPERVISOR), ref, action="assign", assignee=CFPB_WORKER2)
    assert r.status_code == 200 and r.json["assignee"] == CFPB_WORKER2
    full = client.get(f"/api/v1/cases/{ref}", headers=h).json
    assert [e["kind"] for e in full["events"]] == ["opened", "routed", "acknowledged", "assign"]


def test_request_info_pauses_resolve_clock_and_customer_reply_adds_the_wait_back(
    client, staff_token
):
    h = staff_token(CFPB_WORKER)
    with frozen_time(ny(2026, 12, 1, 10, 0)):  # Tuesday
        ref = open_complaint(client)
    with frozen_time(ny(2026, 12, 2, 10, 0)):
        before = act(client, h, ref, action="request_info", body="Please send the statement.")
    assert before.json["status"] == "waiting_on_customer"
    assert clock(before.json, "resolve")["state"] == "paused"
    due_before = datetime.fromisoformat(clock(before.json, "resolve")["due_at"])
    from app.cases import service

    with frozen_time(ny(2026, 12, 4, 10, 0)):  # two business days later the customer answers
        case = db.session.scalar(db.select(Case).where(Case.reference == ref))
        service.customer_replied(case, "Attached is my statement.", "email")
        db.session.commit()
        after = client.get(f"/api/v1/cases/{ref}", headers=h).json
    assert after["status"] == "new"  # nobody had claimed it yet
    resolve = clock(after, "resolve")
    assert resolve["state"] == "on_track"
    due_after = datetime.fromisoformat(resolve["due_at"]).astimezone(NY)
    unit = resolve["unit"]
    if unit == "calendar_days":
        assert due_after - due_before.astimezone(NY) == ny(2026, 12, 4, 10) - ny(2026, 12, 2, 10)
    else:  # business time: two business days (Wed 10:00 to Fri 10:00) were added back
        assert due_after > due_before
    assert after["events"][-1]["kind"] == "customer_replied"
    assert after["events"][-1]["after"]["resumed"] == ["resolve"]


def test_staff_resume_restarts_a_paused_clock(client, staff_token):
    h = staff_token(CFPB_WORKER)
    ref = open_complaint(client)
    act(client, h, ref, action="request_info", body="Which account?")
    r = act(client, h, ref, action="start")
    assert r.json["status"] == "in_progress"
    assert clock(r.json, "resolve")["state"] in ("on_track", "at_risk")


def test_transfer_keeps_reference_history_and_original_clock_start(client, staff_token):
    with frozen_time(ny(2026, 11, 30, 11, 0)):
        ref = open_complaint(client, category="identity-theft")
    ftc = staff_token(FTC_WORKER)
    with frozen_time(ny(2026, 12, 1, 15, 0)):
        r = act(client, ftc, ref, action="transfer", agency="CFPB", reason="It is a bank account.")
    assert r.status_code == 200
    assert r.json["reference"] == ref and r.json["agency"]["code"] == "CFPB"
    cfpb = client.get(f"/api/v1/cases/{ref}", headers=staff_token(CFPB_WORKER)).json
    assert cfpb["status"] == "new" and cfpb["assignee"] is None
    assert [e["kind"] for e in cfpb["events"]][-1] == "transfer"
    assert cfpb["events"][-1]["after"]["from"]["agency"] == "FTC"
    for c in cfpb["sla"]:
        assert datetime.fromisoformat(c["started_at"]) == ny(2026, 11, 30, 11, 0)
    assert client.get(f"/api/v1/cases/{ref}", headers=ftc).status_code == 404
    r = act(client, staff_token(CFPB_WORKER), ref, action="transfer", agency="CFPB", reason="x")
    assert r.status_code == 422


def test_merge_closes_the_duplicate_and_keeps_both_histories(client, staff_token):
    h = staff_token(CFPB_WORKER)
    keep = open_complaint(client)
    dup = open_complaint(client, description="Same debt collector again, second complaint.")
    r = act(client, h, dup, action="merge", into=keep, reason="Same complaint")
    assert r.status_code == 200
    assert r.json["status"] == "closed" and r.json["merged_into"] == keep
    states = {c["metric"]: c["state"] for c in r.json["sla"]}
    assert states == {"acknowledge": "met", "first_response": "stopped", "resolve": "stopped"}
    survivor = client.get(f"/api/v1/cases/{keep}", headers=h).json
    assert survivor["events"][-1]["kind"] == "merged"
    assert survivor["merged_cases"][0]["reference"] == dup
    assert "second complaint" in survivor["merged_cases"][0]["messages"][0]["body"]
    listed = [c["reference"] for c in client.get("/api/v1/cases", headers=h).json["cases"]]
    assert dup not in listed
    assert act(client, h, keep, action="merge", into=keep).status_code == 422
    assert act(client, h, keep, action="merge", into=dup).status_code == 409


def test_reopen_runs_the_resolve_clock_again(client, staff_token):
    h = staff_token(CFPB_WORKER)
    ref = open_complaint(client)
    act(client, h, ref, action="resolve", resolution="Fixed.")
    r = act(client, h, ref, action="reopen", reason="Customer says it is not fixed.")
    assert r.json["status"] == "new"
    assert clock(r.json, "resolve")["state"] in ("on_track", "at_risk")
    assert r.json["resolved_at"] is None


@pytest.mark.parametrize("typo", ["rx-{a}-{b}", "RX {a} {b}", "{a}{b}"])
def test_reference_typed_loosely_still_finds_the_case(client, staff_token, typo):
    ref = open_complaint(client)
    _, a, b = ref.split("-")
    r = client.get(f"/api/v1/cases/{typo.format(a=a, b=b)}", headers=staff_token(CFPB_WORKER))
    assert r.status_code == 200 and r.json["reference"] == ref
