"""The public site in headless Chromium: keyboard-only filing, no-JavaScript filing, axe-core.

Needs /usr/bin/chromium and the `playwright` package (never `playwright install`: we drive
the system Chromium). Skipped, saying why, when either is missing, unless
REQUIRE_SERVICES=1. Runs against SQLite only: the browser needs a live server thread.
Screenshots go to $SCREENSHOT_DIR, or to the test's temporary directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_support import (  # noqa: F401 - fixtures
    axe_problems,
    axe_script,
    browser,
    page,
    server,
    shots,
)

pytestmark = [
    pytest.mark.browser,
    # A live server thread needs a database shared across threads: SQLite only.
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

# The complaint form's tab stops, in the order a sighted keyboard user meets them.
FORM_TAB_ORDER = [
    "description", "category", "name", "address", "zip", "email", "phone",
    "preferred_contact-email", "language",
]  # fmt: skip


def check(page, axe_script: Path, shots: Path, name: str, problems: list[str]) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    problems.extend(axe_problems(page, axe_script))


def active_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def tab_to(page, target: str, limit: int = 40) -> list[str]:
    """Press Tab until the element with id `target` has focus; the ids passed on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        current = active_id(page)
        seen.append(current)
        if current == target:
            return seen
    raise AssertionError(f"Tab never reached #{target}; focus went through {seen}")


