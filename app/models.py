"""Every model in one import, for Alembic and the shell."""

from app.cases.models import Attachment, Case, Event, IdempotencyKey, Message
from app.customers.models import ContactPoint, Customer
from app.directory.models import (
    Agency,
    Calendar,
    Category,
    Closure,
    Queue,
    RoutingRule,
    ServiceStandard,
)
from app.inbound.models import InboundMessage
from app.notify.models import OutboxItem
from app.performance import PerformanceDaily
from app.sla.models import SlaClock
from app.staff.models import ApiToken, StaffUser
from app.workspace.models import SavedReply

__all__ = [
    "Agency",
    "ApiToken",
    "Attachment",
    "Calendar",
    "Case",
    "Category",
    "Closure",
    "ContactPoint",
    "Customer",
    "Event",
    "IdempotencyKey",
    "InboundMessage",
    "Message",
    "OutboxItem",
    "PerformanceDaily",
    "Queue",
    "RoutingRule",
    "SavedReply",
    "ServiceStandard",
    "SlaClock",
    "StaffUser",
]
