"""The demo directory and demo staff, loaded by `redress demo` and on first `make run`."""

from __future__ import annotations

from app.directory.loader import apply_directory
from app.directory.models import Agency
from app.directory.spec import load_demo_text, parse_directory
from app.extensions import db
from app.staff.models import StaffUser
from app.staff.service import DEMO_PASSWORD, add_staff

# (email, role, agency)
DEMO_STAFF = (
    ("admin@redress.example", "admin", None),
    ("triage.lead@usagov.example", "supervisor", "USAGOV"),
    ("triage@usagov.example", "caseworker", "USAGOV"),
    ("supervisor@cfpb.example", "supervisor", "CFPB"),
    ("caseworker@cfpb.example", "caseworker", "CFPB"),
    ("caseworker2@cfpb.example", "caseworker", "CFPB"),
    ("supervisor@ftc.example", "supervisor", "FTC"),
    ("caseworker@ftc.example", "caseworker", "FTC"),
    ("caseworker@hud.example", "caseworker", "HUD-FHEO"),
    ("caseworker@osha.example", "caseworker", "OSHA"),
    ("caseworker@dot.example", "caseworker", "DOT-OACP"),
)


# Agency leads receive escalations of cases that stay breached.
DEMO_LEADS = ("triage.lead@usagov.example", "supervisor@cfpb.example")


def load_demo() -> dict[str, int]:
    """Load the demo directory and add the demo staff who are missing (idempotent)."""
    counts = apply_directory(parse_directory(load_demo_text(), "demo_directory.yaml"))
    codes = set(db.session.scalars(db.select(Agency.code)))
    added = 0
    for email, role, agency in DEMO_STAFF:
        if agency and agency not in codes:
            continue
        staff = db.session.scalar(db.select(StaffUser).where(StaffUser.email == email))
        if staff is None:
            staff = add_staff(email, role=role, agency_code=agency, password=DEMO_PASSWORD)
            added += 1
        staff.lead = email in DEMO_LEADS
    db.session.commit()
    counts["staff_added"] = added
    return counts
