"""Caseworker queues and the case page: due first with SLA badges, filters, claim, one
timeline across channels, every action through the case service, safe downloads."""

from __future__ import annotations

import re
from datetime import timedelta

from app.cases import attachments
from app.cases.models import Message
from app.cases.service import customer_replied, flag_case, get_case
from app.common.time import frozen_time, utcnow
from app.extensions import db
from app.workspace.models import SavedReply
from app.workspace.queues import page_of_cases
from tests.helpers import ny
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    _reset_staff,
    open_test_case,
    sign_in,
    staff,
    text_of,
)


def _references(page) -> list[str]:
    return re.findall(
        r'class="staff-ref" href="/staff/cases/(RX-[0-9A-Z-]+)"', page.get_data(as_text=True)
    )


def test_team_queue_lists_what_is_due_first_with_business_time_badges(client):
    now = utcnow()
    fresh = open_test_case("Fresh complaint about collection calls.").reference
    overdue = open_test_case("Old complaint.", received_at=now - timedelta(days=40)).reference
    older = open_test_case("Week-old complaint.", received_at=now - timedelta(days=7)).reference
    waiting = open_test_case("Waiting on the customer.")
    sign_in(client, CFPB_WORKER)
    client.post(
        f"/staff/cases/{waiting.reference}/actions",
        data={"action": "request_info", "request_info_body": "Which company is calling you?"},
    )
    other_agency = open_test_case("Someone stole my identity.", category="identity-theft")

    page = client.get("/staff/queues/team")
    assert page.status_code == 200
    listed = _references(page)
    assert listed[:3] == [overdue, older, fresh]
    assert other_agency.reference not in listed
    assert listed[-1] == waiting.reference  # no running due time: after the due ones
    words = text_of(page)
    unit = r"[\d.]+ (business|calendar) days?|\d+ h( \d+ min)? business time"
    # Overdue in whole units, as the clock counts them: "25 days overdue".
    assert re.search(rf"{overdue} .*? Breached [\w ]+: \d+ (business )?days? overdue", words)
    assert re.search(rf"{fresh} .*? On track [\w ]+: ({unit}) left", words)
    assert "Paused" in words and "waiting on the customer" in words


def test_queue_filters_by_status_category_channel_and_sla_state(client):
    now = utcnow()
    breached = open_test_case("Late one.", received_at=now - timedelta(days=40)).reference
    by_email = open_test_case("By email.", channel="email", category="credit-report").reference
    sign_in(client, CFPB_WORKER)
    assert _references(client.get("/staff/queues/team?sla=breached")) == [breached]
    assert _references(client.get("/staff/queues/team?channel=email")) == [by_email]
    assert _references(client.get("/staff/queues/team?category=credit-report")) == [by_email]
    assert _references(client.get("/staff/queues/team?status=resolved")) == []
    bad = client.get("/staff/queues/team?status=lost&channel=pigeon&category=nope")
    assert bad.status_code == 422
    assert "Unknown status 'lost'." in text_of(bad) and "Unknown channel 'pigeon'." in text_of(bad)
    bad_category = client.get("/staff/queues/team?category=nope")
    assert bad_category.status_code == 422 and "Unknown category 'nope'" in text_of(bad_category)


def test_claim_from_unassigned_moves_the_case_to_my_cases(client):
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    assert reference in _references(client.get("/staff/queues/unassigned"))
    assert reference not in _references(client.get("/staff/queues/mine"))
    claimed = client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "assign", "next": "queue"},
        headers={"Referer": "/staff/queues/unassigned"},
    )
    assert claimed.status_code == 302 and claimed.location.endswith("/staff/queues/unassigned")
    assert reference in _references(client.get("/staff/queues/mine"))
    assert reference not in _references(client.get("/staff/queues/unassigned"))
    assert get_case(reference).assignee.email == CFPB_WORKER


def test_queue_pages_run_on_from_due_cases_to_those_without_a_running_clock(app):
    now = utcnow()
    refs = [
        open_test_case(f"Case {i}.", received_at=now - timedelta(days=6 * i)).reference
        for i in range(3)
    ]
    paused = open_test_case("Paused case.")
    from app.cases.service import act

    act(paused, "request_info", staff(CFPB_WORKER), {"body": "Which company?"})
    member = staff(CFPB_WORKER)
    seen, cursor = [], None
    for _ in range(5):
        from app.api import cursor as cursors

        rows, more = page_of_cases(member, {}, cursor, limit=2)
        seen += [c.reference for c in rows]
        if not more:
            break
        cursor = cursors.encode(more)
    assert seen == [refs[2], refs[1], refs[0], paused.reference]


