"""Helpers for the staff workspace tests: sign in through the real form, open cases."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape

import pytest

from app.cases.service import open_case
from app.extensions import db
from app.jobs import run_ready
from app.staff.models import StaffUser
from channels.intake import Intake

PASSWORD = "redress-demo-password"
ADMIN = "admin@redress.example"
CFPB_WORKER = "caseworker@cfpb.example"
CFPB_WORKER2 = "caseworker2@cfpb.example"
CFPB_SUPERVISOR = "supervisor@cfpb.example"
FTC_WORKER = "caseworker@ftc.example"
FTC_SUPERVISOR = "supervisor@ftc.example"


def sign_in(client, email: str, password: str = PASSWORD):
    response = client.post("/staff/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def open_test_case(
    description: str = "A debt collector calls me at work every day.",
    *,
    category: str | None = "debt-collection",
    channel: str = "web",
    email: str | None = "pat@example.org",
    received_at: datetime | None = None,
    subject: str | None = None,
    acknowledge: bool = True,
):
    """A case opened as a channel would; `acknowledge=False` sends no acknowledgment, so
    its clock keeps running."""
    case, _ = open_case(
        Intake(
            channel=channel,
            description=description,
            category=category,
            email=email,
            received_at=received_at,
            subject=subject,
        ),
        acknowledge=acknowledge,
    )
    run_ready()  # deliver the acknowledgment, as the end of a real request would
    return case


def text_of(response) -> str:
    """The page's visible words, tags stripped and spaces collapsed (for assertions)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def staff(email: str) -> StaffUser:
    return db.session.scalar(db.select(StaffUser).where(StaffUser.email == email))


@pytest.fixture(autouse=True)
def _reset_staff(request):
    """Lockouts and deactivations from one test never reach the next (staff rows are kept
    between tests, so tests that add staff use unique addresses)."""
    yield
    if "app" not in request.fixturenames:
        return
    db.session.rollback()
    for member in db.session.scalars(db.select(StaffUser)):
        member.failed_logins, member.locked_until, member.active = 0, None, True
    db.session.commit()
