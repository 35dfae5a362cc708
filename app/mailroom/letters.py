"""Printed letters out: the mail sender's spool, print batches, and marking them mailed."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from flask import current_app

from app.cases.service import add_event
from app.common.errors import Conflict, NotFound
from app.common.time import utcnow
from app.extensions import db
from app.mailroom.models import PrintBatch
from app.notify.models import OutboxItem
from channels.letters import LetterSender


def spool_dir() -> Path:
    configured = current_app.config.get("LETTER_SPOOL_DIR")
    return (
        Path(configured) if configured else Path(current_app.config["ATTACHMENT_DIR"]) / "letters"
    )


def sender() -> LetterSender:
    return LetterSender(spool_dir(), current_app.config["MAIL_RETURN_ADDRESS"])


def letter_path(item: OutboxItem) -> Path | None:
    if not (item.provider_ref or "").startswith("letter:"):
        return None
    return spool_dir() / item.provider_ref.removeprefix("letter:")


def waiting():
    """Letters rendered and waiting to be printed (in no batch yet), oldest first."""
    return db.session.scalars(
        db.select(OutboxItem)
        .where(
            OutboxItem.channel == "mail",
            OutboxItem.state == "sent",
            OutboxItem.print_batch_id.is_(None),
        )
        .order_by(OutboxItem.id)
    ).all()


def create_batch(actor, now: datetime | None = None) -> PrintBatch:
    items = waiting()
    if not items:
        raise Conflict("No letters are waiting to be printed.")
    batch = PrintBatch(
        state="open", letters=len(items), created_by=actor, created_at=now or utcnow()
    )
    db.session.add(batch)
    db.session.flush()
    for item in items:
        item.print_batch_id = batch.id
    db.session.commit()
    return batch


def get_batch(batch_id: int) -> PrintBatch:
    batch = db.session.get(PrintBatch, batch_id)
    if batch is None:
        raise NotFound(f"No print batch {batch_id}.")
    return batch


def batch_items(batch: PrintBatch) -> list[OutboxItem]:
    return db.session.scalars(
        db.select(OutboxItem).where(OutboxItem.print_batch_id == batch.id).order_by(OutboxItem.id)
    ).all()


def batch_pdf(batch: PrintBatch) -> bytes:
    """Every letter of the batch in one PDF, each starting on a new sheet, for printing."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for item in batch_items(batch):
        path = letter_path(item)
        if path is None or not path.exists():
            raise NotFound(f"The letter for outbox item {item.id} is missing from the spool.")
        writer.append(str(path))
        if len(writer.pages) % 2:  # duplex printers: the next letter starts on a new sheet
            writer.add_blank_page()
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def mark_mailed(batch: PrintBatch, actor, now: datetime | None = None) -> PrintBatch:
    """The batch went out with the post: each letter is delivered, as far as we can know."""
    now = now or utcnow()
    if batch.state == "mailed":
        raise Conflict(f"Print batch {batch.id} was already marked mailed.")
    batch.state = "mailed"
    batch.mailed_at = now
    batch.mailed_by = actor
    for item in batch_items(batch):
        item.state = "delivered"
        if item.case is not None:
            add_event(item.case, "letter_mailed", now, after={"batch": batch.id, "kind": item.kind})
    db.session.commit()
    return batch


def summary(batch: PrintBatch) -> dict:
    from app.cases.presenters import iso

    return {
        "id": batch.id,
        "state": batch.state,
        "letters": batch.letters,
        "created_at": iso(batch.created_at),
        "mailed_at": iso(batch.mailed_at),
        "pdf_url": f"/api/v1/mailroom/batches/{batch.id}/pdf",
    }
