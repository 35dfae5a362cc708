"""Mailroom pages in the staff workspace: upload scans, review what OCR could not read (the
scan beside its text), print batches of letters and mark them mailed."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from app.cases import attachments as files
from app.cases import service as cases
from app.cases.models import Attachment
from app.common.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.mailroom import letters, review
from app.mailroom.models import PrintBatch
from app.mailroom.upload import accept_uploads
from app.workspace.auth import staff_page
from app.workspace.common import _layout as workspace_layout

bp = Blueprint("mailroom", __name__, url_prefix="/staff/mailroom", template_folder="templates")
# The workspace's layout (USWDS styles, the staff navigation) for these pages too.
bp.context_processor(workspace_layout)
# Field names as the form shows them, before each error message.
_LABELS = {"received": "Received date", "return_address": "Return address", "batch": "Batch name"}
PREVIEW_WIDTH = 1100


@bp.route("/", methods=["GET", "POST"])
@staff_page()
def mailroom_home():
    """Upload scans (with the received date from the envelope) and see the review queue."""
    errors: list[str] = []
    results = []
    form = {"received": "", "return_address": "", "batch": ""}
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in form}
        uploads = [
            (f.read(), f.filename) for f in request.files.getlist("file") if f and f.filename
        ]
        try:
            results = accept_uploads(form, uploads, current_user.email)
        except ValidationError as exc:
            errors = [
                f"{_LABELS[field]}: {message}" if field in _LABELS else message
                for field, messages in exc.messages.items()
                for message in messages
            ]
    queue = review.review_queue(current_user)
    status = 422 if errors else 200
    return render_template(
        "mailroom/home.html", errors=errors, results=results, form=form, queue=queue
    ), status


@bp.route("/review/<reference>", methods=["GET", "POST"])
@staff_page()
def review_case(reference: str):
    """The scan beside what OCR read; the corrected text routes the case."""
    try:
        case = cases.get_case_for(current_user, reference)
    except NotFound:
        abort(404)
    if request.method == "GET" and not review.awaiting_review(case):
        abort(404)  # only scans awaiting review are corrected here
    errors: list[str] = []
    text = case.description
    if request.method == "POST":
        text = request.form.get("text", "")
        try:
            case, moved_to = review.correct_text(
                case, text, current_user, reroute=request.form.get("reroute") != "no"
            )
        except Conflict:
            abort(404)  # refused and recorded on the case; the text is left as received
        except Invalid as exc:
            db.session.rollback()
            errors.append(exc.message)
        else:
            flash(
                f"Text saved. {case.reference} was transferred to {moved_to}."
                if moved_to
                else f"Text saved. {case.reference} stays with {case.agency.name}.",
                "success",
            )
            if moved_to and not cases.can_see(current_user, case):
                return redirect(url_for("mailroom.mailroom_home"))
            return redirect(url_for("workspace.case_detail", reference=case.reference))
    scan = next((a for a in case.attachments if a.disposition == "scan"), None)
    message = case.messages[0] if case.messages else None
    return render_template(
        "mailroom/review.html",
        case=case,
        scan=scan,
        pages=_page_count(scan) if scan else 0,
        meta=(message.meta or {}) if message else {},
        reason=next((e.detail for e in reversed(case.events) if e.kind == "flagged"), None),
        text=text,
        errors=errors,
    ), (422 if errors else 200)


def _scan_for(attachment_id: int) -> Attachment:
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.disposition != "scan":
        abort(404)
    try:
        cases.get_case_for(current_user, item.case.reference)  # the same scoping as the case
    except NotFound:
        abort(404)
    return item


def _images(item: Attachment) -> list:
    """The scan's pages as pictures: image files page by page; a PDF's page images."""
    from PIL import Image

    data = files.read(item)
    if item.content_type == "application/pdf":
        from pypdf import PdfReader

        pages = []
        for page in PdfReader(io.BytesIO(data)).pages:
            found = [i.image for i in page.images if i.image is not None]
            pages.append(found[0] if found else None)
        return pages
    image = Image.open(io.BytesIO(data))
    pages = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        pages.append(image.copy())
    return pages


def _page_count(item: Attachment) -> int:
    try:
        return len(_images(item))
    except Exception:  # noqa: BLE001 - a damaged scan still shows its text and download link
        return 0


@bp.get("/scans/<int:attachment_id>/page-<int:number>.png")
@staff_page()
def scan_page(attachment_id: int, number: int):
    """A page of a scan as a PNG we render ourselves (safe to show inline, unlike the file)."""
    item = _scan_for(attachment_id)
    try:
        pages = _images(item)
        image = pages[number - 1] if number >= 1 else None
    except Exception:  # noqa: BLE001
        image = None
    if image is None:
        abort(404)
    image = image.convert("L")
    if image.width > PREVIEW_WIDTH:
        image = image.resize((PREVIEW_WIDTH, int(image.height * PREVIEW_WIDTH / image.width)))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return Response(
        out.getvalue(),
        mimetype="image/png",
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@bp.route("/letters", methods=["GET", "POST"])
@staff_page("admin")
def letters_page():
    """Letters waiting to be printed, print batches, and marking a batch mailed."""
    if request.method == "POST":
        try:
            if request.form.get("action") == "batch":
                batch = letters.create_batch(current_user)
                flash(
                    f"Print batch {batch.id} has {batch.letters} letter(s). "
                    "Print it, then mark it mailed.",
                    "success",
                )
            elif request.form.get("action") == "mailed":
                batch = letters.mark_mailed(
                    letters.get_batch(int(request.form.get("batch", 0))), current_user
                )
                flash(f"Print batch {batch.id} is marked mailed.", "success")
            else:
                abort(400)
        except (Conflict, NotFound) as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("mailroom.letters_page"))
    batches = db.session.scalars(db.select(PrintBatch).order_by(PrintBatch.id.desc()).limit(50))
    return render_template(
        "mailroom/letters.html", waiting=letters.waiting(), batches=list(batches)
    )


@bp.get("/letters/batches/<int:batch_id>.pdf")
@staff_page("admin")
def batch_pdf(batch_id: int):
    try:
        batch = letters.get_batch(batch_id)
        pdf = letters.batch_pdf(batch)
    except NotFound:
        abort(404)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="print-batch-{batch.id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
