"""Scans uploaded by staff (the mailroom page and the API): one validation, one way in."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.common.time import utcnow
from app.inbound.models import InboundMessage
from app.mailroom.drop import ingest
from channels.mail_scans.manifest import MAX_RETURN_ADDRESS, ManifestEntry

MAX_UPLOAD_FILES = 20


class ScanUploadSchema(Schema):
    """The form that goes with uploaded scans: what the envelope and the mailroom stamp say."""

    received = fields.Date(
        load_default=None,
        error_messages={"invalid": "use the form YYYY-MM-DD, for example 2026-11-27."},
    )
    return_address = fields.String(
        load_default=None, validate=validate.Length(max=MAX_RETURN_ADDRESS)
    )
    name = fields.String(load_default=None, validate=validate.Length(max=200))
    language = fields.String(load_default=None, validate=validate.OneOf(("en", "es")))
    batch = fields.String(load_default=None, validate=validate.Length(max=80))

    @validates("received")
    def _not_future(self, value, **_kwargs) -> None:
        if value and value > utcnow().date():
            raise ValidationError("it cannot be in the future.")


def accept_uploads(
    form: dict, uploads: list[tuple[bytes, str]], uploaded_by: str
) -> list[tuple[InboundMessage, bool]]:
    """Validate the form and the files (ValidationError by field), then ingest each scan.
    Returns (inbound row, seen before) per file, in order."""
    errors: dict[str, list[str]] = {}
    try:
        meta = ScanUploadSchema().load({k: v for k, v in form.items() if v not in ("", None)})
    except ValidationError as exc:
        errors.update(exc.messages)
        meta = None
    if not uploads:
        errors["file"] = ["Choose at least one scan to upload."]
    elif len(uploads) > MAX_UPLOAD_FILES:
        errors["file"] = [f"Upload at most {MAX_UPLOAD_FILES} scans at a time."]
    if errors:
        raise ValidationError(errors)
    entry = ManifestEntry(
        file="",
        received=meta["received"],
        return_address=(meta["return_address"] or "").strip() or None,
        name=meta["name"],
        language=meta["language"],
    )
    return [
        ingest(
            data,
            filename or "upload",
            (entry, meta["batch"]),
            source="upload",
            extra={"uploaded_by": uploaded_by},
        )
        for data, filename in uploads
    ]
