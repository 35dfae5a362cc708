"""Agency walls: a caseworker of one agency can neither read nor act on another agency's
case through any staff page or API route (enumerated from the app's URL map)."""

from __future__ import annotations

import re

import pytest

from app.cases import attachments
from app.cases.service import get_case
from app.extensions import db
from app.workspace.models import SavedReply
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    FTC_SUPERVISOR,
    FTC_WORKER,
    _reset_staff,
    open_test_case,
    sign_in,
    text_of,
)

SECRET = "Confidential: my account number is 99-1234."


def _snapshot(reference: str) -> tuple:
    db.session.expire_all()
    case = get_case(reference)
    return (
        case.status,
        case.agency_id,
        case.assignee_id,
        case.merged_into_id,
        len(case.messages),
        # A refused look is recorded on the case (docs/security.md); nothing else may change.
        len([e for e in case.events if e.kind != "access_refused"]),
        tuple((c.metric, c.phase, c.due_at) for c in case.clocks),
    )


def _case_routes(app) -> list[tuple[str, str, set]]:
    """Every staff page and API route that names a case by its reference."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "reference" not in rule.arguments:
            continue
        if not rule.rule.startswith(("/staff/", "/api/")):
            continue
        if rule.rule.startswith("/api/v1/track/<reference>/"):
            continue  # the customer's one-time codes: no staff access (tests/test_identity.py)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, method, set(rule.arguments)))
    return routes


def test_the_route_list_covers_the_workspace_and_the_api(app):
    found = {(rule, method) for rule, method, _ in _case_routes(app)}
    assert {
        ("/staff/cases/<reference>", "GET"),
        ("/staff/cases/<reference>/actions", "POST"),
        ("/staff/cases/<reference>/attachments/<int:attachment_id>", "GET"),
        ("/api/v1/cases/<reference>", "GET"),
        ("/api/v1/cases/<reference>/actions", "POST"),
        ("/api/v1/cases/<reference>/attachments/<int:attachment_id>", "GET"),
    } <= found


def test_another_agencys_case_is_invisible_and_untouchable_on_every_route(app, client, staff_token):
    case = open_test_case(SECRET, email="victim@example.org")
    file = attachments.store(case, b"%PDF-1.4 secret", "statement.pdf", "application/pdf")
    db.session.commit()
    reference, file_id = case.reference, file.id
    before = _snapshot(reference)
    sign_in(client, FTC_WORKER)
    bearer = staff_token(FTC_WORKER)
    actions = ("assign", "start", "note", "reply", "request_info", "resolve", "close",
               "reopen", "transfer", "merge")  # fmt: skip
    tried = 0
    for rule, method, arguments in _case_routes(app):
        path = rule.replace("<reference>", reference).replace("<int:attachment_id>", str(file_id))
        path = path.replace("<int:rank>", "1")  # a routing suggestion to accept
        assert "<" not in path, f"add a value for {arguments} to this test"
        bodies = [None] if method == "GET" else actions
        if rule.startswith("/api/v1/mailroom/review/"):
            bodies = ["correct"]  # a mailroom correction of the letter's text
        for action in bodies:
            kwargs = {"headers": bearer}
            if action == "correct":
                kwargs["json"] = {"text": "Rerouted text about a scam.", "reroute": True}
            elif action and rule.startswith("/api/"):
                kwargs["json"] = {"action": action, "body": "x", "resolution": "x",
                                  "reason": "x", "agency": "FTC", "into": reference,
                                  "assignee": FTC_WORKER}  # fmt: skip
            elif action:
                kwargs["data"] = {"action": action, f"{action}_body": "x",
                                  "resolve_resolution": "x", "close_reason": "x",
                                  "reopen_reason": "x", "transfer_agency": "FTC",
                                  "transfer_reason": "x", "merge_into": reference}  # fmt: skip
            response = client.open(path, method=method, **kwargs)
            tried += 1
            assert response.status_code in (401, 403, 404), (method, path, action)
            body = response.get_data(as_text=True)
            assert "99-1234" not in body and "secret" not in body, (method, path)
            assert _snapshot(reference) == before, (method, path, action)
    assert tried >= 6 + 2 * 9

    # The lists and dashboards do not show it either.
    for path in (
        "/staff/queues/team",
        "/staff/queues/unassigned",
        "/staff/queues/team?agency=CFPB",
    ):
        page = client.get(path)
        assert page.status_code == 200 and reference not in page.get_data(as_text=True)
    listed = client.get("/api/v1/cases", headers=bearer).get_json()["cases"]
    assert reference not in [c["reference"] for c in listed]


def test_a_supervisor_cannot_reach_another_agency_through_the_dashboard(client):
    case = open_test_case(SECRET)
    reference = case.reference
    before = _snapshot(reference)
    sign_in(client, FTC_SUPERVISOR)
    page = client.get("/staff/supervisor?agency=CFPB")
    assert "Federal Trade Commission" in text_of(page) and reference not in page.get_data(
        as_text=True
    )
    csv = client.get("/staff/supervisor/compliance.csv?agency=CFPB").get_data(as_text=True)
    assert "CFPB" not in csv and "FTC" in csv
    moved = client.post(
        "/staff/supervisor/reassign",
        data={"cases": [reference], "assignee": "caseworker@ftc.example", "agency": "CFPB"},
        follow_redirects=True,
    )
    assert f"{reference}: No case {reference}." in text_of(moved)
    assert _snapshot(reference) == before


def test_saved_replies_of_another_agency_cannot_be_deleted(client):
    sign_in(client, CFPB_SUPERVISOR)
    client.post("/staff/saved-replies", data={"title": "CFPB only", "body": "Hello."})
    reply = db.session.scalar(db.select(SavedReply))
    client.post("/staff/logout")
    sign_in(client, FTC_SUPERVISOR)
    assert "CFPB only" not in text_of(client.get("/staff/saved-replies"))
    client.post(f"/staff/saved-replies/{reply.id}/delete")
    db.session.expire_all()
    assert db.session.get(SavedReply, reply.id) is not None


@pytest.mark.parametrize("email", [CFPB_WORKER, CFPB_SUPERVISOR])
def test_admin_only_posts_are_refused_to_agency_staff(client, email):
    from app.directory.models import Calendar

    sign_in(client, email)
    calendar = db.session.scalar(db.select(Calendar).where(Calendar.code == "federal-eastern"))
    before = [c.date for c in calendar.closures]
    posts = [
        ("/staff/admin/calendars/closures", {"calendar": "federal-eastern", "date": "2026-12-28",
                                             "name": "Snow"}),
        (f"/staff/admin/calendars/closures/{calendar.closures[0].id}/delete", {}),
        ("/staff/admin", {"directory": "calendars: []"}),
        ("/staff/admin/staff", {"email": "new@cfpb.example", "role": "admin",
                                "password": "a-long-password-1"}),
        ("/staff/inbound/1/retry", {}),
    ]  # fmt: skip
    for path, data in posts:
        assert client.post(path, data=data).status_code == 403, path
    db.session.expire_all()
    assert [c.date for c in calendar.closures] == before


def test_an_admin_sees_every_agencys_case(client):
    case = open_test_case(SECRET)
    sign_in(client, "admin@redress.example")
    page = client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200 and "99-1234" in page.get_data(as_text=True)
    assert re.search(case.reference, client.get("/staff/queues/team").get_data(as_text=True))
