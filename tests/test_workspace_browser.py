"""The staff workspace in headless Chromium: end-to-end flows, keyboard and no-JavaScript
use, and axe-core on every staff page (no serious or critical violations).

Needs /usr/bin/chromium and the `playwright` package (the system Chromium is driven; no
`playwright install`). Skipped, saying why, when either is missing unless REQUIRE_SERVICES=1.
SQLite only: the browser talks to a live server thread. Screenshots go to $SCREENSHOT_DIR,
or to the test's temporary directory.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.cases.service import get_case
from app.common.time import utcnow
from app.extensions import db
from tests.browser_support import (  # noqa: F401 - fixtures
    axe_script,
    browser,
    check,
    page,
    server,
    shots,
)
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    CFPB_WORKER2,
    PASSWORD,
    _reset_staff,
    open_test_case,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

NY = ZoneInfo("America/New_York")


def sign_in_by_keyboard(page, base: str, email: str) -> None:
    """Sign in with the keyboard only: Tab to the fields, type, Enter."""
    page.goto(f"{base}/staff/login")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    if page.evaluate("() => document.activeElement.id") != "email":
        page.locator("#email").focus()  # a link in the header came first
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/staff/queues/mine$"))


def test_caseworker_signs_in_claims_replies_and_resolves(page, server, axe_script, shots):
    case = open_test_case("The collector calls me at work <b>every day</b>.", channel="email")
    reference = case.reference
    problems: list[str] = []
    page.goto(f"{server}/staff/login")
    check(page, axe_script, shots, "cw-01-login", problems)
    sign_in_by_keyboard(page, server, CFPB_WORKER)
    check(page, axe_script, shots, "cw-02-my-cases-empty", problems)

    page.get_by_role("link", name="Unassigned").click()
    row = page.locator("tr", has_text=reference)
    assert row.locator(".staff-badge").count() == 1
    check(page, axe_script, shots, "cw-03-unassigned", problems)
    row.get_by_role("button", name=re.compile("Claim")).click()
    page.wait_for_load_state()
    assert "is assigned to Caseworker" in page.content()
    page.get_by_role("link", name="My cases").click()
    page.get_by_role("link", name=reference).click()
    assert page.locator("h1").inner_text().startswith(reference)
    # Stored HTML is shown as the customer typed it, as text.
    assert page.get_by_text("<b>every day</b>", exact=False).count() >= 1
    check(page, axe_script, shots, "cw-04-case", problems)

    page.locator("#reply_body").fill("We have asked the collector to stop calling you at work.")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    assert "Reply sent to the customer." in page.content()
    assert page.get_by_text("We have asked the collector to stop calling").count() >= 1
    page.locator("#resolve_resolution").fill("The collector agreed to stop calling you at work.")
    page.get_by_role("button", name="Resolve case").click()
    page.wait_for_load_state()
    assert "is resolved and the customer has been told" in page.content()
    check(page, axe_script, shots, "cw-05-resolved", problems)
    db.session.expire_all()
    assert get_case(reference).status == "resolved"

    # The pages a caseworker meets when something is not theirs, checked too.
    page.goto(f"{server}/staff/admin")
    assert "You do not have access to this page" in page.content()
    check(page, axe_script, shots, "cw-06-forbidden", problems)
    page.goto(f"{server}/staff/cases/RX-0000-0000")
    assert "No such case" in page.content()
    check(page, axe_script, shots, "cw-07-not-found", problems)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/staff/login$"))
    check(page, axe_script, shots, "cw-08-signed-out", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_supervisor_finds_a_breached_case_and_reassigns_it(page, server, axe_script, shots):
    breached = open_test_case(
        "Nobody answered me for weeks.", received_at=utcnow() - timedelta(days=20)
    ).reference
    problems: list[str] = []
    sign_in_by_keyboard(page, server, CFPB_SUPERVISOR)
    page.get_by_role("link", name="Supervisor").click()
    section = page.locator("section", has=page.locator("#breached-heading"))
    assert section.get_by_role("link", name=breached).count() == 1
    check(page, axe_script, shots, "sup-01-dashboard", problems)
    page.locator(f"#b-{breached}").focus()  # by keyboard: the box is drawn on the label
    page.keyboard.press("Space")
    assert page.locator(f"#b-{breached}").is_checked()
    page.locator("#reassign-to").select_option(CFPB_WORKER2)
    page.get_by_role("button", name="Reassign").click()
    page.wait_for_load_state()
    assert f"Reassigned 1 case(s) to {CFPB_WORKER2}" in page.content()
    check(page, axe_script, shots, "sup-02-reassigned", problems)
    db.session.expire_all()
    assert get_case(breached).assignee.email == CFPB_WORKER2
    page.get_by_role("link", name="Saved replies").click()
    check(page, axe_script, shots, "sup-03-saved-replies", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_admin_adds_a_holiday_that_moves_a_due_date(
    page, server, axe_script, shots, fresh_directory
):
    case = open_test_case("Please acknowledge me.", acknowledge=False)
    reference = case.reference
    ack = next(c for c in case.clocks if c.metric == "acknowledge")
    due_before = ack.due_at
    closed_day = due_before.astimezone(NY).date()
    problems: list[str] = []
    sign_in_by_keyboard(page, server, ADMIN)
    page.goto(f"{server}/staff/cases/{reference}")
    clocks = page.locator("section", has=page.locator("#clocks-heading"))
    shown_before = clocks.inner_text()
    page.screenshot(path=str(shots / "adm-01-case-before.png"), full_page=True)

    page.get_by_role("link", name="Directory").click()
    check(page, axe_script, shots, "adm-02-directory", problems)
    page.get_by_role("link", name="Calendars and closures").click()
    page.locator("#closure-calendar").select_option("federal-eastern")
    page.locator("#closure-date").fill(closed_day.isoformat())
    page.locator("#closure-name").fill("Snow closure")
    page.get_by_role("button", name="Add closure").click()
    page.wait_for_load_state()
    assert f"Added Snow closure on {closed_day.isoformat()}" in page.content()
    check(page, axe_script, shots, "adm-03-calendars", problems)

    page.goto(f"{server}/staff/cases/{reference}")
    shown_after = clocks.inner_text()
    assert shown_after != shown_before
    page.screenshot(path=str(shots / "adm-04-case-after.png"), full_page=True)
    db.session.expire_all()
    moved = next(c for c in get_case(reference).clocks if c.metric == "acknowledge").due_at
    assert moved.astimezone(NY).date() > closed_day
    assert moved.astimezone(NY).strftime("%b") in shown_after

    for path, name in [
        (
            "/staff/admin/routing?text=My+landlord+refused+to+rent+to+me+because+I+use+a+wheelchair",
            "adm-05-routing",
        ),
        ("/staff/admin/staff", "adm-06-staff"),
        ("/staff/inbound", "adm-07-inbound"),
        ("/staff/supervisor?agency=CFPB", "adm-08-supervisor"),
        ("/staff/queues/team", "adm-09-team-queue"),
        ("/staff/queues/team?status=lost", "adm-10-queue-error"),
    ]:
        page.goto(f"{server}{path}")
        check(page, axe_script, shots, name, problems)
    page.goto(f"{server}/staff/admin")
    page.locator("#directory").fill("calendars:\n  - code: x\n    timezone: Mars/Olympus\n")
    page.get_by_role("button", name="Check and save").click()
    page.wait_for_load_state()
    assert page.locator("#directory-problems li").count() >= 1
    check(page, axe_script, shots, "adm-11-directory-errors", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_core_actions_work_without_javascript(browser, server, shots):
    reference = open_test_case("Works without scripts?").reference
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{server}/staff/login")
        page.locator("#email").fill(CFPB_WORKER)
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{server}/staff/cases/{reference}")
        page.get_by_role("button", name="Claim this case").click()
        page.locator("#note_body").fill("Called the customer back.")
        page.get_by_role("button", name="Add note").click()
        page.wait_for_load_state()
        assert "Note added." in page.content()
        page.screenshot(path=str(shots / "nojs-case-mobile.png"), full_page=True)
        page.goto(f"{server}/staff/queues/mine")
        assert page.get_by_role("link", name=reference).count() == 1
        page.screenshot(path=str(shots / "nojs-my-cases-mobile.png"), full_page=True)
    finally:
        context.close()
    db.session.expire_all()
    case = get_case(reference)
    assert case.assignee.email == CFPB_WORKER
    assert [m.body for m in case.messages if m.direction == "internal"] == [
        "Called the customer back."
    ]


def test_the_idle_warning_keeps_the_typed_reply_and_sign_in_puts_it_back(
    page, server, app, axe_script, shots, monkeypatch
):
    """A short idle limit: the warning comes, "Stay signed in" keeps the session and the text;
    left alone, the session ends, and signing in again returns to the page with the text."""
    from tests.browser_support import csp_violations

    monkeypatch.setitem(app.config, "STAFF_SESSION_IDLE_MINUTES", 0.15)  # 9 seconds
    monkeypatch.setitem(app.config, "STAFF_SESSION_WARN_MINUTES", 0.08)  # warned 4 before
    reference = open_test_case("The landlord has not fixed the heat.").reference
    problems: list[str] = []
    sign_in_by_keyboard(page, server, CFPB_WORKER)
    page.goto(f"{server}/staff/cases/{reference}")
    draft = "We called the landlord; the heat will be fixed on Monday."
    page.locator("#reply_body").fill(draft)
    warning = page.locator("#session-warning")
    warning.get_by_role("button", name="Stay signed in").wait_for(state="visible", timeout=15000)
    assert "about to end" in warning.inner_text()
    assert not warning.get_by_role("link", name="Sign in again").is_visible()
    check(page, axe_script, shots, "session-01-warning", problems)
    warning.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden", timeout=5000)
    assert page.locator("#reply_body").input_value() == draft  # the page was not reloaded

    # Left alone this time: the session ends and the page says so.
    warning.get_by_role("link", name="Sign in again").wait_for(state="visible", timeout=30000)
    check(page, axe_script, shots, "session-02-ended", problems)
    page.locator("#reply_body").fill("")  # as if the tab had been reloaded
    warning.get_by_role("link", name="Sign in again").click()
    page.locator("#email").fill(CFPB_WORKER)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf".*/staff/cases/{reference}$"))
    assert page.locator("#reply_body").input_value() == draft
    assert page.locator("#draft-restored").is_visible()
    check(page, axe_script, shots, "session-03-restored", problems)

    # The watcher itself works: a script the page did not ship is blocked and reported.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert any("script-src" in v for v in csp_violations(page))
    assert page.evaluate("() => window.x") is None
    assert not problems, "\n\n".join(problems)


def test_triage_staff_accept_the_routing_models_suggestion_in_one_click(
    page, server, axe_script, shots, app
):
    from app.routing import service as routing
    from tests.routing_support import use_model

    use_model()
    before = app.config["ROUTING_MODEL_THRESHOLD"]
    app.config["ROUTING_MODEL_THRESHOLD"] = 0.999  # nothing is that sure: all to triage
    routing.invalidate()
    try:
        reference = open_test_case(
            "My checking balance is wrong and they charge fees every week.", category=None
        ).reference
    finally:
        app.config["ROUTING_MODEL_THRESHOLD"] = before
        routing.invalidate()
    problems: list[str] = []
    sign_in_by_keyboard(page, server, "triage@usagov.example")
    page.get_by_role("link", name="Triage").click()
    row = page.locator("tr", has=page.get_by_text(reference))
    assert "The routing model suggests" in row.inner_text()
    check(page, axe_script, shots, "tri-01-triage", problems)
    row.get_by_role("button", name=re.compile(r"Send to CFPB")).click()
    page.wait_for_load_state()
    assert "as the routing model suggested" in page.content()
    assert reference not in " ".join(page.locator("table").all_inner_texts())
    check(page, axe_script, shots, "tri-02-accepted", problems)
    db.session.expire_all()
    case = get_case(reference)
    assert case.agency.code == "CFPB"
    assert [e for e in case.events if e.kind == "transfer"][-1].after["suggestion"]["rank"] == 1
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)
