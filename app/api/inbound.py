"""Operator routes: the raw inbound store with outcomes, and case attachments for staff."""

from __future__ import annotations

from flask import jsonify, request, send_file

from app.api import bp
from app.api import cursor as cursors
from app.api.auth import current_staff, staff_required
from app.api.schemas import InboundListSchema, InboundQuerySchema, InboundSchema
from app.cases import attachments
from app.cases import service as cases
from app.cases.models import Attachment
from app.common.errors import Forbidden, NotFound
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage


def _require_admin() -> None:
    if not current_staff().sees_all_agencies:
        raise Forbidden("Only administrators may see the inbound store.")


@bp.get("/inbound")
@staff_required
def list_inbound():
    """List raw inbound messages.
    ---
    get:
      summary: Every raw inbound message (email, SMS, scan) with its outcome (admins)
      parameters:
        - in: query
          schema: InboundQuerySchema
      responses:
        200:
          content:
            application/json:
              schema: InboundListSchema
        403:
          description: Not an administrator.
    """
    _require_admin()
    args = InboundQuerySchema().load(request.args.to_dict())
    stmt = inbound.query(args.get("channel"), args.get("outcome"))
    if "cursor" in args:
        values = cursors.decode(args["cursor"], "inbound")
        stmt = stmt.where(InboundMessage.id < values[0])
    rows = db.session.scalars(stmt.limit(args["limit"] + 1)).all()
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return jsonify(
        InboundListSchema().dump(
            {
                "inbound": [inbound.summary(r) for r in rows],
                "next_cursor": cursors.encode([rows[-1].id], "inbound") if more else None,
            }
        )
    )


@bp.post("/inbound/<int:inbound_id>/retry")
@staff_required
def retry_inbound(inbound_id: int):
    """Process a failed inbound message again.
    ---
    post:
      summary: Queue a failed inbound message for processing again (admins)
      parameters:
        - in: path
          name: inbound_id
          schema: {type: integer}
          required: true
      responses:
        202:
          content:
            application/json:
              schema: InboundSchema
    """
    _require_admin()
    row = inbound.retry(inbound_id)
    db.session.commit()
    return jsonify(InboundSchema().dump(inbound.summary(row))), 202


@bp.get("/cases/<reference>/attachments/<int:attachment_id>")
@staff_required
def download_attachment(reference: str, attachment_id: int):
    """Download a file from a case.
    ---
    get:
      summary: A case's attachment, always as a download (never rendered inline)
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
        - in: path
          name: attachment_id
          schema: {type: integer}
          required: true
      responses:
        200:
          description: The file.
        404:
          description: No such file on a case in your agency.
    """
    case = cases.get_case_for(current_staff(), reference)
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.case_id != case.id:
        raise NotFound("No such attachment on this case.")
    return send_attachment(item)


def send_attachment(item: Attachment):
    """The file as a download: declared type only as octet-stream for anything a browser
    might render (HTML, SVG, XML), nosniff, and a sandboxing CSP."""
    path = attachments.path_of(item)
    if not path.exists():
        raise NotFound("The file is missing from storage.")
    renderable = any(t in item.content_type for t in ("html", "svg", "xml", "javascript"))
    response = send_file(
        path,
        mimetype="application/octet-stream" if renderable else item.content_type,
        as_attachment=True,
        download_name=item.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
