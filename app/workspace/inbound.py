"""The admin's inbound page: every raw inbound message with its outcome, and retry."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import defer, selectinload

from app.api import cursor as cursors
from app.api.schemas import InboundQuerySchema
from app.common.errors import NotFound
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import OUTCOMES, InboundMessage
from app.workspace import bp
from app.workspace.auth import staff_page

PAGE_SIZE = 50


@bp.get("/inbound")
@staff_page("admin")
def inbound_list() -> ResponseReturnValue:
    """The same rows and filters as GET /api/v1/inbound, as a page."""
    raw = {k: v for k, v in request.args.items() if k in ("channel", "outcome") and v}
    errors, rows, next_cursor = [], [], None
    try:
        args = InboundQuerySchema().load(raw)
    except ValidationError as exc:
        errors = [f"{field}: {' '.join(m)}" for field, m in exc.messages.items()]
        args = {}
    if not errors:
        stmt = inbound.query(args.get("channel"), args.get("outcome")).options(
            defer(InboundMessage.raw), selectinload(InboundMessage.case)
        )
        after = request.args.get("after")
        if after:
            try:
                stmt = stmt.where(InboundMessage.id < int(cursors.decode(after, "inbound")[0]))
            except (ValidationError, ValueError, TypeError, IndexError):
                errors.append("That page link is not valid; start from the first page.")
        found = db.session.scalars(stmt.limit(PAGE_SIZE + 1)).all()
        if len(found) > PAGE_SIZE:
            next_cursor = cursors.encode([found[PAGE_SIZE - 1].id], "inbound")
        rows = [inbound.summary(r) for r in found[:PAGE_SIZE]]
    return render_template(
        "workspace/inbound.html",
        rows=rows,
        errors=errors,
        filters={
            "channel": request.args.get("channel", ""),
            "outcome": request.args.get("outcome", ""),
        },
        outcomes=OUTCOMES,
        next_cursor=next_cursor,
    ), (422 if errors else 200)


@bp.post("/inbound/<int:inbound_id>/retry")
@staff_page("admin")
def inbound_retry(inbound_id: int) -> ResponseReturnValue:
    try:
        row = inbound.retry(inbound_id)
    except NotFound as exc:
        flash(exc.message, "error")
        return redirect(url_for("workspace.inbound_list"))
    db.session.commit()
    flash(
        f"Inbound message {row.id} was queued for processing again: now {row.outcome}.", "success"
    )
    return redirect(url_for("workspace.inbound_list", outcome=request.form.get("outcome") or None))
