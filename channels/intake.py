"""The normalized Intake that every channel produces and the case service accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Intake:
    """One inbound complaint from any channel, already validated and normalized.

    Contact points are normalized (email lower-cased domain, phone in E.164); free text
    is kept as the customer wrote it.
    """

    channel: str
    description: str
    category: str | None = None
    subject: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    zip: str | None = None
    lat: float | None = None
    lon: float | None = None
    preferred_contact: str | None = None
    language: str = "en"
    received_at: datetime | None = None

    @property
    def routing_text(self) -> str:
        """What the routing engine reads: the subject and the description."""
        return f"{self.subject}\n{self.description}" if self.subject else self.description
