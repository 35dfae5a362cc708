"""Return paths and Message-IDs that only we can make, so a bounce can prove what it answers.

Every email we send has the envelope sender (Return-Path) `bounces+<delivery id>.<token>@<our
domain>` (VERP) and a Message-ID `<<key>.<token>@<our domain>>`, each token an HMAC of the id
under a secret of ours. A bounce counts only when it comes back to such a return path or quotes
such a Message-ID: it then names the exact delivery that failed, and nobody can forge one for
an address we never wrote to. Pure functions, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

PREFIX = "bounces"
TOKEN_CHARS = 20  # hex: 80 bits; the local part stays well under 64 characters
_CONTEXT = b"redress email bounce tokens v1"


def bounce_secret(config: Mapping) -> bytes:
    """The HMAC key: EMAIL_BOUNCE_SECRET when set, else derived from SECRET_KEY (changing it
    makes bounces of mail sent before the change count for nothing)."""
    key = config.get("EMAIL_BOUNCE_SECRET") or config.get("SECRET_KEY") or ""
    return hmac.new(str(key).encode(), _CONTEXT, hashlib.sha256).digest()


def _token(secret: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:TOKEN_CHARS]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def return_path(secret: bytes, delivery_id: int, domain: str) -> str:
    """The envelope sender for one delivery."""
    return f"{PREFIX}+{delivery_id}.{_token(secret, 'verp', str(delivery_id))}@{domain}"


def is_return_path(address: str, domain: str) -> bool:
    """Shaped like one of our return paths (the token is not checked)."""
    local, _, dom = address.strip().strip("<>").lower().rpartition("@")
    return dom == domain.lower() and local.startswith(f"{PREFIX}+")


def delivery_of(address: str, secret: bytes, domain: str) -> int | None:
    """The delivery id of a return path of ours with a valid token, else None."""
    local, _, dom = address.strip().strip("<>").lower().rpartition("@")
    if dom != domain.lower() or not local.startswith(f"{PREFIX}+"):
        return None
    number, _, token = local[len(PREFIX) + 1 :].partition(".")
    if not number.isdigit() or len(number) > 18 or len(token) != TOKEN_CHARS:
        return None
    if not hmac.compare_digest(token, _token(secret, "verp", str(int(number)))):
        return None
    return int(number)


def message_id(secret: bytes, key: str, domain: str) -> str:
    """Our Message-ID for a message with this (stable, per delivery) key."""
    return f"<{key}.{_token(secret, 'mid', key)}@{domain}>"


def is_signed_message_id(value: str, secret: bytes, domain: str) -> bool:
    inner = value.strip().strip("<>")
    local, _, dom = inner.rpartition("@")
    key, _, token = local.rpartition(".")
    if dom.lower() != domain.lower() or not key or len(token) != TOKEN_CHARS:
        return False
    return hmac.compare_digest(token.lower(), _token(secret, "mid", key))


def found_in(
    data: bytes, secret: bytes, domain: str, limit: int = 50
) -> tuple[list[int], list[str]]:
    """Our return paths and Message-IDs with valid tokens anywhere in a raw message (a bounce
    quotes the original's headers): (delivery ids, Message-IDs). One linear scan each."""
    dom = re.escape(domain.lower().encode())
    text = data.lower()
    ids: list[int] = []
    for match in re.finditer(
        rb"(?<![a-z0-9.+_-])" + PREFIX.encode() + rb"\+\d{1,18}\.[0-9a-f]{20}@" + dom, text
    ):
        found = delivery_of(match.group(0).decode(), secret, domain)
        if found is not None and found not in ids:
            ids.append(found)
            if len(ids) >= limit:
                break
    message_ids: list[str] = []
    for match in re.finditer(rb"<([a-z0-9_.-]{1,120}+)@" + dom + rb">", text):
        value = match.group(0).decode()
        if value not in message_ids and is_signed_message_id(value, secret, domain):
            message_ids.append(value)
            if len(message_ids) >= limit:
                break
    return ids, message_ids
