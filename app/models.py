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
from app.email.models import MailboxState, SenderWindow
from app.inbound.models import InboundMessage
from app.mailroom.models import PrintBatch
from app.notify.models import OutboxItem
from app.open311.models import Open311App
from app.performance import PerformanceDaily, PerformanceSnapshot
from app.routing.models import RoutingModel
from app.sla.models import SlaClock
from app.sms.models import SmsConversation
from app.staff.models import ApiToken, StaffUser
from app.surveys.models import SurveyInvitation, SurveyResponse
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
    "MailboxState",
    "Message",
    "Open311App",
    "OutboxItem",
    "PerformanceDaily",
    "PrintBatch",
    "PerformanceSnapshot",
    "Queue",
    "RoutingModel",
    "RoutingRule",
    "SavedReply",
    "SenderWindow",
    "ServiceStandard",
    "SlaClock",
    "SmsConversation",
    "StaffUser",
    "SurveyInvitation",
    "SurveyResponse",
]
