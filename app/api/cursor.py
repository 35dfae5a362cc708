"""Opaque keyset-pagination cursors."""

from __future__ import annotations

import base64
import json

from marshmallow import ValidationError


def encode(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError):
        raise ValidationError("Not a cursor from this API.", "cursor") from None
    if not isinstance(values, list):
        raise ValidationError("Not a cursor from this API.", "cursor")
    return values
