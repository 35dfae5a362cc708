"""Every model in one import, for Alembic and the shell."""

from app.cases.models import Attachment, Case, Event, IdempotencyKey, Message, MessageVersion
from app.customers.models import (
    CaseContact,
    ContactCode,
    ContactPoint,
    Customer,
    CustomerMerge,
)
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
from app.staff.models import ApiToken, StaffSession, StaffUser
from app.surveys.models import SurveyInvitation, SurveyResponse
from app.workspace.models import SavedReply

__all__ = [
    "Agency",
    "ApiToken",
    "Attachment",
    "Calendar",
    "Case",
    "CaseContact",
    "Category",
    "Closure",
    "ContactCode",
    "ContactPoint",
    "Customer",
    "CustomerMerge",
    "Event",
    "IdempotencyKey",
    "InboundMessage",
    "MailboxState",
    "Message",
    "MessageVersion",
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
    "StaffSession",
    "StaffUser",
    "SurveyInvitation",
    "SurveyResponse",
]
