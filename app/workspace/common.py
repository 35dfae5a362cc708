"""Shared pieces of the workspace pages: layout context, local times, directory look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.directory.models import Agency, Calendar, Category, Queue
from app.extensions import db
from app.public import assets
from app.sla.calendar import BusinessCalendar
from app.sla.service import business_calendar
from app.workspace import bp

UTC_ZONE = ZoneInfo("UTC")
_CACHE_KEY = "redress.staff_directory"


@bp.app_template_filter("staff_time")
def staff_time(value: datetime | None, tz: str | None = None) -> str:
    """'Mon Dec 7, 2026 3:05 PM EST' in the given zone (the case's agency's), else UTC."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz) if tz else UTC_ZONE)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%a %b} {local.day}, {local.year} {hour}:{local:%M %p %Z}"


def _uswds_version() -> str | None:
    try:
        return assets.STAMP.read_text().strip() or None
    except OSError:
        return None


@bp.context_processor
def _layout() -> dict:
    nav = []
    if current_user.is_authenticated:
        nav = [
            ("workspace.queue", {"view": "mine"}, "My cases"),
            ("workspace.queue", {"view": "team"}, "My team's queue"),
            ("workspace.queue", {"view": "unassigned"}, "Unassigned"),
            ("mailroom.mailroom_home", {}, "Mailroom"),
        ]
        if current_user.sees_all_agencies or _owns_triage(current_user.agency_id):
            nav.insert(3, ("workspace.queue", {"view": "triage"}, "Triage"))
        if current_user.role in ("supervisor", "admin"):
            nav.append(("workspace.dashboard", {}, "Supervisor"))
            nav.append(("workspace.saved_replies", {}, "Saved replies"))
        if current_user.role == "admin":
            nav.append(("workspace.admin_home", {}, "Directory"))
            nav.append(("workspace.inbound_list", {}, "Inbound"))
    return {
        "uswds_version": _uswds_version(),
        "staff_nav": [(url_for(e, **a), label) for e, a, label in nav],
    }


def _owns_triage(agency_id: int | None) -> bool:
    """Whether this agency runs the front door's triage queue (once per request)."""
    key = "redress.staff_triage_agency"
    if key not in request.environ:
        request.environ[key] = db.session.scalar(
            db.select(Queue.agency_id).where(Queue.is_triage.is_(True)).limit(1)
        )
    return agency_id is not None and request.environ[key] == agency_id


@dataclass
class Directory:
    """The small directory tables, read once per request (no query per listed case)."""

    agencies: dict[int, Agency]
    categories: dict[int, Category]
    calendars: dict[int, BusinessCalendar]

    def timezone(self, agency_id: int) -> str:
        return self.agencies[agency_id].calendar.timezone


def directory() -> Directory:
    """Read once per request (cached on the request: an app context can outlive one)."""
    if _CACHE_KEY in request.environ:
        return request.environ[_CACHE_KEY]
    calendars = db.session.scalars(
        db.select(Calendar).options(selectinload(Calendar.closures))
    ).all()
    agencies = db.session.scalars(db.select(Agency).order_by(Agency.code)).all()
    categories = db.session.scalars(db.select(Category).order_by(Category.name)).all()
    request.environ[_CACHE_KEY] = Directory(
        agencies={a.id: a for a in agencies},
        categories={c.id: c for c in categories},
        calendars={c.id: business_calendar(c) for c in calendars},
    )
    return request.environ[_CACHE_KEY]
