"""The case page: one timeline of messages (every channel, with delivery states), events,
the routing decision and the clocks; and every action, through app.cases.service.act."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.api.inbound import send_attachment
from app.cases import lifecycle, queries
from app.cases import service as cases
from app.cases.models import Attachment, Case, Event, Message
from app.common.errors import DomainError, NotFound
from app.common.time import utcnow
from app.customers.models import Customer
from app.directory.models import Agency
from app.extensions import db
from app.sla.service import business_calendar
from app.staff.models import StaffUser
from app.workspace import bp
from app.workspace.auth import staff_page
from app.workspace.models import SavedReply
from app.workspace.sla_badges import METRIC_LABELS, badge

# Flags a caseworker must see first, in plain words.
FLAG_TEXT = {
    "contact_undeliverable": "Messages to the customer's address are bouncing: "
    "reach them another way.",
    "sms_opted_out": "The customer texted STOP: do not send text messages.",
    "review_link": "This case was opened from a message that cites another case: check "
    "whether it belongs there.",
    "sender_unverified": "This email failed its sender's DMARC check: the From address may be "
    "forged. Confirm who wrote it before sharing anything about the customer's cases.",
}
# The form fields each action sends to act(), and its button's words.
ACTION_FIELDS = {
    "assign": ("assignee",),
    "start": (),
    "note": ("body",),
    "reply": ("body",),
    "request_info": ("body",),
    "resolve": ("resolution",),
    "close": ("reason",),
    "reopen": ("reason",),
    "transfer": ("agency", "reason"),
    "merge": ("into", "reason"),
}
EVENT_WORDS = {
    "opened": "Case opened",
    "routed": "Routed",
    "rerouted": "Routed again",
    "assign": "Assigned",
    "start": "Work started",
    "note": "Internal note added",
    "reply": "Replied to the customer",
    "request_info": "Asked the customer for information (resolve clock paused)",
    "resolve": "Resolved",
    "close": "Closed",
    "reopen": "Reopened",
    "transfer": "Transferred",
    "merge": "Merged into another case",
    "merged": "Another case was merged into this one",
    "flagged": "Flagged",
    "flag_cleared": "Flag cleared",
    "customer_replied": "The customer replied",
    "status_sent": "Sent the customer the status they asked for",
    "access_refused": "Refused a contact that may not see this case",
    "contact_code_sent": "Sent a one-time code to prove a new contact",
    "contact_code_locked": "Locked a one-time code after too many wrong tries",
    "contact_proven": "A new contact was proven with a one-time code",
    "customer_merged": "Customer records merged",
    "scan_text_corrected": "Letter text corrected (the OCR text is kept)",
    "correction_refused": "Refused a correction: not a scan awaiting review",
}


def _load(reference: str) -> Case:
    """The case if the signed-in staff member may see it (same scoping as the API), with
    everything the page shows loaded in a fixed number of queries."""
    case = cases.get_case_for(current_user, reference)
    return db.session.scalar(
        db.select(Case)
        .where(Case.id == case.id)
        .options(
            selectinload(Case.messages).selectinload(Message.deliveries),
            selectinload(Case.messages).selectinload(Message.author),
            selectinload(Case.messages).selectinload(Message.attachments),
            selectinload(Case.events).selectinload(Event.actor),
            selectinload(Case.clocks),
            selectinload(Case.attachments),
            selectinload(Case.messages).selectinload(Message.versions),
            selectinload(Case.customer).selectinload(Customer.contacts),
            selectinload(Case.case_contacts),
        )
        .execution_options(populate_existing=True)
    )


def _event_text(event: Event) -> str:
    after = event.after or {}
    words = EVENT_WORDS.get(event.kind, event.kind.replace("_", " ").capitalize())
    if event.kind == "assign" and after.get("assignee"):
        words += f" to {after['assignee']}"
    elif event.kind == "transfer" and after.get("agency"):
        words += f" to {after['agency']}"
        suggestion = after.get("suggestion")
        if isinstance(suggestion, dict):
            p = suggestion.get("probability")
            sure = f", {p:.0%} sure" if isinstance(p, int | float) else ""
            words += f" (the routing model's suggestion {suggestion.get('rank')}{sure})"
    elif event.kind == "merge" and after.get("merged_into"):
        words += f" {after['merged_into']}"
    elif event.kind == "merged" and after.get("merged"):
        words += f": {after['merged']}"
    elif event.kind == "status_sent" and after.get("channel"):
        words += " by " + {"sms": "text message"}.get(after["channel"], after["channel"])
    elif event.kind == "flagged" and after.get("flag"):
        words += f": {after['flag'].replace('_', ' ')}"
    before = (event.before or {}).get("status")
    if before and after.get("status") and before != after["status"]:
        words += f" (status {before.replace('_', ' ')} → {after['status'].replace('_', ' ')})"
    return words


def timeline(case: Case) -> list[dict]:
    """Messages and events in time order; a message sorts before its own event."""
    items = []
    for m in case.messages:
        items.append({"type": "message", "at": m.created_at, "order": (0, m.id), "message": m})
    for e in case.events:
        if e.kind in ("note",):  # the note itself is in the timeline as a message
            continue
        text = _event_text(e)
        actor = e.actor.email if e.actor else e.actor_type
        items.append(
            {"type": "event", "at": e.at, "order": (1, e.id), "event": e, "text": text,
             "actor": actor}
        )  # fmt: skip
    items.sort(key=lambda i: (i["at"], i["order"]))
    return items


def _saved_replies(case: Case) -> list[SavedReply]:
    return db.session.scalars(
        db.select(SavedReply)
        .where((SavedReply.agency_id == case.agency_id) | SavedReply.agency_id.is_(None))
        .order_by(SavedReply.title)
    ).all()


def _render(case: Case, *, form: dict | None = None, error=None, status: int = 200):
    now = utcnow()
    cal = business_calendar(case.agency.calendar)
    tz = case.agency.calendar.timezone
    clocks = [
        {"clock": c, "badge": badge(c, cal, now), "metric": METRIC_LABELS.get(c.metric, c.metric)}
        for c in sorted(case.clocks, key=lambda c: c.id)
    ]
    saved = _saved_replies(case)
    form = dict(form or {})
    chosen = request.args.get("saved", type=int)
    if chosen and "reply_body" not in form:
        for reply in saved:
            if reply.id == chosen:
                form["reply_body"] = reply.body
    colleagues = []
    if current_user.role in ("supervisor", "admin"):
        colleagues = db.session.scalars(
            db.select(StaffUser)
            .where(StaffUser.agency_id == case.agency_id, StaffUser.active.is_(True))
            .order_by(StaffUser.name)
        ).all()
    related = case.related_case
    routed = next((e for e in reversed(case.events) if e.kind in ("routed", "rerouted")), None)
    suggestions = cases.routing_suggestions(case)
    return render_template(
        "workspace/case.html",
        case=case,
        tz=tz,
        items=timeline(case),
        clocks=clocks,
        flags=[(f, FLAG_TEXT.get(f, f.replace("_", " "))) for f in case.flags or []],
        related=related,
        related_visible=related is not None and cases.can_see(current_user, related),
        merged=queries.merged_into(case),
        allowed={a for a, s in lifecycle.ALLOWED_FROM.items() if case.status in s},
        saved_replies=saved,
        colleagues=colleagues,
        agencies=db.session.scalars(
            db.select(Agency).where(Agency.id != case.agency_id).order_by(Agency.name)
        ).all(),
        form=form,
        error=error,
        routing_model=((routed.after or {}).get("model") if routed else None) or None,
        suggestions=suggestions,
        agency_names=agency_names() if suggestions else {},
    ), status


def agency_names() -> dict[str, str]:
    return dict(db.session.execute(db.select(Agency.code, Agency.name)).all())


@bp.get("/cases/<reference>")
@staff_page()
def case_detail(reference: str) -> ResponseReturnValue:
    try:
        case = _load(reference)
    except NotFound:
        return render_template("workspace/not_found.html", reference=reference), 404
    return _render(case)


@bp.post("/cases/<reference>/actions")
@staff_page()
def case_action(reference: str) -> ResponseReturnValue:
    """Apply one action from the case page's forms; a refused action keeps what was typed."""
    try:
        case = _load(reference)
    except NotFound:
        return render_template("workspace/not_found.html", reference=reference), 404
    action = request.form.get("action", "")
    if action not in ACTION_FIELDS:
        return _render(case, error=(action, "Choose an action."), status=422)
    data = {
        f: request.form.get(f"{action}_{f}", request.form.get(f, "")) for f in ACTION_FIELDS[action]
    }
    if action == "assign" and not data.get("assignee"):
        data["assignee"] = "me"
    if action == "close":  # a checkbox: the customer withdrew it (published as such)
        data["withdrawn"] = request.form.get("close_withdrawn") == "yes"
    try:
        case = cases.act(case, action, current_user, data)
    except DomainError as exc:
        db.session.rollback()
        case = _load(reference)
        typed = {f"{action}_{k}": v for k, v in data.items()}
        return _render(case, form=typed, error=(action, exc.message), status=exc.status)
    flash(_done_message(action, case), "success")
    if not cases.can_see(current_user, case):  # transferred away from this agency
        return redirect(url_for("workspace.queue", view="team"))
    if request.form.get("next") == "queue":
        return redirect(request.referrer or url_for("workspace.queue", view="unassigned"))
    return redirect(url_for("workspace.case_detail", reference=case.reference))


