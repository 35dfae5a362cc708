"""Headless Chromium for the browser tests: the system Chromium driven by Playwright, a live
server thread, axe-core and screenshots. Import the fixtures into a test module.

Needs /usr/bin/chromium and the `playwright` package (never `playwright install`). Skipped,
saying why, when either is missing, unless REQUIRE_SERVICES=1. A live server thread needs a
database shared across threads: browser tests run on SQLite only. Screenshots go to
$SCREENSHOT_DIR, or to the test's temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.public import assets
from tests.helpers import live_server

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE = os.environ.get("REQUIRE_SERVICES") == "1"
BLOCKING_IMPACTS = ("serious", "critical")
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def missing(reason: str):
    if REQUIRE:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not found; install it with `apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe_script() -> Path:
    # Also installs and copies USWDS, so that the pages are checked as people see them.
    assets.build()
    if not assets.AXE_SCRIPT.exists():
        missing(f"{assets.AXE_SCRIPT} not found; run `npm ci` at the repository root")
    return assets.AXE_SCRIPT


@pytest.fixture
def server(app):
    if "postgresql" in app.config["SQLALCHEMY_DATABASE_URI"]:
        pytest.skip("browser tests serve the SQLite app only")  # pragma: no cover
    with live_server(app) as base:
        yield base


@pytest.fixture
def shots(tmp_path) -> Path:
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {directory}")
    return directory


# Every page records what its Content-Security-Policy blocked (an inline script or style, a
# handler attribute, a file from elsewhere): pages must work under the policy, not around it.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP_WATCH)  # injected by the browser itself: not subject to CSP
    tab = context.new_page()
    yield tab
    context.close()


def csp_violations(page) -> list[str]:
    return [f"{page.url}: {v}" for v in page.evaluate("() => window.__cspViolations || []")]


def axe_problems(page, axe_script: Path) -> list[str]:
    """Serious and critical axe-core violations on the current page, ready to print."""
    # Evaluated through DevTools, as a tester's console would: the page's CSP (no inline
    # script) would refuse it as a <script> tag.
    page.evaluate(axe_script.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    problems = []
    for violation in result["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        lines = [
            f"{page.url}: [{violation['impact']}] {violation['id']}: {violation['help']}",
            f"  {violation['helpUrl']}",
        ]
        for node in violation["nodes"][:5]:
            lines.append(f"  at {', '.join(map(str, node['target']))}")
            lines.append(f"     {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n       ")
            lines.append(f"     {summary}")
        problems.append("\n".join(lines))
    return problems


def check(page, axe_script: Path, shots: Path, name: str, problems: list[str]) -> None:
    """Screenshot the page (to look at) and collect its axe-core problems."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    problems.extend(csp_violations(page))
    problems.extend(axe_problems(page, axe_script))
