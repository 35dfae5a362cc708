"""SLA clocks: one posted service standard applied to one case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import BigId, UTCDateTime
from app.extensions import db

# Stored lifecycle of a clock; the public state (on_track, at_risk, ...) is derived from times.
CLOCK_PHASES = ("running", "paused", "met", "stopped")
# Why a clock stopped unmet. Closing unresolved is a miss whenever it happens; the others are
# a miss only once the due time has passed (docs/public-accountability.md).
STOP_REASONS = ("closed", "withdrawn", "merged", "transferred")
# A running clock's at-risk time, else NULL (queries use the same CASE expression). Laid out
# as PostgreSQL prints it back, so that Alembic's comparison sees model and database agree.
RUNNING_AT_RISK_SQL = "(\nCASE\n    WHEN phase = 'running' THEN at_risk_at\n    ELSE NULL\nEND)"
# A running clock's due time, else NULL: a case is breached now when one is past (the one
# definition, app.cases.queries.sla_condition). Clocks met late are not in it: they pile up
# with every closed case, and none makes a case breached now.
RUNNING_DUE_SQL = "(\nCASE\n    WHEN phase = 'running' THEN due_at\n    ELSE NULL\nEND)"


class SlaClock(db.Model):
    __tablename__ = "sla_clocks"
    __table_args__ = (
        # The sweep's three questions, each answered from a partial index whose size is the
        # number of clocks still to be warned, breached or escalated - not all open cases.
        Index(
            "ix_sla_clocks_risk_pending",
            "at_risk_at",
            sqlite_where=text("phase = 'running' AND at_risk_notified_at IS NULL"),
            postgresql_where=text("phase = 'running' AND at_risk_notified_at IS NULL"),
        ),
        Index(
            "ix_sla_clocks_breach_pending",
            "due_at",
            sqlite_where=text("phase = 'running' AND breached_at IS NULL"),
            postgresql_where=text("phase = 'running' AND breached_at IS NULL"),
        ),
        Index(
            "ix_sla_clocks_escalation_pending",
            "escalate_at",
            sqlite_where=text(
                "phase = 'running' AND breached_at IS NOT NULL AND escalated_at IS NULL"
            ),
            postgresql_where=text(
                "phase = 'running' AND breached_at IS NOT NULL AND escalated_at IS NULL"
            ),
        ),
        Index("ix_sla_clocks_case", "case_id"),
        # "At risk" lists (queues, the supervisor's dashboard): an expression index, so that
        # the planner has statistics for running clocks' at-risk times and, when few or none
        # are at risk, starts from them instead of walking every open case.
        Index("ix_sla_clocks_running_at_risk", text(RUNNING_AT_RISK_SQL)),
        # "Breached" lists likewise, when few or none are breached.
        Index("ix_sla_clocks_running_due", text(RUNNING_DUE_SQL)),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    standard_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_standards.id", ondelete="SET NULL")
    )
    metric: Mapped[str] = mapped_column(String(20))
    # A snapshot of the standard and calendar at start: later directory edits don't move it.
    target: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id"))
    phase: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the clock was created (with its case, at a transfer, at a reopen): a clock created
    # already past due counts in the period it was created in, so past periods never change.
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the clock will have used the at-risk share (75 %) of its allowed time: stored so
    # that queues and the sweep compare timestamps instead of doing calendar arithmetic.
    at_risk_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Allowed time added back by pauses, in the unit's own measure (see BusinessCalendar.elapsed).
    paused_total: Mapped[float] = mapped_column(Float, default=0.0)
    # Real seconds spent waiting on the customer, for the public recount (paused_total is in
    # the unit's own measure, which is what moves the due time).
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When and why a clock stopped without being met (STOP_REASONS).
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(12))
    # When a newer clock for the same metric took over on the case (the receiving agency's
    # after a transfer, a new resolve clock after a reopen): this one keeps its outcome.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the sweep when it records the breach (or by a stop past the due time); never
    # cleared: a missed promise stays missed. State is still derived from times.
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_risk_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a breach still unmet escalates to the agency's leads: scheduled with due_at.
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case = relationship("Case", back_populates="clocks")
    calendar = relationship("Calendar")
    standard = relationship("ServiceStandard")
