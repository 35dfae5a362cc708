"""A small client of SpamAssassin's spamd (the spamc protocol, SPAMC/1.5): one message in,
its score and the rules that fired out.

    SYMBOLS SPAMC/1.5            SPAMD/1.1 0 EX_OK
    Content-length: 1234   ->    Spam: True ; 15.2 / 5.0
    <the message>                <blank line> RULE_A,RULE_B,...

Any failure (spamd not running, a timeout, an answer we cannot read) is `SpamdUnavailable`:
the caller processes the mail unscored rather than losing or holding it.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 783
# spamc's own default: larger messages are not scored (spam is small; attachments are not).
MAX_BYTES = 500 * 1024
_STATUS = re.compile(rb"^SPAMD/\d+\.\d+ +(\d+) +(.*)$")
_SPAM = re.compile(rb"^Spam: *(True|False|Yes|No) *; *(-?[\d.]+) */ *(-?[\d.]+)", re.IGNORECASE)


class SpamdUnavailable(Exception):
    """spamd could not score the message (down, slow, or answering nonsense)."""


@dataclass(frozen=True)
class SpamVerdict:
    score: float
    required: float  # spamd's own threshold, for the record
    rules: tuple[str, ...]


def address(url: str) -> tuple[str, int]:
    """(host, port) from SPAMD_URL: spamd://host[:port] (tcp:// is accepted too)."""
    parts = urlsplit(url)
    if parts.scheme not in ("spamd", "tcp") or not parts.hostname:
        raise ValueError("SPAMD_URL must look like spamd://127.0.0.1:783")
    return parts.hostname, parts.port or DEFAULT_PORT


def check(url: str, raw: bytes, *, timeout: float = 20.0) -> SpamVerdict:
    """Score one message with spamd; SpamdUnavailable on any failure."""
    try:
        host, port = address(url)
    except ValueError as exc:
        raise SpamdUnavailable(str(exc)) from None
    request = b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(raw) + raw
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            size = 0
            while size < 256 * 1024:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except OSError as exc:
        raise SpamdUnavailable(f"spamd at {host}:{port}: {exc.__class__.__name__}") from None
    return parse_answer(b"".join(chunks))


def parse_answer(answer: bytes) -> SpamVerdict:
    head, _, body = answer.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.split(b"\n")
    status = _STATUS.match(lines[0]) if lines else None
    if status is None:
        raise SpamdUnavailable("spamd answered something that is not the spamc protocol")
    if status.group(1) != b"0":
        words = status.group(2).decode("ascii", "replace")[:80]
        raise SpamdUnavailable(f"spamd refused the message ({words})")
    for line in lines[1:]:
        found = _SPAM.match(line)
        if found:
            rules = tuple(
                r.strip() for r in body.decode("ascii", "replace").split(",") if r.strip()
            )
            return SpamVerdict(float(found.group(2)), float(found.group(3)), rules[:60])
    raise SpamdUnavailable("spamd's answer has no Spam: line")