def test_case_page_shows_one_timeline_across_channels_with_the_routing_and_clocks(client):
    case = open_test_case(
        "The collector <script>alert('x')</script><img src=x onerror=alert(1)> calls daily.",
        channel="email",
        subject="Collector calling <b>every day</b>",
    )
    reference = case.reference
    customer_replied(case, "Also they call my mother. <i>Please help</i>", "sms")
    db.session.commit()
    sign_in(client, CFPB_WORKER)
    client.post(f"/staff/cases/{reference}/actions", data={"action": "assign"})
    client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "note", "note_body": "Checked: <b>known collector</b>."},
    )
    sent = client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "reply", "reply_body": "We have contacted the company."},
    )
    assert sent.status_code == 302
    page = client.get(f"/staff/cases/{reference}")
    html = page.get_data(as_text=True)
    words = text_of(page)
    # Stored HTML is shown as text, never run.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>known" not in html
    assert "&lt;i&gt;Please help&lt;/i&gt;" in html
    # One timeline, in order: email in, acknowledgment out, SMS reply in, note, our reply.
    order = [
        words.index("From the customer by email"),
        words.index("From the customer by sms"),
        words.index("Internal note by"),
        words.index("We have contacted the company."),
    ]
    assert order == sorted(order)
    assert "To the customer by email" in words
    assert re.search(r"Delivery by email to pat@example.org: (queued|recorded|sent)", words)
    assert "Routed" in words and "Why it came here" in words
    assert case.routing_explanation.split(".")[0] in words
    for metric in ("Acknowledge", "First response", "Resolve"):
        assert re.search(
            rf"{metric} \(\d+ (business|calendar) (days|hours)\): (On track|Met|At risk)", words
        ), metric
    assert re.search(r"Due \w{3} \w{3} \d+, \d{4} \d+:\d\d [AP]M E[SD]T", words)


def test_request_info_resolve_and_reopen_from_the_case_page(client):
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    act = f"/staff/cases/{reference}/actions"
    client.post(act, data={"action": "request_info", "request_info_body": "Which company?"})
    case = get_case(reference)
    assert case.status == "waiting_on_customer"
    assert {c.metric: c.phase for c in case.clocks}["resolve"] == "paused"
    assert "Paused" in text_of(client.get(f"/staff/cases/{reference}"))

    missing = client.post(act, data={"action": "resolve", "resolve_resolution": "  "})
    assert missing.status_code == 422
    assert "A resolution summary is required." in text_of(missing)
    resolved = client.post(
        act, data={"action": "resolve", "resolve_resolution": "The company stopped calling."}
    )
    assert resolved.status_code == 302
    db.session.expire_all()
    case = get_case(reference)
    assert case.status == "resolved" and case.resolution == "The company stopped calling."
    outbound = [m.body for m in case.messages if m.direction == "outbound"]
    assert any("The company stopped calling." in body for body in outbound)
    wrong = client.post(act, data={"action": "request_info", "request_info_body": "More?"})
    assert wrong.status_code == 409 and "Cannot request info a case that is resolved" in text_of(
        wrong
    )
    client.post(act, data={"action": "reopen", "reopen_reason": "They called again."})
    db.session.expire_all()
    assert get_case(reference).status == "new"  # nobody had claimed it


def test_closing_as_withdrawn_from_the_case_page_shows_the_outcome(client):
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    page = text_of(client.get(f"/staff/cases/{reference}"))
    assert "The customer withdrew the complaint" in page
    client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "close", "close_reason": "Sorted it out.", "close_withdrawn": "yes"},
    )
    db.session.expire_all()
    clocks = {c.metric: c for c in get_case(reference).clocks}
    assert clocks["resolve"].stop_reason == "withdrawn"
    assert "withdrawn by the customer" in text_of(client.get(f"/staff/cases/{reference}"))


def test_a_refused_action_keeps_what_was_typed(client):
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    refused = client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "transfer", "transfer_agency": "FTC", "transfer_reason": ""},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "A reason for the transfer is required." in html
    assert '<option value="FTC" selected>' in html
    assert get_case(reference).agency.code == "CFPB"


def test_transfer_sends_the_case_to_another_agency_and_out_of_my_queue(client):
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    moved = client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "transfer", "transfer_agency": "FTC", "transfer_reason": "It is a scam."},
    )
    assert moved.status_code == 302 and moved.location.endswith("/staff/queues/team")
    db.session.expire_all()
    assert get_case(reference).agency.code == "FTC"
    assert client.get(f"/staff/cases/{reference}").status_code == 404