def test_keyboard_only_complaint_and_every_page_passes_axe(page, server, axe_script, shots):
    problems: list[str] = []
    page.goto(f"{server}/")
    assert page.locator("h1").inner_text().startswith("Complain to a federal agency")
    check(page, axe_script, shots, "home", problems)

    # The skip link is the first tab stop and leads to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"

    page.goto(f"{server}/complaints/new")
    check(page, axe_script, shots, "form", problems)
    visited = tab_to(page, "description")
    assert visited[0] == "", "the skip link (no id) comes first"
    page.keyboard.type("Equifax shows a credit card account that is not mine.")
    visited = []
    for field in FORM_TAB_ORDER[1:]:
        page.keyboard.press("Tab")
        visited.append(active_id(page))
        if field == "category":
            page.keyboard.type("Wrong information")  # a closed <select> selects by typing
        elif field == "name":
            page.keyboard.type("Maria Lopez")
        elif field == "address":
            page.keyboard.type("1600 Pennsylvania Ave NW\nWashington, DC")
        elif field == "zip":
            page.keyboard.type("20500")
        elif field == "email":
            page.keyboard.type("maria.lopez@example.org")
        elif field == "preferred_contact-email":
            page.keyboard.press("Space")
    assert visited == FORM_TAB_ORDER[1:]
    assert page.locator("#category").input_value() == "credit-report"
    assert page.locator("#preferred_contact-email").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.type") == "submit"
    page.screenshot(path=str(shots / "form-filled.png"), full_page=True)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r".*/complaints/RX-[0-9A-Z-]+/confirmation$"))
    assert page.locator("h1").inner_text() == "We have your complaint"
    reference = page.locator(".redress-reference").inner_text()
    assert re.fullmatch(r"RX-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
    assert "Consumer Financial Protection Bureau" in page.content()
    assert page.get_by_text(re.compile(r"We acknowledged your complaint on \w+day, ")).count()
    check(page, axe_script, shots, "confirmation", problems)

    # Track it from the confirmation page: the reference is filled in already.
    page.get_by_role("link", name="Track your complaint").click()
    assert page.locator("#reference").input_value() == reference
    check(page, axe_script, shots, "track-empty", problems)
    page.locator("#contact").focus()
    page.keyboard.type("maria.lopez@example.org")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert (
        page.locator(".redress-status__value").inner_text()
        == "Received and waiting for a caseworker"
    )
    check(page, axe_script, shots, "track-result", problems)

    page.goto(f"{server}/track?reference={reference}&contact=someone@example.org")
    assert "We could not find a complaint" in page.content()
    check(page, axe_script, shots, "track-not-found", problems)

    page.goto(f"{server}/standards")
    assert page.locator("table caption").count() >= 3
    check(page, axe_script, shots, "standards", problems)

    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_form_errors_are_summarized_focused_and_pass_axe(page, server, axe_script, shots):
    problems: list[str] = []
    page.goto(f"{server}/complaints/new")
    page.locator("#zip").fill("123")
    page.locator("label[for=preferred_contact-sms]").click()
    page.get_by_role("button", name="Send complaint").press("Enter")
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    summary = page.locator(".redress-error-summary")
    assert summary.is_visible()
    assert page.evaluate("() => document.activeElement.classList.contains('redress-error-summary')")
    links = summary.locator("a")
    assert links.all_inner_texts() == [
        "Describe your complaint.",
        "Enter a 5-digit ZIP code, like 20500.",
        "Enter your phone number so we can text you, or choose another way to contact you.",
    ]
    assert page.locator("#zip").input_value() == "123"
    check(page, axe_script, shots, "form-errors", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_spanish_form_errors_and_categories_are_in_spanish_and_pass_axe(
    page, server, axe_script, shots
):
    problems: list[str] = []
    page.goto(f"{server}/complaints/new?lang=es")
    groups = [g.get_attribute("label") for g in page.locator("#category optgroup").all()]
    assert groups[:2] == ["Beneficios", "Correo"] and groups[-1] == "Otros"
    page.locator("#category").select_option("credit-report")
    page.locator("#zip").fill("123")
    page.locator("#email").fill("ana@@example")
    page.locator("#phone").fill("12")
    page.locator("label[for=preferred_contact-email]").click()
    page.get_by_role("button", name="Enviar queja").press("Enter")
    page.wait_for_load_state()
    summary = page.locator(".redress-error-summary")
    assert summary.is_visible()
    assert summary.locator("a").all_inner_texts() == [
        "Describa su queja.",
        "Escriba un código postal (ZIP) de 5 dígitos, por ejemplo, 20500.",
        "Escriba una dirección de correo electrónico con el formato correcto, por ejemplo, "
        "nombre@ejemplo.com.",
        "Escriba un número de teléfono con el código de área, por ejemplo, 202-555-0123.",
    ]
    selected = page.locator("#category option:checked").inner_text()
    assert selected == "Hay información incorrecta en mi informe de crédito"
    check(page, axe_script, shots, "form-errors-es", problems)
    page.goto(f"{server}/standards?lang=es")
    assert (
        "Oficina para la Protección Financiera del Consumidor"
        in page.locator("h2").all_inner_texts()
    )
    check(page, axe_script, shots, "standards-es-words", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)


def test_public_site_works_without_javascript(browser, server, shots):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{server}/complaints/new")
        page.screenshot(path=str(shots / "form-mobile-nojs.png"), full_page=True)
        assert page.get_by_role("link", name="Track a complaint").first.is_visible()
        page.locator("#description").fill("My mail has not been delivered for two weeks.")
        page.locator("#category").select_option("mail-not-delivered")
        page.locator("#phone").fill("202-555-0143")
        page.locator("label[for=preferred_contact-sms]").click()
        page.get_by_role("button", name="Send complaint").click()
        page.wait_for_url(re.compile(r".*/confirmation$"))
        reference = page.locator(".redress-reference").inner_text()
        page.screenshot(path=str(shots / "confirmation-mobile-nojs.png"), full_page=True)
        page.goto(f"{server}/track")
        page.locator("#reference").fill(reference.lower())
        page.locator("#contact").fill("(202) 555-0143")
        page.get_by_role("button", name="Track complaint").click()
        page.wait_for_load_state()
        assert (
            page.locator(".redress-status__value").inner_text()
            == "Received and waiting for a caseworker"
        )
        page.screenshot(path=str(shots / "track-mobile-nojs.png"), full_page=True)
    finally:
        context.close()


def _survey_token(app) -> str:
    """A resolved case with a survey invitation; the link's token (read from the outbox)."""
    from app.cases import service as cases
    from app.extensions import db
    from app.notify.models import OutboxItem
    from app.performance import publish
    from app.staff.models import StaffUser
    from channels.intake import Intake

    intake = Intake(
        channel="web",
        description="The bureau keeps a debt on my report that I paid.",
        category="credit-report",
        email="ana@example.org",
        language="es",
    )
    case, _ = cases.open_case(intake)
    admin = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == "admin@redress.example")
    )
    cases.act(case, "resolve", admin, {"resolution": "The bureau removed the debt."})
    publish()
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.kind == "survey_invitation"))
    return re.search(r"/survey/([A-Za-z0-9_-]+)", item.body).group(1)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_public_page_passes_axe_in_both_languages(app, page, server, axe_script, shots, lang):
    problems: list[str] = []
    token = _survey_token(app)
    for name, path in (
        ("home", "/"),
        ("form", "/complaints/new"),
        ("track", "/track"),
        ("standards", "/standards"),
        ("survey", f"/survey/{token}"),
        ("not-found", "/complaints/RX-0000-0000/confirmation"),
        ("survey-forged", "/survey/not-a-token"),
    ):
        page.goto(f"{server}{path}?lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang, path
        switch = page.locator("a.redress-language")
        assert switch.get_attribute("lang") == ("es" if lang == "en" else "en")
        check(page, axe_script, shots, f"{name}-{lang}", problems)

    # Answer the survey with the keyboard-free way a person would: click the labels.
    page.goto(f"{server}/survey/{token}?lang={lang}")
    page.locator("label[for=satisfaction-5]").click()
    page.locator("label[for=trust-4]").click()
    page.locator("#comment").fill("Gracias." if lang == "es" else "Thanks.")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    heading = page.locator("h1").inner_text()
    assert heading == ("Gracias" if lang == "es" else "Thank you")
    check(page, axe_script, shots, f"survey-thanks-{lang}", problems)
    page.goto(f"{server}/survey/{token}?lang={lang}")
    check(page, axe_script, shots, f"survey-answered-{lang}", problems)
    assert not problems, "axe-core found serious or critical problems:\n\n" + "\n\n".join(problems)
