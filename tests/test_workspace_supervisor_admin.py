"""Supervisor dashboard (breaches, workload, bulk reassign, compliance, CSV) and the
admin's directory pages (closures that move due dates, the directory document, routing dry
run, staff) and the inbound page with retry."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from app.cases.service import act, get_case
from app.common.time import frozen_time
from app.directory.models import Agency, Calendar
from app.extensions import db
from app.inbound import service as inbound
from tests.helpers import ny
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    CFPB_WORKER2,
    _reset_staff,
    open_test_case,
    sign_in,
    staff,
    text_of,
)

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # a Wednesday, noon in Washington


def test_supervisor_sees_breached_and_at_risk_cases_and_workload(client):
    with frozen_time(NOW):
        breached = open_test_case("Late.", received_at=NOW - timedelta(days=20)).reference
        fresh = open_test_case("Fresh.").reference
        act(get_case(breached), "assign", staff(CFPB_SUPERVISOR), {"assignee": CFPB_WORKER})
        sign_in(client, CFPB_SUPERVISOR)
        page = client.get("/staff/supervisor")
    words = text_of(page)
    assert page.status_code == 200
    breached_part = words[words.index("Breached (") : words.index("At risk (")]
    assert breached in breached_part and fresh not in breached_part
    # Open, at risk, breached; each number links to its list (with words for screen readers).
    assert "Caseworker caseworker 1 open, Caseworker 0 1 breached, Caseworker" in words
    assert "Unassigned 1 open, Unassigned 0 0" in words


def test_bulk_reassign_moves_ticked_cases_to_one_caseworker(client):
    with frozen_time(NOW):
        refs = [
            open_test_case(f"Late {i}.", received_at=NOW - timedelta(days=20 + i)).reference
            for i in range(3)
        ]
        sign_in(client, CFPB_SUPERVISOR)
        done = client.post(
            "/staff/supervisor/reassign",
            data={"cases": refs[:2], "assignee": CFPB_WORKER2},
            follow_redirects=True,
        )
    assert "Reassigned 2 case(s) to caseworker2@cfpb.example" in text_of(done)
    db.session.expire_all()
    assert [get_case(r).assignee.email if get_case(r).assignee else None for r in refs] == [
        CFPB_WORKER2,
        CFPB_WORKER2,
        None,
    ]
    with frozen_time(NOW):
        empty = client.post(
            "/staff/supervisor/reassign", data={"assignee": CFPB_WORKER2}, follow_redirects=True
        )
    assert "Tick at least one case" in text_of(empty)


def test_compliance_per_standard_by_week_month_quarter_and_csv(client):
    with frozen_time(NOW):
        # Received 36 days ago and never answered: acknowledge missed on Oct 21 (this
        # quarter, not this month), first response (15 calendar days) missed on Nov 4.
        open_test_case("Never answered.", received_at=NOW - timedelta(days=36), acknowledge=False)
        answered = open_test_case("Answered.", received_at=NOW - timedelta(hours=1))
        act(answered, "reply", staff(CFPB_WORKER), {"body": "We are on it."})
        sign_in(client, CFPB_SUPERVISOR)
        page = client.get("/staff/supervisor")
        exported = client.get("/staff/supervisor/compliance.csv")
    words = text_of(page)
    ack = re.search(
        r"Acknowledge within 1 business day \(all complaints\) 98(\.0)? % (.*?) First response",
        words,
    )
    assert ack, words[words.index("Compliance") :][:600]
    assert ack.group(2).split(" %")[0:3] == ["100.0", " (1 of 1) 100.0", " (1 of 1) 50.0"]
    assert exported.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    first = {
        r["period"]: r for r in rows if r["metric"] == "first_response" and r["category"] == ""
    }
    assert (first["week"]["met_on_time"], first["week"]["missed"]) == ("1", "0")
    assert (first["month"]["met_on_time"], first["month"]["missed"]) == ("1", "1")
    assert first["month"]["compliance_percent"] == "50"
    trend = [r for r in rows if r["metric"] == "acknowledge" and r["period"] == "trend_week"]
    assert len(trend) == 12 and trend[-1]["met_on_time"] == "1"
    assert sum(int(r["missed"]) for r in trend) == 1
    assert "<svg" in page.get_data(as_text=True) and 'role="img"' in page.get_data(as_text=True)


def test_adding_a_closure_moves_running_due_dates_and_removing_it_moves_them_back(
    client, fresh_directory
):
    received = ny(2026, 12, 9, 10, 0)  # Wednesday 10:00 in New York
    with frozen_time(received):
        case = open_test_case("Collector calls.", received_at=received, acknowledge=False)
        reference = case.reference
    ack = lambda: next(c for c in get_case(reference).clocks if c.metric == "acknowledge")  # noqa: E731
    assert ack().due_at == ny(2026, 12, 10, 10, 0)
    sign_in(client, ADMIN)
    bad = client.post(
        "/staff/admin/calendars/closures",
        data={"calendar": "federal-eastern", "date": "12/10/2026", "name": ""},
    )
    assert bad.status_code == 422
    assert "Enter the date as YYYY-MM-DD" in text_of(
        bad
    ) and "Say why the offices are closed" in text_of(bad)
    added = client.post(
        "/staff/admin/calendars/closures",
        data={"calendar": "federal-eastern", "date": "2026-12-10", "name": "Snow closure"},
        follow_redirects=True,
    )
    assert "Added Snow closure on 2026-12-10" in text_of(added)
    db.session.expire_all()
    assert ack().due_at == ny(2026, 12, 11, 10, 0)
    assert get_case(reference).next_due_at == ny(2026, 12, 11, 10, 0)
    # A case opened now (the calendar was read for the first case) skips the closure too.
    with frozen_time(received):
        later = open_test_case("Collector calls again.", received_at=received, acknowledge=False)
    assert next(c for c in later.clocks if c.metric == "acknowledge").due_at == ny(
        2026, 12, 11, 10, 0
    )
    again = client.post(
        "/staff/admin/calendars/closures",
        data={"calendar": "federal-eastern", "date": "2026-12-10", "name": "x"},
    )
    assert again.status_code == 422 and "already has a closure on 2026-12-10" in text_of(again)
    calendar = db.session.scalar(db.select(Calendar).where(Calendar.code == "federal-eastern"))
    closure = next(c for c in calendar.closures if c.name == "Snow closure")
    client.post(f"/staff/admin/calendars/closures/{closure.id}/delete")
    db.session.expire_all()
    assert ack().due_at == ny(2026, 12, 10, 10, 0)


def test_directory_document_is_validated_before_anything_is_saved(client, fresh_directory):
    sign_in(client, ADMIN)
    page = client.get("/staff/admin")
    text = re.search(
        r'<textarea[^>]*id="directory"[^>]*>(.*?)</textarea>', page.get_data(as_text=True), re.S
    )[1]
    from html import unescape

    text = unescape(text)
    assert "Consumer Financial Protection Bureau" in text
    broken = text.replace("unit: business_days", "unit: fortnights", 1)
    refused = client.post("/staff/admin", data={"directory": broken})
    assert refused.status_code == 422
    assert re.search(r"directory:\d+: .*unit.*fortnights", text_of(refused))
    renamed = text.replace("name: Consumer Financial Protection Bureau", "name: CFPB (renamed)", 1)
    saved = client.post("/staff/admin", data={"directory": renamed}, follow_redirects=True)
    assert "Directory saved" in text_of(saved)
    assert (
        db.session.scalar(db.select(Agency.name).where(Agency.code == "CFPB")) == "CFPB (renamed)"
    )


def test_routing_dry_run_shows_the_matching_rule_and_why(client):
    sign_in(client, ADMIN)
    page = client.get(
        "/staff/admin/routing",
        query_string={"text": "My landlord refused to rent to me because I use a wheelchair"},
    )
    words = text_of(page)
    assert page.status_code == 200
    assert "Decision: HUD-FHEO" in words
    assert re.search(r"Every active rule, in order .* Yes ", words)
    empty = client.get("/staff/admin/routing?text=")
    assert empty.status_code == 422 and "Type a sample complaint" in text_of(empty)


def test_admin_adds_staff_with_validation_and_the_new_member_can_sign_in(client):
    sign_in(client, ADMIN)
    email = f"new-{uuid4().hex[:8]}@cfpb.example"
    short = client.post(
        "/staff/admin/staff",
        data={"email": email, "role": "caseworker", "agency": "CFPB", "password": "short"},
    )
    assert short.status_code == 422 and "at least 12 characters" in text_of(short)
    no_agency = client.post(
        "/staff/admin/staff",
        data={"email": email, "role": "caseworker", "password": "long-enough-pass"},
    )
    assert no_agency.status_code == 422 and "belong to an agency" in text_of(no_agency)
    added = client.post(
        "/staff/admin/staff",
        data={
            "email": email,
            "role": "caseworker",
            "agency": "CFPB",
            "password": "long-enough-pass",
        },
        follow_redirects=True,
    )
    assert f"Added {email} as caseworker." in text_of(added)
    other = client.application.test_client()
    sign_in(other, email, "long-enough-pass")
    member = staff(email)
    client.post(f"/staff/admin/staff/{member.id}", data={"change": "deactivate"})
    assert other.get("/staff/queues/mine").status_code == 302


def test_inbound_page_lists_outcomes_and_retries_failed_rows(client):
    row, _ = inbound.receive(
        "email",
        "webhook",
        b"not a message at all",
        process_later=False,
        meta={"summary": "From someone, 20 bytes"},
    )
    row.outcome, row.reason, row.attempts = "failed", "no From header", 1
    done, _ = inbound.receive("sms", "twilio", b"Body=hi", process_later=False)
    done.outcome = "ignored"
    db.session.commit()
    sign_in(client, ADMIN)
    page = client.get("/staff/inbound")
    words = text_of(page)
    assert "From someone, 20 bytes" in words and "no From header" in words
    assert words.count("Retry message") == 1
    assert f"Retry message {row.id}" in words
    only_failed = text_of(client.get("/staff/inbound?outcome=failed"))
    assert "ignored" not in only_failed.split("Inbound messages, newest first")[-1]
    bad = client.get("/staff/inbound?outcome=lost")
    assert bad.status_code == 422
    retried = client.post(f"/staff/inbound/{row.id}/retry", follow_redirects=True)
    assert f"Inbound message {row.id} was queued for processing again" in text_of(retried)
    db.session.expire_all()
    again = db.session.get(type(row), row.id)
    assert again.attempts == 2  # processed again (inline jobs), and it failed again
    assert again.outcome == "failed"
