"""Marshmallow schemas for /api/v1: validation of input and the shape of output."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from app.cases.lifecycle import ACTIONS
from app.cases.models import CHANNELS, STATUSES
from app.common.time import utcnow
from app.customers.models import PREFERRED_CONTACTS
from app.sla.models import STOP_REASONS
from app.sla.state import OUTCOMES
from channels.contacts import ContactError, normalize_email, normalize_phone
from channels.intake import Intake

LANGUAGES = ("en", "es")
MAX_DESCRIPTION = 20000


def _strip_strings(data):
    if isinstance(data, dict):
        return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    return data


class EmailField(fields.String):
    """An email address, validated and normalized (domain lower-cased, IDNA)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_email(
                text, check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"]
            )
        except ContactError as exc:
            raise ValidationError(str(exc)) from None


class PhoneField(fields.String):
    """A phone number, validated and normalized to E.164."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_phone(text, region=current_app.config["DEFAULT_PHONE_REGION"])
        except ContactError as exc:
            raise ValidationError(str(exc)) from None


class ComplaintSchema(Schema):
    """The complaint body of POST /api/v1/complaints (and the public web form)."""

    class Meta:
        unknown = RAISE

    description = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_DESCRIPTION),
        metadata={"description": "What happened, in the customer's own words."},
    )
    category = fields.String(
        validate=validate.Length(max=60),
        allow_none=True,
        metadata={"description": "A category code from GET /api/v1/categories."},
    )
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    email = EmailField(validate=validate.Length(max=254), allow_none=True)
    phone = PhoneField(validate=validate.Length(max=40), allow_none=True)
    address = fields.String(validate=validate.Length(max=1000), allow_none=True)
    zip = fields.String(
        validate=validate.Regexp(r"^\d{5}(-\d{4})?$", error="Enter a 5-digit ZIP code."),
        allow_none=True,
    )
    lat = fields.Float(validate=validate.Range(-90, 90), allow_none=True, allow_nan=False)
    lon = fields.Float(validate=validate.Range(-180, 180), allow_none=True, allow_nan=False)
    preferred_contact = fields.String(validate=validate.OneOf(PREFERRED_CONTACTS), allow_none=True)
    language = fields.String(load_default="en", allow_none=True)
    channel = fields.String(
        validate=validate.OneOf(CHANNELS), metadata={"description": "Staff only."}
    )
    received_at = fields.AwareDateTime(
        metadata={"description": "Staff only: when the agency received it; clocks start here."}
    )

    @pre_load
    def _clean(self, data, **kwargs):
        data = _strip_strings(data)
        if isinstance(data, dict) and getattr(self, "blank_is_missing", False):
            # A web form sends every box, filled or not: an empty one means "not given". An
            # API client that sends "" for a field gets the field's error instead.
            data = {k: v for k, v in data.items() if not (v == "" and k != "description")}
        return data

    @validates_schema
    def _check(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        is_staff = self.context_is_staff()
        for field in ("channel", "received_at"):
            if field in data and not is_staff:
                errors.setdefault(field, []).append("Only staff may set this field.")
        language = (data.get("language") or "en").lower().split("-")[0]
        if language not in LANGUAGES:
            errors.setdefault("language", []).append(f"Must be one of: {', '.join(LANGUAGES)}.")
        data["language"] = language
        if (data.get("lat") is None) != (data.get("lon") is None):
            errors.setdefault("lat", []).append("Give both latitude and longitude, or neither.")
        needs = {"email": "email", "sms": "phone", "mail": "address"}
        preferred = data.get("preferred_contact")
        if preferred in needs and not data.get(needs[preferred]):
            errors.setdefault(needs[preferred], []).append(
                f"Needed to reach you by {'text message' if preferred == 'sms' else preferred}."
            )
        received = data.get("received_at")
        if received is not None:
            if received > utcnow() + timedelta(minutes=5):
                errors.setdefault("received_at", []).append("Cannot be in the future.")
            elif received < utcnow() - timedelta(days=366):
                errors.setdefault("received_at", []).append("Cannot be more than a year ago.")
        if errors:
            raise ValidationError(errors)

    def context_is_staff(self) -> bool:
        return bool(getattr(self, "is_staff", False))


def load_complaint(data: dict, *, staff: bool, channel: str = "api", form: bool = False) -> Intake:
    """Validate a complaint (API body, or with `form` a web form whose empty boxes mean
    "not given") into an Intake, or raise ValidationError."""
    schema = ComplaintSchema()
    schema.is_staff = staff
    schema.blank_is_missing = form
    loaded = schema.load(data)
    loaded.setdefault("channel", channel)
    return Intake(
        channel=loaded.pop("channel"),
        description=loaded.pop("description"),
        **{k: v for k, v in loaded.items() if v is not None},
    )


class ClockSchema(Schema):
    metric = fields.String(validate=validate.OneOf(("acknowledge", "first_response", "resolve")))
    due_at = fields.String(metadata={"format": "date-time"})
    state = fields.String(
        validate=validate.OneOf(("on_track", "at_risk", "breached", "met", "paused", "stopped"))
    )
    outcome = fields.String(
        validate=validate.OneOf(OUTCOMES),
        metadata={"description": "What became of the clock, as the published figures count it."},
    )
    met_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    breached_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    started_at = fields.String(metadata={"format": "date-time"})
    stopped_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    stop_reason = fields.String(allow_none=True, validate=validate.OneOf(STOP_REASONS))
    target = fields.Float()
    unit = fields.String()


class ClockHistorySchema(ClockSchema):
    """A clock the case ran, current or replaced (by a transfer or a reopen)."""

    agency = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    superseded_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class AgencyRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class CaseSummarySchema(Schema):
    reference = fields.String(metadata={"example": "RX-7K3M-9QXP"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    channel = fields.String()
    category = fields.String(allow_none=True)
    agency = fields.Nested(AgencyRefSchema)
    received_at = fields.String(metadata={"format": "date-time"})
    tracking_url = fields.String()
    merged_into = fields.String(allow_none=True)
    sla = fields.List(fields.Nested(ClockSchema))


class DeliverySchema(Schema):
    state = fields.String(
        validate=validate.OneOf(
            ("queued", "sending", "retrying", "sent", "recorded", "delivered", "failed")
        )
    )
    channel = fields.String()
    to = fields.String()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    sent_at = fields.String(allow_none=True)


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    disposition = fields.String()
    message_id = fields.Integer(allow_none=True)
    url = fields.String()


class MessageVersionSchema(Schema):
    """A correction kept beside the original message (which never changes)."""

    body = fields.String()
    reason = fields.String(metadata={"description": "ocr_review | staff_edit"})
    author = fields.String(allow_none=True)
    created_at = fields.String()


class MessageSchema(Schema):
    id = fields.Integer()
    delivery = fields.List(fields.Nested(DeliverySchema))
    direction = fields.String()
    channel = fields.String()
    body = fields.String(metadata={"description": "As received or sent; never changed."})
    versions = fields.List(
        fields.Nested(MessageVersionSchema),
        metadata={"description": "Staff corrections, oldest first (staff views only)."},
    )
    subject = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    created_at = fields.String()
    attachments = fields.List(fields.Nested(AttachmentSchema))


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    actor = fields.String(allow_none=True)
    at = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    detail = fields.String(allow_none=True)


class MergedCaseSchema(Schema):
    reference = fields.String()
    status = fields.String()
    closed_at = fields.String(allow_none=True)
    sla = fields.List(fields.Nested(ClockHistorySchema))
    messages = fields.List(fields.Nested(MessageSchema))
    events = fields.List(fields.Nested(EventSchema))


class CaseSchema(CaseSummarySchema):
    """The whole case, for staff."""

    class Meta:
        unknown = EXCLUDE

    priority = fields.String()
    subject = fields.String(allow_none=True)
    description = fields.String()
    address = fields.String(allow_none=True)
    zip = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    language = fields.String()
    preferred_contact = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    related_case = fields.String(allow_none=True)
    flags = fields.List(fields.String())
    attachments = fields.List(fields.Nested(AttachmentSchema))
    customer = fields.Dict()
    routing = fields.Dict()
    messages = fields.List(fields.Nested(MessageSchema))
    events = fields.List(fields.Nested(EventSchema))
    clock_history = fields.List(fields.Nested(ClockHistorySchema))
    merged_cases = fields.List(fields.Nested(MergedCaseSchema))
    # The A-11 §280 survey: when and how it was offered, and the customer's answers.
    survey = fields.Dict(allow_none=True)


class CaseListSchema(Schema):
    cases = fields.List(fields.Nested(CaseSummarySchema))
    next_cursor = fields.String(allow_none=True)


class CaseListQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    agency = fields.String()
    status = fields.String(
        metadata={
            "description": "One status or a comma-separated list; `merged` lists the cases "
            "merged into another (closed, and otherwise left out)."
        }
    )
    sla = fields.String(
        validate=validate.OneOf(("on_track", "at_risk", "breached", "paused")),
        metadata={
            "description": "The case's live SLA state, one per case: `breached` = a running "
            "clock past its due time now; `at_risk` = not breached, a running clock past its "
            "at-risk time; `on_track` = running, neither; `paused` = no running clock, one "
            "waiting on the customer. A clock met late makes no case breached now."
        },
    )
    assignee = fields.String(metadata={"description": "An email, `me`, or `none`."})
    category = fields.String()
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    sort = fields.String(load_default="received", validate=validate.OneOf(("received", "due")))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String()

    @validates_schema
    def _statuses(self, data, **kwargs):
        if "status" in data:
            known = (*STATUSES, "merged")
            bad = [s for s in data["status"].split(",") if s.strip() not in known]
            if bad:
                raise ValidationError(
                    f"Unknown status {', '.join(bad)}; use {', '.join(known)}.", "status"
                )


class ActionSchema(Schema):
    """POST /api/v1/cases/<reference>/actions."""

    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    assignee = fields.String(metadata={"description": "assign: staff email, or `me`."})
    body = fields.String(
        validate=validate.Length(max=MAX_DESCRIPTION),
        metadata={"description": "note, reply, request_info: the text."},
    )
    resolution = fields.String(
        validate=validate.Length(max=MAX_DESCRIPTION),
        metadata={"description": "resolve: the resolution summary sent to the customer."},
    )
    reason = fields.String(validate=validate.Length(max=2000))
    agency = fields.String(metadata={"description": "transfer: the receiving agency's code."})
    queue = fields.String(metadata={"description": "transfer: a queue of that agency."})
    into = fields.String(metadata={"description": "merge: the reference of the surviving case."})
    withdrawn = fields.Boolean(
        metadata={
            "description": "close: the customer withdrew the complaint (published as its own "
            "outcome instead of a missed deadline, unless the due time had already passed)."
        }
    )


class TrackSchema(Schema):
    reference = fields.String()
    status = fields.String()
    agency = fields.Nested(AgencyRefSchema)
    category = fields.String(allow_none=True)
    received_at = fields.String()
    updated_at = fields.String()
    sla = fields.List(fields.Nested(ClockSchema))
    messages = fields.List(fields.Nested(MessageSchema))


class CodeRequestSchema(Schema):
    """Ask for a one-time code that proves a new contact for a case."""

    class Meta:
        unknown = RAISE

    contact = fields.String(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={"description": "The new email address or phone number to prove."},
    )
    send_by = fields.String(
        required=True,
        validate=validate.OneOf(("email", "sms")),
        metadata={"description": "Send the code to the case's email on file, or by text."},
    )
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class CodeVerifySchema(Schema):
    """Enter the one-time code with the contact it proves."""

    class Meta:
        unknown = RAISE

    contact = fields.String(required=True, validate=validate.Length(min=1, max=254))
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    updates = fields.Boolean(
        load_default=False,
        metadata={"description": "Send this case's updates to the new contact from now on."},
    )


class CustomerContactSchema(Schema):
    kind = fields.String()
    value = fields.String()
    proven = fields.Boolean(
        metadata={"description": "Proven for the customer: may act on all their cases."}
    )
    proven_by = fields.String(allow_none=True)
    status = fields.String()


class CustomerCaseSchema(Schema):
    reference = fields.String()
    status = fields.String()
    channel = fields.String()
    agency = fields.String()
    received_at = fields.String()
    excerpt = fields.String()
    contacts = fields.List(
        fields.String(), metadata={"description": "The contacts on this case (kind:value)."}
    )


class CustomerSchema(Schema):
    """A customer with their contact points and the history staff may see."""

    id = fields.Integer()
    name = fields.String(allow_none=True)
    created_at = fields.String()
    merged_into = fields.Integer(allow_none=True)
    contacts = fields.List(fields.Nested(CustomerContactSchema))
    cases = fields.List(fields.Nested(CustomerCaseSchema))
    other_cases = fields.Integer(
        metadata={"description": "Cases with agencies you do not see (counted, not shown)."}
    )


class CustomerMergeSchema(Schema):
    """Merge this customer into another: its contacts and cases move there."""

    class Meta:
        unknown = RAISE

    into = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "The id of the customer to merge into."},
    )
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class ErrorSchema(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class CategorySchema(Schema):
    code = fields.String()
    name = fields.String()
    group = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    agency = fields.String()


class StandardSchema(Schema):
    agency = fields.Nested(AgencyRefSchema)
    category = fields.String(allow_none=True)
    metric = fields.String()
    target = fields.Float()
    unit = fields.String()
    goal = fields.Float()
    wording = fields.String()


class InboundSchema(Schema):
    """One raw inbound message as an operator sees it (never its raw body)."""

    id = fields.Integer()
    channel = fields.String()
    source = fields.String()
    received_at = fields.String()
    size = fields.Integer()
    outcome = fields.String(
        validate=validate.OneOf(("pending", "case_opened", "threaded", "ignored", "failed"))
    )
    kind = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    processed_at = fields.String(allow_none=True)
    case = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)


class InboundListSchema(Schema):
    inbound = fields.List(fields.Nested(InboundSchema))
    next_cursor = fields.String(allow_none=True)


class InboundQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    channel = fields.String(validate=validate.OneOf(("email", "sms", "mail")))
    outcome = fields.String(
        validate=validate.OneOf(("pending", "case_opened", "threaded", "ignored", "failed"))
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


# --- the mailroom (/api/v1/mailroom): what its operations answer ------------------------


class ScanResultSchema(InboundSchema):
    duplicate = fields.Boolean(metadata={"description": "The same file was uploaded before."})


class ScanResultsSchema(Schema):
    results = fields.List(fields.Nested(ScanResultSchema))


class ReviewItemSchema(CaseSummarySchema):
    """A scanned letter waiting for a person, with what OCR read."""

    text = fields.String()
    reason = fields.String(allow_none=True)
    ocr_confidence = fields.Float(allow_none=True)
    contact_suggestions = fields.Raw(allow_none=True)
    scan_url = fields.String(allow_none=True)


class ReviewQueueSchema(Schema):
    cases = fields.List(fields.Nested(ReviewItemSchema))


class CorrectedScanSchema(CaseSummarySchema):
    transferred_to = fields.String(
        allow_none=True, metadata={"description": "The agency's code when the case moved."}
    )


class LetterSchema(Schema):
    outbox_id = fields.Integer()
    case = fields.String(allow_none=True)
    kind = fields.String()
    created_at = fields.String(allow_none=True)


class LettersSchema(Schema):
    letters = fields.List(fields.Nested(LetterSchema))


class PrintBatchSchema(Schema):
    id = fields.Integer()
    state = fields.String()
    letters = fields.Integer()
    created_at = fields.String(allow_none=True)
    mailed_at = fields.String(allow_none=True)
    pdf_url = fields.String()


class PrintBatchesSchema(Schema):
    batches = fields.List(fields.Nested(PrintBatchSchema))
