"""The supervisor's day in headless Chromium, on a desktop (1280×900) and a phone (390×844):
some 40 open cases; the totals, lists, workload links, age buckets and CSVs agree; filters;
readable trend charts; axe-core finds no serious or critical problem on any page.

SQLite only (a live server thread); skipped without /usr/bin/chromium or playwright unless
REQUIRE_SERVICES=1. Screenshots go to $SCREENSHOT_DIR, or to the test's temporary directory.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from app.common.time import utcnow
from app.extensions import db
from tests.browser_support import (  # noqa: F401 - fixtures
    axe_script,
    browser,
    check,
    server,
    shots,
)
from tests.supervisor_support import build_day
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    CFPB_WORKER2,
    PASSWORD,
    _reset_staff,
    staff,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
# People-like names for the demo staff while the test runs (put back afterwards).
PEOPLE_ROWS = "table[aria-labelledby='people-heading'] tr"
AGE_ROWS = "table[aria-labelledby='ages-heading'] tr"
NAMES = {CFPB_WORKER: "Dana Whitfield", CFPB_WORKER2: "Luis Ortega", CFPB_SUPERVISOR: "Grace Kim"}


@pytest.fixture
def named_staff(app):
    before = {email: staff(email).name for email in NAMES}
    for email, name in NAMES.items():
        staff(email).name = name
    db.session.commit()
    yield
    db.session.rollback()
    for email, name in before.items():
        staff(email).name = name
    db.session.commit()


def _number(locator) -> int:
    return int(re.match(r"\d+", locator.inner_text().strip())[0])


def _queue_count(page) -> int:
    """Rows of the queue list on screen (every page)."""
    total = 0
    while True:
        total += page.locator("table.staff-queue tbody tr").count()
        more = page.get_by_role("link", name="Next page")
        if not more.count():
            return total
        more.click()
        page.wait_for_load_state()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_supervisor_reads_the_day_filters_follows_links_and_downloads(
    device, browser, server, axe_script, shots, named_staff
):
    day = build_day(utcnow(), extra_on_track=22, extra_breached=6, history=24)
    assert len(day.open) == 40
    width, height = VIEWPORTS[device]
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = context.new_page()
    problems: list[str] = []
    try:
        page.goto(f"{server}/staff/login")
        page.locator("#email").fill(CFPB_SUPERVISOR)
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{server}/staff/supervisor")
        check(page, axe_script, shots, f"sup-{device}-01-dashboard", problems)

        # One definition, one row per case: the total, the heading and the rows agree.
        totals = page.locator(".staff-total")
        breached_total = _number(totals.nth(1).locator(".staff-total__n"))
        assert breached_total == len(day.breached)
        heading = page.locator("#breached-heading").inner_text()
        assert heading == f"Breached ({len(day.breached)})"
        rows = page.locator("section:has(#breached-heading) tbody tr")
        assert rows.count() == len(day.breached)
        refs = rows.locator("a.staff-ref").all_inner_texts()
        assert sorted(refs) == sorted(day.breached) and len(set(refs)) == len(refs)
        assert rows.locator(".staff-badge--breached").count() == len(day.breached)
        assert re.search(r"\d+ (business )?days? overdue", rows.first.inner_text())
        assert page.locator("#risk-heading").inner_text() == f"At risk ({len(day.at_risk)})"

        # Charts: wide with every week labelled on a desktop, full width on a phone.
        shown = page.locator(f"svg.staff-chart--{'wide' if device == 'desktop' else 'narrow'}")
        hidden = page.locator(f"svg.staff-chart--{'narrow' if device == 'desktop' else 'wide'}")
        assert shown.count() == 3 and all(not h.is_visible() for h in hidden.all())
        box = shown.first.bounding_box()
        main = page.locator("main .grid-container").bounding_box()
        if device == "desktop":
            assert box["width"] >= 600
            assert shown.first.locator("text.staff-chart__week").count() == 12
        else:
            assert box["width"] >= main["width"] - 40  # the container's width, less padding
            assert shown.first.locator("text.staff-chart__week").count() == 6
        label = shown.first.locator("text.staff-chart__week").last.bounding_box()
        assert label["height"] >= 11  # drawn at a readable size, not scaled down
        shown.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"sup-{device}-02-chart.png"))
        page.locator(".staff-trend__table summary").first.click()
        assert page.locator(".staff-trend__table table").first.is_visible()
        check(page, axe_script, shots, f"sup-{device}-03-chart-table", problems)

        # A workload name opens that person's queue, with as many cases as the table says.
        person = page.locator(PEOPLE_ROWS, has_text="Dana Whitfield")
        open_n = _number(person.locator("td").first)
        breached_n = _number(person.locator("td").nth(2))
        person.get_by_role("link", name="Dana Whitfield", exact=True).click()
        page.wait_for_load_state()
        assert "Showing only: Assigned to Dana Whitfield" in page.locator("main").inner_text()
        check(page, axe_script, shots, f"sup-{device}-04-person-queue", problems)
        assert _queue_count(page) == open_n
        page.go_back()
        page.goto(f"{server}/staff/supervisor")
        person = page.locator(PEOPLE_ROWS, has_text="Dana Whitfield")
        person.locator("td").nth(2).get_by_role("link").click()
        page.wait_for_load_state()
        assert _queue_count(page) == breached_n

        # An age bucket's count opens the list of exactly those cases.
        page.goto(f"{server}/staff/supervisor")
        oldest = page.locator(AGE_ROWS, has_text="More than 30 days")
        n = _number(oldest.locator("td").first)
        assert n >= 1
        oldest.locator("td").first.get_by_role("link").click()
        page.wait_for_load_state()
        assert "Open more than 30 days" in page.locator("main").inner_text()
        assert _queue_count(page) == n
        check(page, axe_script, shots, f"sup-{device}-05-age-queue", problems)

        # Filters: one queue; every list and count narrows.
        page.goto(f"{server}/staff/supervisor")
        page.locator("#queue").select_option("servicemembers")
        page.get_by_role("button", name="Show").click()
        page.wait_for_load_state()
        assert "queue=servicemembers" in page.url
        listed = page.locator("main a.staff-ref").all_inner_texts()
        assert sorted(listed) == sorted(day.servicemembers)
        check(page, axe_script, shots, f"sup-{device}-06-filtered", problems)

        # The breached list's CSV: the same cases as the screen, filtered the same way.
        with page.expect_download() as download:
            page.locator("section:has(#breached-heading) a.staff-csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        exported = [r["reference"] for r in csv.DictReader(io.StringIO(text))]
        on_screen = page.locator("section:has(#breached-heading) a.staff-ref").all_inner_texts()
        assert exported == on_screen and exported
        assert download.value.suggested_filename.startswith("breached-cfpb-")
    finally:
        context.close()
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)
