"""Files on cases: stored once by content hash under ATTACHMENT_DIR, described in the database."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app

from app.cases.models import Attachment, Case, Message
from app.extensions import db
from channels.files import safe_filename


def _root() -> Path:
    return Path(current_app.config["ATTACHMENT_DIR"])


def _path(sha256: str) -> Path:
    return _root() / sha256[:2] / sha256[2:4] / sha256


def store(
    case: Case,
    data: bytes,
    filename: str | None,
    content_type: str | None,
    *,
    message: Message | None = None,
    disposition: str = "attachment",
) -> Attachment:
    """Write the bytes (atomically, once per distinct content) and attach them to the case.

    The file is written before the row is committed; a rollback leaves an orphan file that
    the same content would reuse, never a row without its file.
    """
    digest = hashlib.sha256(data).hexdigest()
    path = _path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    content_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    attachment = Attachment(
        filename=safe_filename(filename, content_type),
        content_type=content_type[:150] or "application/octet-stream",
        size=len(data),
        sha256=digest,
        disposition=disposition,
    )
    with db.session.no_autoflush:
        db.session.add(attachment)
        attachment.case = case
        attachment.message = message
    return attachment


def read(attachment: Attachment) -> bytes:
    return _path(attachment.sha256).read_bytes()


def path_of(attachment: Attachment) -> Path:
    return _path(attachment.sha256)
