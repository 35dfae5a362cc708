"""Stored routing models: each training run's numbers, figures and whether it is in use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db

# active: the one routing uses; retired: replaced by a newer one (kept, to go back to);
# rejected: scored worse than the active one on the held-back slice (figures kept, no payload).
STATUSES = ("active", "retired", "rejected")


class RoutingModel(db.Model):
    """One trained model. The payload is plain arrays (numpy's .npz, read with pickling
    refused); `meta` says how to read them; `figures` is its evaluation."""

    __tablename__ = "routing_models"
    __table_args__ = (Index("ix_routing_models_status", "status", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest closed case it learned from: the nightly job counts newer ones.
    cases_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shipped training texts it included (e.g. ["demo"]); a retrain keeps them.
    corpora: Mapped[list] = mapped_column(JSON, default=list)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
