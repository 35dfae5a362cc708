"""Staff sign-in: passwords, lockout, expiring sessions, sign-out, roles, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.common.time import frozen_time, utcnow
from app.extensions import db
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    FTC_WORKER,
    PASSWORD,
    _reset_staff,
    open_test_case,
    sign_in,
    staff,
    text_of,
)


def test_sign_in_takes_a_caseworker_to_their_cases_and_sign_out_ends_it(client):
    assert client.get("/staff/queues/mine").status_code == 302  # to the sign-in page
    page = client.get("/staff/login")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    response = sign_in(client, CFPB_WORKER)
    assert response.location.endswith("/staff/")
    mine = client.get("/staff/queues/mine")
    assert mine.status_code == 200
    assert "My cases" in text_of(mine) and "Sign out" in text_of(mine)
    assert staff(CFPB_WORKER).last_login_at is not None
    out = client.post("/staff/logout")
    assert out.status_code == 302 and out.location.endswith("/staff/login")
    assert client.get("/staff/queues/mine").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    wrong = client.post("/staff/login", data={"email": CFPB_WORKER, "password": "nope" * 4})
    unknown = client.post(
        "/staff/login", data={"email": "nobody@cfpb.example", "password": "nope" * 4}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "The email address or password is not right." in text_of(wrong)
    assert "The email address or password is not right." in text_of(unknown)
    empty = client.post("/staff/login", data={"email": "", "password": ""})
    assert empty.status_code == 401
    assert "Enter your email address and your password." in text_of(empty)


def test_five_failures_lock_the_account_even_against_the_right_password(client):
    for _ in range(4):
        r = client.post("/staff/login", data={"email": CFPB_WORKER, "password": "wrong-password"})
        assert "not right" in text_of(r)
    fifth = client.post("/staff/login", data={"email": CFPB_WORKER, "password": "wrong-password"})
    assert "locked until" in text_of(fifth)
    right = client.post("/staff/login", data={"email": CFPB_WORKER, "password": PASSWORD})
    assert right.status_code == 401 and "locked until" in text_of(right)
    assert staff(CFPB_WORKER).locked_until > utcnow()

    # An administrator unlocks the account; then the right password works again.
    admin = client.application.test_client()
    sign_in(admin, ADMIN)
    page = admin.get("/staff/admin/staff")
    assert "locked until" in text_of(page)
    member = staff(CFPB_WORKER)
    admin.post(f"/staff/admin/staff/{member.id}", data={"change": "unlock"})
    sign_in(client, CFPB_WORKER)


def test_lockout_ends_by_itself_after_fifteen_minutes(client):
    for _ in range(5):
        client.post("/staff/login", data={"email": CFPB_WORKER, "password": "wrong-password"})
    with frozen_time(utcnow() + timedelta(minutes=16)):
        sign_in(client, CFPB_WORKER)


def test_a_deactivated_member_cannot_sign_in_and_their_session_ends(client):
    sign_in(client, FTC_WORKER)
    member = staff(FTC_WORKER)
    member.active = False
    db.session.commit()
    assert client.get("/staff/queues/mine").status_code == 302
    refused = client.post("/staff/login", data={"email": FTC_WORKER, "password": PASSWORD})
    assert refused.status_code == 401


def test_sessions_expire_after_thirty_idle_minutes_and_twelve_hours_in_all(client):
    sign_in(client, CFPB_WORKER)
    start = utcnow()
    with frozen_time(start + timedelta(minutes=20)):
        assert client.get("/staff/queues/mine").status_code == 200
    with frozen_time(start + timedelta(minutes=45)):  # 25 idle minutes since the last request
        assert client.get("/staff/queues/mine").status_code == 200
    with frozen_time(start + timedelta(minutes=80)):  # 35 idle minutes
        expired = client.get("/staff/queues/mine")
    assert expired.status_code == 302 and "/staff/login" in expired.location
    assert client.get("/staff/queues/mine").status_code == 302

    sign_in(client, CFPB_WORKER)
    start = utcnow()
    for minutes in range(25, 12 * 60, 25):  # busy all day: never idle, still ends at 12 hours
        with frozen_time(start + timedelta(minutes=minutes)):
            assert client.get("/staff/queues/mine").status_code == 200
    with frozen_time(start + timedelta(hours=12, minutes=10)):
        assert client.get("/staff/queues/mine").status_code == 302


def test_sign_in_redirects_only_to_workspace_paths(client):
    ok = client.post(
        "/staff/login?next=/staff/supervisor", data={"email": CFPB_SUPERVISOR, "password": PASSWORD}
    )
    assert ok.location.endswith("/staff/supervisor")
    client.post("/staff/logout")
    for target in ("https://evil.example/staff/", "//evil.example/staff/", "/api/v1/cases"):
        r = client.post(
            f"/staff/login?next={target}", data={"email": CFPB_WORKER, "password": PASSWORD}
        )
        assert r.location.endswith("/staff/"), target
        client.post("/staff/logout")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/staff/supervisor", {"supervisor", "admin"}),
        ("/staff/saved-replies", {"supervisor", "admin"}),
        ("/staff/admin", {"admin"}),
        ("/staff/admin/calendars", {"admin"}),
        ("/staff/admin/routing", {"admin"}),
        ("/staff/admin/staff", {"admin"}),
        ("/staff/inbound", {"admin"}),
    ],
)
def test_pages_are_for_their_roles_only(client, path, allowed):
    for email, role in (
        (CFPB_WORKER, "caseworker"),
        (CFPB_SUPERVISOR, "supervisor"),
        (ADMIN, "admin"),
    ):
        sign_in(client, email)
        status = client.get(path).status_code
        assert status == (200 if role in allowed else 403), (path, role, status)
        client.post("/staff/logout")


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _token(page) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(client, csrf_on):
    case = open_test_case()
    reference = case.reference
    refused = client.post("/staff/login", data={"email": CFPB_WORKER, "password": PASSWORD})
    assert refused.status_code == 400
    login_page = client.get("/staff/login")
    signed = client.post(
        "/staff/login",
        data={"email": CFPB_WORKER, "password": PASSWORD, "csrf_token": _token(login_page)},
    )
    assert signed.status_code == 302

    posts = [
        (f"/staff/cases/{reference}/actions", {"action": "note", "note_body": "forged"}),
        (f"/staff/cases/{reference}/actions", {"action": "assign"}),
        ("/staff/logout", {}),
    ]
    for path, data in posts:
        r = client.post(path, data=data)
        assert r.status_code == 400, path
        assert "Nothing was changed" in text_of(r)
    db.session.expire_all()
    events = [e.kind for e in open_case_events(reference)]
    assert "note" not in events and "assign" not in events

    page = client.get(f"/staff/cases/{reference}")
    ok = client.post(
        f"/staff/cases/{reference}/actions",
        data={"action": "note", "note_body": "with token", "csrf_token": _token(page)},
    )
    assert ok.status_code == 302


def open_case_events(reference):
    from app.cases.service import get_case

    return get_case(reference).events


def test_admin_and_supervisor_forms_also_need_the_token(client, csrf_on):
    page = client.get("/staff/login")
    client.post(
        "/staff/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": _token(page)}
    )
    for path, data in [
        ("/staff/admin/calendars/closures", {"calendar": "federal-eastern", "date": "2026-12-28"}),
        ("/staff/admin/staff", {"email": "x@cfpb.example", "role": "caseworker", "agency": "CFPB"}),
        ("/staff/supervisor/reassign", {"cases": "RX-0000-0000", "assignee": CFPB_WORKER}),
        ("/staff/saved-replies", {"title": "t", "body": "b"}),
        ("/staff/admin", {"directory": "calendars: []"}),
    ]:  # fmt: skip
        assert client.post(path, data=data).status_code == 400, path
    assert staff("x@cfpb.example") is None
