"""File names and types from untrusted senders, made safe to store and to offer for download."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

MAX_FILENAME = 120
_UNSAFE = re.compile(r"[^\w.\- ()+,@]+", re.UNICODE)
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


def safe_filename(
    name: str | None, content_type: str | None = None, fallback: str = "attachment"
) -> str:
    """A file name with no path, no control or shell characters, no leading dots, not a
    Windows device name, at most MAX_FILENAME characters, keeping its extension.

    Without a usable name, `fallback` plus an extension guessed from the content type.
    """
    name = unicodedata.normalize("NFC", name or "")
    # Keep only the last path component, whichever separator the sender's system used.
    name = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    if not stem:
        stem = fallback
        if not ext and content_type:
            guessed = mimetypes.guess_extension(content_type.split(";")[0].strip().lower())
            ext = (guessed or "").lstrip(".")
    ext = ext[:10]
    stem = stem[: MAX_FILENAME - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem
