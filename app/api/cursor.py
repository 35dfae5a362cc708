"""Opaque keyset-pagination cursors, signed so that only cursors this API issued decode.

A cursor carries the last row's sort values; the signature (HMAC with SECRET_KEY, over the
values and the list they page) means a forged or edited cursor, or one from another list or
sort order, is refused with 422 instead of reaching a query with values of the wrong type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from flask import current_app
from marshmallow import ValidationError

_MAC_BYTES = 12
MAX_CURSOR = 512
NOT_OURS = "Not a cursor from this API."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _mac(kind: str, payload: bytes) -> bytes:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, kind.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(values: list, kind: str = "") -> str:
    payload = json.dumps(values, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(kind, payload))}"


def decode(cursor: str, kind: str = "") -> list:
    """The values of a cursor issued for `kind`, or ValidationError (422)."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        data, _, mac = cursor.partition(".")
        payload = _unb64(data)
        if not hmac.compare_digest(_unb64(mac), _mac(kind, payload)):
            raise ValueError
        values = json.loads(payload)
    except (ValueError, UnicodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        raise ValidationError(NOT_OURS, "cursor") from None
    if not isinstance(values, list):
        raise ValidationError(NOT_OURS, "cursor")
    return values
