"""Mailroom routes under /api/v1/mailroom: upload scans, the review queue, print batches."""

from __future__ import annotations

from datetime import date

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from app.api import bp
from app.api.auth import current_staff, staff_required
from app.cases import presenters
from app.cases import service as cases
from app.common.errors import Forbidden
from app.inbound.service import summary as inbound_summary
from app.mailroom import letters, review
from app.mailroom.upload import accept_uploads


class CorrectionSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=review.MAX_TEXT))
    reroute = fields.Boolean(load_default=True)


def _require_admin() -> None:
    if not current_staff().sees_all_agencies:
        raise Forbidden("Only administrators run print batches.")


@bp.post("/mailroom/scans")
@staff_required
def upload_scans():
    """Upload scanned letters.
    ---
    post:
      summary: Upload scans (multipart `file`, repeatable); each becomes a case
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file:
                  type: array
                  items: {type: string, format: binary}
                  minItems: 1
                  maxItems: 20
                received: {type: string, format: date, description: The mailroom's date stamp.}
                return_address: {type: string, minLength: 1, maxLength: 500}
                name: {type: string, minLength: 1, maxLength: 200}
                language: {type: string, enum: [en, es]}
                batch: {type: string, minLength: 1, maxLength: 80}
      responses:
        201:
          description: One result per file (case opened, sent to review, duplicate or failed).
          content:
            application/json:
              schema: ScanResultsSchema
        422:
          description: No file, too many files, or a bad received date.
          content:
            application/json:
              schema: ErrorSchema
    """
    form = request.form.to_dict()
    blank = sorted(k for k, v in form.items() if not v)
    if blank:  # the mailroom page's empty boxes mean "not given"; an API client leaves them out
        raise ValidationError({k: ["Give a value, or leave the field out."] for k in blank})
    uploads = [(f.read(), f.filename) for f in request.files.getlist("file")]
    accepted = accept_uploads(form, uploads, current_staff().email)
    results = [inbound_summary(row) | {"duplicate": seen} for row, seen in accepted]
    return jsonify({"results": results}), 201


@bp.get("/mailroom/review")
@staff_required
def scan_review_queue():
    """Letters waiting for a person.
    ---
    get:
      summary: Scanned letters OCR could not read well enough to route (your agency's)
      responses:
        200:
          description: Cases with what OCR read, its confidence and the contacts found.
          content:
            application/json:
              schema: ReviewQueueSchema
    """
    rows = []
    for case in review.review_queue(current_staff()):
        message = case.messages[0]
        rows.append(
            presenters.summary(case)
            | {
                "text": case.description,
                "reason": next((e.detail for e in case.events if e.kind == "flagged"), None),
                "ocr_confidence": (message.meta or {}).get("ocr_confidence"),
                "contact_suggestions": (message.meta or {}).get("contact_suggestions"),
                "scan_url": next(
                    (presenters.attachment(a, case.reference)["url"] for a in case.attachments),
                    None,
                ),
            }
        )
    return jsonify({"cases": rows})


@bp.post("/mailroom/review/<reference>")
@staff_required
def correct_scan(reference: str):
    """Correct a scan's text and route it.
    ---
    post:
      summary: Replace the OCR text with the letter's text and route the case on it
      requestBody:
        required: true
        content:
          application/json:
            schema: CorrectionSchema
      responses:
        200:
          description: The case, and the agency it went to when that changed.
          content:
            application/json:
              schema: CorrectedScanSchema
    """
    data = CorrectionSchema().load(request.get_json(silent=True) or {})
    staff = current_staff()
    case = cases.get_case_for(staff, reference)
    case, moved_to = review.correct_text(case, data["text"], staff, reroute=data["reroute"])
    return jsonify(presenters.summary(case) | {"transferred_to": moved_to})


@bp.get("/mailroom/letters")
@staff_required
def letters_waiting():
    """Letters waiting to be printed.
    ---
    get:
      summary: Rendered letters not yet in a print batch (admins)
      responses:
        200:
          description: The letters.
          content:
            application/json:
              schema: LettersSchema
    """
    _require_admin()
    return jsonify(
        {
            "letters": [
                {
                    "outbox_id": item.id,
                    "case": item.case.reference if item.case else None,
                    "kind": item.kind,
                    "created_at": presenters.iso(item.created_at),
                }
                for item in letters.waiting()
            ]
        }
    )


@bp.get("/mailroom/batches")
@staff_required
def list_batches():
    """Print batches.
    ---
    get:
      summary: Print batches, newest first (admins)
      responses:
        200:
          description: The batches.
          content:
            application/json:
              schema: PrintBatchesSchema
    """
    _require_admin()
    from app.extensions import db
    from app.mailroom.models import PrintBatch

    batches = db.session.scalars(db.select(PrintBatch).order_by(PrintBatch.id.desc()).limit(100))
    return jsonify({"batches": [letters.summary(b) for b in batches]})


@bp.post("/mailroom/batches")
@staff_required
def create_batch():
    """Start a print batch.
    ---
    post:
      summary: Put every waiting letter into a new print batch (admins)
      responses:
        201:
          description: The batch.
          content:
            application/json:
              schema: PrintBatchSchema
        409:
          description: No letters are waiting.
          content:
            application/json:
              schema: ErrorSchema
    """
    _require_admin()
    batch = letters.create_batch(current_staff())
    return jsonify(letters.summary(batch)), 201


@bp.get("/mailroom/batches/<int:batch_id>/pdf")
@staff_required
def batch_pdf(batch_id: int):
    """A batch as one PDF.
    ---
    get:
      summary: Every letter of the batch in one PDF for the printer (admins)
      responses:
        200:
          description: The letters, one PDF.
          content:
            application/pdf:
              schema: {type: string, format: binary}
    """
    _require_admin()
    batch = letters.get_batch(batch_id)
    name = f"print-batch-{batch.id}-{date.today().isoformat()}.pdf"
    return Response(
        letters.batch_pdf(batch),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.post("/mailroom/batches/<int:batch_id>/mailed")
@staff_required
def batch_mailed(batch_id: int):
    """Mark a batch mailed.
    ---
    post:
      summary: The batch went out with the post; its letters show as delivered on the cases (admins)
      responses:
        200:
          description: The batch.
          content:
            application/json:
              schema: PrintBatchSchema
        409:
          description: Already marked mailed.
          content:
            application/json:
              schema: ErrorSchema
    """
    _require_admin()
    batch = letters.mark_mailed(letters.get_batch(batch_id), current_staff())
    return jsonify(letters.summary(batch))
