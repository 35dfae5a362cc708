"""Directory records: business calendars, agencies, queues, categories, service standards."""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import BigId
from app.extensions import db

METRICS = ("acknowledge", "first_response", "resolve")
UNITS = ("business_hours", "business_days", "calendar_days")


class Calendar(db.Model):
    """A business calendar: time zone, weekly working hours, public holidays, closures."""

    __tablename__ = "calendars"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": "09:00-17:00", ...}; days left out are closed.
    hours: Mapped[dict] = mapped_column(JSON)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    closures: Mapped[list[Closure]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="Closure.date"
    )


class Closure(db.Model):
    """A day the offices are closed beyond the public holidays (weather, executive order)."""

    __tablename__ = "calendar_closures"
    __table_args__ = (UniqueConstraint("calendar_id", "date"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    calendar: Mapped[Calendar] = relationship(back_populates="closures")


class Agency(db.Model):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(300))
    # {"es": {"name": ..., "description": ...}}; read through app.directory.localized.
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    calendar: Mapped[Calendar] = relationship()
    queues: Mapped[list[Queue]] = relationship(
        back_populates="agency", cascade="all, delete-orphan", order_by="Queue.id"
    )


class Queue(db.Model):
    """A work queue inside an agency; exactly one queue in the directory is the triage queue."""

    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    is_triage: Mapped[bool] = mapped_column(Boolean, default=False)
    agency: Mapped[Agency] = relationship(back_populates="queues")


class Category(db.Model):
    """The kind of problem (Open311's "service"), with its default owning agency."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    group: Mapped[str | None] = mapped_column(String(100))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    # Example complaints in the public's words: training text for the routing model.
    examples: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"es": {"name": ..., "description": ..., "group": ...}}
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    agency: Mapped[Agency] = relationship()
    queue: Mapped[Queue | None] = relationship()


class ServiceStandard(db.Model):
    """A posted promise: metric, target and unit, goal percentage, public wording.

    Agency-wide when category_id is null; a category's own standard overrides it.
    """

    __tablename__ = "service_standards"
    __table_args__ = (UniqueConstraint("agency_id", "category_id", "metric"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))
    target: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False))
    unit: Mapped[str] = mapped_column(String(20))
    goal: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))
    wording: Mapped[str] = mapped_column(String(300))
    # {"es": {"wording": ...}}
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    agency: Mapped[Agency] = relationship()
    category: Mapped[Category | None] = relationship()


class RoutingRule(db.Model):
    """Ordered conditions leading to an agency, queue and priority."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    position: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    # {"categories": [...], "channels": [...], "keywords": [...], ...}
    conditions: Mapped[dict] = mapped_column(JSON)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # With a routing model in use, tried only after it, when it is not sure.
    after_model: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    agency: Mapped[Agency] = relationship()
    queue: Mapped[Queue | None] = relationship()
