"""Staff sessions that end (issue 14, attack 6): a cookie saved before sign-out, deactivation
or a password change stops working at once; the idle timeout is STAFF_SESSION_IDLE_MINUTES;
signing in again after a timeout returns to the page the person was on."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from app.common.time import frozen_time, utcnow
from app.extensions import db
from app.staff.models import StaffSession
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    PASSWORD,
    _reset_staff,
    open_test_case,
    sign_in,
    staff,
    text_of,
)

MINE = "/staff/queues/mine"
NEW_PASSWORD = "sturdy-lantern-orbit-47"


def _copy(client, app):
    """A second browser holding the same cookie (an attacker who copied it)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_a_cookie_saved_before_sign_out_no_longer_works(client, app):
    sign_in(client, CFPB_WORKER)
    saved = _copy(client, app)
    assert saved.get(MINE).status_code == 200  # the copy works while the session is open
    client.post("/staff/logout")
    replay = saved.get(MINE)
    assert replay.status_code == 302 and "/staff/login" in replay.location
    assert saved.get("/staff/session").status_code == 401
    [record] = db.session.scalars(db.select(StaffSession)).all()
    assert record.end_reason == "signed_out" and record.ended_at is not None
    # Only a hash of the cookie's id is stored.
    assert len(record.token_hash) == 64


def test_deactivation_ends_every_session_of_the_member_at_once(client, app):
    sign_in(client, CFPB_WORKER)
    laptop = app.test_client()
    sign_in(laptop, CFPB_WORKER)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    admin.post(f"/staff/admin/staff/{staff(CFPB_WORKER).id}", data={"change": "deactivate"})
    for browser in (client, laptop):
        assert browser.get(MINE).status_code == 302
    reasons = {
        r.end_reason
        for r in db.session.scalars(
            db.select(StaffSession).where(StaffSession.staff_id == staff(CFPB_WORKER).id)
        )
    }
    assert reasons == {"deactivated"}
    # Reactivated, the member signs in again; the old cookies stay dead.
    admin.post(f"/staff/admin/staff/{staff(CFPB_WORKER).id}", data={"change": "activate"})
    assert client.get(MINE).status_code == 302
    sign_in(app.test_client(), CFPB_WORKER)


def test_a_password_change_signs_out_every_other_session(client, app):
    sign_in(client, CFPB_SUPERVISOR)
    elsewhere = app.test_client()
    sign_in(elsewhere, CFPB_SUPERVISOR)
    stolen = _copy(elsewhere, app)
    weak = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "password1234",
            "confirm_password": "password1234",
        },
    )
    assert weak.status_code == 422 and "common and breached" in text_of(weak)
    assert elsewhere.get(MINE).status_code == 200  # a refused change ends nothing
    changed = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302
    assert client.get(MINE).status_code == 200  # this browser goes on
    assert elsewhere.get(MINE).status_code == 302
    assert stolen.get(MINE).status_code == 302
    old = app.test_client().post(
        "/staff/login", data={"email": CFPB_SUPERVISOR, "password": PASSWORD}
    )
    assert old.status_code == 401
    sign_in(app.test_client(), CFPB_SUPERVISOR, NEW_PASSWORD)
    # Put the demo password back for the other tests (the policy allows it outside production).
    from app.staff.service import set_password

    set_password(staff(CFPB_SUPERVISOR), PASSWORD, utcnow())
    db.session.commit()


def test_the_cli_password_change_ends_sessions_too(client, app):
    sign_in(client, CFPB_WORKER)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["users", "password", CFPB_WORKER, "--password", "qwertyuiop12"])
    assert refused.exit_code != 0 and "common and breached" in refused.output
    assert client.get(MINE).status_code == 200
    done = runner.invoke(args=["users", "password", CFPB_WORKER, "--password", NEW_PASSWORD])
    assert done.exit_code == 0, done.output
    assert "1 session(s) signed out" in done.output
    assert client.get(MINE).status_code == 302
    runner.invoke(args=["users", "password", CFPB_WORKER, "--password", PASSWORD])


def test_idle_timeout_comes_from_staff_session_idle_minutes(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_SESSION_IDLE_MINUTES", 5)
    sign_in(client, CFPB_WORKER)
    start = utcnow()
    with frozen_time(start + timedelta(minutes=4)):
        status = client.get("/staff/session")
        # Asking how long is left is not activity.
        assert status.status_code == 200 and 55 <= status.json["seconds_left"] <= 60
    with frozen_time(start + timedelta(minutes=4, seconds=30)):
        assert client.post("/staff/session").json["seconds_left"] == 300  # "Stay signed in"
    with frozen_time(start + timedelta(minutes=9)):
        assert client.get(MINE).status_code == 200
    with frozen_time(start + timedelta(minutes=14, seconds=30)):
        expired = client.get(MINE)
    assert expired.status_code == 302
    assert "after 5 minutes without activity" in text_of(client.get(expired.location))
    # Ended for good: turning the clock back does not revive it.
    assert client.get(MINE).status_code == 302


def test_the_setting_is_read_from_the_environment():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "STAFF_SESSION_IDLE_MINUTES": "7", "STAFF_SESSION_MAX_HOURS": "2"}
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [
            sys.executable,
            "-c",
            "import config; c = config.load('test'); "
            "print(c.STAFF_SESSION_IDLE_MINUTES, c.STAFF_SESSION_MAX_HOURS)",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["7.0", "2.0"]


def _next(location: str) -> str | None:
    parts = urlsplit(location)
    assert parts.path == "/staff/login"
    return parse_qs(parts.query).get("next", [None])[0]


def test_signing_in_after_a_timeout_returns_to_the_page_not_the_form_target(client, app):
    case = open_test_case()
    page = f"/staff/cases/{case.reference}"
    sign_in(client, CFPB_WORKER)
    assert client.get(page).status_code == 200
    with frozen_time(utcnow() + timedelta(minutes=31)):
        sent = client.post(
            f"{page}/actions",
            data={"action": "note", "body": "Called the customer back."},
            headers={"Referer": f"http://localhost{page}"},
        )
    assert sent.status_code == 302 and _next(sent.location) == page
    again = client.post(sent.location, data={"email": CFPB_WORKER, "password": PASSWORD})
    assert again.status_code == 302 and again.location.endswith(page)
    assert client.get(again.location).status_code == 200  # a GET of the page, never a 405
    # A GET that finds the session ended comes back to itself, query included.
    with frozen_time(utcnow() + timedelta(minutes=31)):
        lost = client.get(f"{MINE}?status=new")
    assert _next(lost.location) == f"{MINE}?status=new"


def test_pages_carry_the_timeout_warning_and_its_script_only_when_signed_in(client):
    login = client.get("/staff/login").get_data(as_text=True)
    assert "session-timeout.js" not in login and 'id="session-warning"' not in login
    sign_in(client, CFPB_WORKER)
    page = client.get(MINE).get_data(as_text=True)
    assert 'src="/staff/static/session-timeout.js"' in page
    assert 'data-idle-seconds="1800"' in page and 'data-warn-seconds="120"' in page
    assert 'id="session-warning"' in page and "Stay signed in" in page
    script = client.get("/staff/static/session-timeout.js")
    assert script.status_code == 200 and "X-CSRFToken" in script.get_data(as_text=True)
