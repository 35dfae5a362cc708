"""The mailroom pages in headless Chromium: axe-core (no serious or critical violations) on
the upload page, the scan review page (the scan beside its text) and the print batches page.
Uses the workspace browser tests' fixtures (system Chromium, live server, axe-core)."""

from __future__ import annotations

import pytest

from app.jobs import run_ready
from app.mailroom.drop import ingest
from channels.mail_scans.manifest import ManifestEntry
from tests.browser_support import (  # noqa: F401 - fixtures
    axe_script,
    browser,
    check,
    page,
    server,
    shots,
)
from tests.scans import image_bytes, render_page, text_pdf
from tests.workspace_support import ADMIN, PASSWORD, _reset_staff  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]


def test_mailroom_pages_pass_axe_and_show_the_scan_beside_its_text(page, server, axe_script, shots):
    faint, _ = ingest(
        image_bytes(render_page("~ ~", noise=0.003, seed=5)),
        "faint.png",
        (ManifestEntry("", None), None),
        source="upload",
    )
    ingest(
        text_pdf("My landlord refused to rent to me because I use a wheelchair."),
        "letter.pdf",
        (ManifestEntry("", None, "88 Pine Street, Albany, NY 12207"), None),
        source="upload",
    )
    run_ready()  # the printed acknowledgment goes to the print spool
    reference = faint.case.reference
    page.goto(f"{server}/staff/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_load_state()
    problems: list[str] = []
    page.goto(f"{server}/staff/mailroom/")
    assert page.get_by_role("link", name=f"Read {reference}").is_visible()
    check(page, axe_script, shots, "mailroom-home", problems)
    page.get_by_role("link", name=f"Read {reference}").click()
    page.wait_for_load_state("networkidle")
    image = page.get_by_role("img", name="Page 1 of the scanned letter")
    image.wait_for(state="visible")
    assert image.evaluate("(img) => img.complete && img.naturalWidth > 0")  # the picture loaded
    check(page, axe_script, shots, "mailroom-review", problems)
    page.goto(f"{server}/staff/mailroom/letters")
    assert page.get_by_role("button", name="Make a print batch of 1 letter").is_visible()
    page.get_by_role("button", name="Make a print batch of 1 letter").click()
    page.wait_for_load_state()
    check(page, axe_script, shots, "mailroom-letters", problems)
    assert not problems, "\n\n".join(problems)