def _done_message(action: str, case: Case) -> str:
    assignee = case.assignee.name if case.assignee else "nobody"
    words = {
        "assign": f"{case.reference} is assigned to {assignee}.",
        "start": f"You are working on {case.reference}.",
        "note": "Note added.",
        "reply": "Reply sent to the customer.",
        "request_info": "Question sent to the customer; the resolve clock is paused.",
        "resolve": f"{case.reference} is resolved and the customer has been told.",
        "close": f"{case.reference} is closed.",
        "reopen": f"{case.reference} is open again.",
        "transfer": f"{case.reference} was transferred to {case.agency.name}.",
        "merge": f"{case.reference} was merged into "
        f"{case.merged_into.reference if case.merged_into else 'another case'}.",
    }
    return words[action]


@bp.post("/cases/<reference>/suggestions/<int:rank>")
@staff_page()
def accept_suggestion(reference: str, rank: int) -> ResponseReturnValue:
    """One click: route a triaged case where the routing model suggested (a transfer)."""
    try:
        case = _load(reference)
    except NotFound:
        return render_template("workspace/not_found.html", reference=reference), 404
    try:
        case = cases.accept_suggestion(case, rank, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _render(_load(reference), error=("suggestion", exc.message), status=exc.status)
    where = f"{case.agency.name}" + (f", {case.queue.name} queue" if case.queue else "")
    flash(f"{case.reference} was sent to {where}, as the routing model suggested.", "success")
    if request.form.get("next") == "queue":
        return redirect(url_for("workspace.queue", view="triage"))
    if not cases.can_see(current_user, case):  # it left this agency
        return redirect(url_for("workspace.queue", view="triage"))
    return redirect(url_for("workspace.case_detail", reference=case.reference))


@bp.get("/cases/<reference>/attachments/<int:attachment_id>")
@staff_page()
def case_attachment(reference: str, attachment_id: int) -> ResponseReturnValue:
    """A file from the case, always as a download (the API's safe sender)."""
    try:
        case = cases.get_case_for(current_user, reference)
    except NotFound:
        return render_template("workspace/not_found.html", reference=reference), 404
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.case_id != case.id:
        return render_template("workspace/not_found.html", reference=reference), 404
    return send_attachment(item)