def test_merge_a_duplicate_into_the_first_case(client):
    first = open_test_case("Collector calls at work.").reference
    duplicate = open_test_case("Collector calls at work, again.").reference
    sign_in(client, CFPB_WORKER)
    act = f"/staff/cases/{duplicate}/actions"
    itself = client.post(act, data={"action": "merge", "merge_into": duplicate})
    assert itself.status_code == 422 and "cannot be merged into itself" in text_of(itself)
    merged = client.post(act, data={"action": "merge", "merge_into": first.lower()})
    assert merged.status_code == 302
    db.session.expire_all()
    dup = get_case(duplicate)
    assert dup.status == "closed" and dup.merged_into.reference == first
    words = text_of(client.get(f"/staff/cases/{first}"))
    assert f"Merged into this case {duplicate}" in words


def test_saved_replies_fill_the_reply_box_without_javascript(client):
    sign_in(client, CFPB_SUPERVISOR)
    bad = client.post("/staff/saved-replies", data={"title": "", "body": ""})
    assert bad.status_code == 422 and "Give the reply a short title." in text_of(bad)
    client.post(
        "/staff/saved-replies",
        data={
            "title": "Contacted company",
            "body": "We have contacted the company & asked it to respond.",
        },
    )
    reply = db.session.scalar(db.select(SavedReply))
    assert reply.agency.code == "CFPB"
    client.post("/staff/logout")
    reference = open_test_case().reference
    sign_in(client, CFPB_WORKER)
    page = client.get(f"/staff/cases/{reference}?saved={reply.id}")
    html = page.get_data(as_text=True)
    assert re.search(
        r'<textarea[^>]*id="reply_body"[^>]*>We have contacted the company &amp; asked', html
    )
    other = open_test_case("Identity theft.", category="identity-theft")
    sign_in(client, "caseworker@ftc.example")
    assert "Contacted company" not in text_of(client.get(f"/staff/cases/{other.reference}"))


def test_flags_and_the_related_case_are_shown_first(client):
    first = open_test_case("First complaint.")
    second = open_test_case("A reply from another address citing the first case.")
    second.related_case = first
    flag_case(second, "review_link", "cites RX of another customer")
    flag_case(second, "contact_undeliverable", "550 mailbox unavailable")
    db.session.commit()
    sign_in(client, CFPB_WORKER)
    page = client.get(f"/staff/cases/{second.reference}")
    words = text_of(page)
    assert "Look at this first" in words
    assert "Messages to the customer's address are bouncing" in words
    assert f'href="/staff/cases/{first.reference}"' in page.get_data(as_text=True)
    assert words.index("Look at this first") < words.index("Timeline")


def test_attachments_download_as_files_never_inline(client):
    case = open_test_case(channel="email")
    message = case.messages[0]
    html = attachments.store(
        case, b"<html><script>alert(1)</script></html>", "page.html", "text/html", message=message
    )
    db.session.commit()
    sign_in(client, CFPB_WORKER)
    page = client.get(f"/staff/cases/{case.reference}")
    link = f"/staff/cases/{case.reference}/attachments/{html.id}"
    assert link in page.get_data(as_text=True)
    download = client.get(link)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.data.startswith(b"<html>")
    other = open_test_case("Another case.")
    assert client.get(f"/staff/cases/{other.reference}/attachments/{html.id}").status_code == 404
    assert db.session.get(Message, message.id) is not None


def test_at_risk_filter_lists_cases_past_three_quarters_of_their_time(client):
    received = ny(2026, 12, 9, 9, 0)  # Wednesday 9:00; acknowledge due Thursday 9:00
    with frozen_time(received):
        at_risk = open_test_case("Not acknowledged yet.", acknowledge=False).reference
    with frozen_time(ny(2026, 12, 9, 11, 0)):
        fresh = open_test_case("Just arrived.", acknowledge=False).reference
    with frozen_time(ny(2026, 12, 9, 16, 0)):  # 7 of 8 working hours used for the first
        sign_in(client, CFPB_WORKER)
        page = client.get("/staff/queues/team?sla=at_risk")
        on_track = client.get("/staff/queues/team?sla=on_track")
    assert _references(page) == [at_risk]
    assert re.search(rf"{at_risk} .*? At risk Acknowledge: 1 h business time left", text_of(page))
    assert fresh in _references(on_track) and at_risk not in _references(on_track)
