"""Parse one raw RFC 5322 message into what the email channel needs: headers, the best text
body, attachments. Real mail is messy, so every step has a fallback and nothing raises except
`Unreadable` for input that is not an email at all (or is too large to take).

Every step is linear in the input and capped: the header block and each header value have a
size limit, the MIME tree a part limit, and the parser is the standard library's classic one
(the modern header registry re-parses structured headers at tens of microseconds a byte)."""

from __future__ import annotations

import contextlib
import email
import mailbox
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message

from channels.email.address import all_addresses, first_mailbox
from channels.email.auth import dmarc_result
from channels.email.html import html_to_text
from channels.files import safe_filename

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_BODY_CHARS = 100_000
# The header block (Postfix's own header_size_limit is 100 KiB) and any one header value that
# is decoded; MIME parts read per message.
MAX_HEADER_BYTES = 128 * 1024
MAX_HEADER_CHARS = 16 * 1024
MAX_PARTS = 500

# Charset labels seen in the wild that Python does not know, or that are mislabels.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    # Mail labelled Latin-1 is very often Windows-1252 (curly quotes, euro sign).
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")


class Unreadable(ValueError):
    """Not an email we can use at all (empty, no headers, binary junk, over the size limit)."""


@dataclass
class Part:
    """A file sent with the message: an attachment, an inline image, a TNEF container."""

    filename: str
    content_type: str
    data: bytes
    disposition: str = "attachment"  # attachment | inline | tnef
    content_id: str | None = None


@dataclass
class ParsedEmail:
    subject: str
    from_address: str | None
    from_name: str | None
    to: list[str]
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    headers: dict[str, str]  # lower-case name -> first value, decoded
    content_type: str
    text: str  # the best text body, whole (quoted history included)
    html: bool  # whether that text came from an HTML part
    attachments: list[Part] = field(default_factory=list)
    # Text of machine-readable delivery reports (message/delivery-status) and of any
    # returned original message headers, for bounce detection.
    delivery_status: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was dropped and why
    language: str | None = None
    # Why there is no from_address, when there is none (an operator reads it).
    from_problem: str | None = None
    # Authentication-Results values, topmost first, and the DMARC verdict of the topmost one
    # from a trusted authserv-id ("pass", "fail", ...; None: no trusted verdict).
    authentication_results: list[str] = field(default_factory=list)
    dmarc: str | None = None

    @property
    def dmarc_failed(self) -> bool:
        """Our relay says the From domain did not authorize this message: the From address
        proves nothing about who wrote it."""
        return self.dmarc == "fail"

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, nearest first."""
        ids = list(self.in_reply_to)
        for ref in reversed(self.references):
            if ref not in ids:
                ids.append(ref)
        return ids


def normalize_newlines(raw: bytes) -> bytes:
    """CRLF and bare CR (old Mac mail) to LF; drop an mbox "From " separator line."""
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data.startswith(b"From ") and b"\n" in data:
        first, _, rest = data.partition(b"\n")
        if b":" not in first.split(b" ", 2)[1]:
            data = rest
    return data


def mbox_messages(path) -> list[bytes]:
    """The messages of a Unix mbox file, in order, each without its "From " line (none for an
    empty file). The standard library's `mailbox` does the splitting."""
    box = mailbox.mbox(path, create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared, undeclared or mislabeled charset; never raises."""
    label = (charset or "").strip().strip('"').lower()
    candidates = []
    if label and label not in ("unknown-8bit", "x-unknown", "unknown", "8bit", "default"):
        candidates.append(_CHARSET_ALIASES.get(label, label))
    if b"\x1b$B" in data or b"\x1b$@" in data or b"\x1b(J" in data:
        candidates.insert(0, "iso-2022-jp")
    candidates += ["utf-8", "cp1252"]
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _raw_headers(msg: Message) -> list[tuple[str, str]]:
    items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
    return [(str(k), str(v)) for k, v in items]


def _decode_header(value: str) -> str:
    """A raw header value as text, RFC 2047 decoded, whatever is wrong with it."""
    if "=?" in value:
        with contextlib.suppress(Exception):  # unknown charset or broken encoded word
            value = str(make_header(decode_header(value)))
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in value):  # undecodable 8-bit header bytes
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return " ".join(value.split())


_MSGID = re.compile(r"<[^<>\s]+>")


def _ids(value: str) -> list[str]:
    found = _MSGID.findall(value or "")
    if not found and value.strip() and "@" in value and " " not in value.strip():
        found = [f"<{value.strip().strip('<>')}>"]
    return found[:50]


def _unfold(value: str) -> str:
    """A raw header value on one line; 8-bit bytes (RFC 6532 UTF-8 headers) read as text."""
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in value):
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value.replace("\r", "").replace("\n", "")


def _raw_first(msg: Message, name: str) -> str:
    """The first raw value of a header, unfolded and capped (never decoded)."""
    for key, value in _raw_headers(msg):
        if key.lower() == name:
            return _unfold(value)
    return ""


def _parse_bytes(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=policy.compat32)


def parse_message(
    raw: bytes,
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    trusted_authserv_ids: tuple[str, ...] = (),
) -> ParsedEmail:
    """Parse raw bytes; raises `Unreadable` only for input that is not usable mail.

    `trusted_authserv_ids`: the authserv-ids of our own relay, whose Authentication-Results
    header gives the DMARC verdict (`dmarc`)."""
    if len(raw) > max_message_bytes:
        raise Unreadable(f"message is {len(raw):,} bytes; the limit is {max_message_bytes:,} bytes")
    data = normalize_newlines(raw)
    if not data.strip():
        raise Unreadable("empty message")
    head, sep, rest = data.partition(b"\n\n")
    if b"\x00" in head:  # a stray NUL in a header (seen from real mail servers): drop it
        head = head.replace(b"\x00", b"")
        data = head + sep + rest
    if len(head) > MAX_HEADER_BYTES:
        raise Unreadable(
            f"the header block is {len(head):,} bytes; the limit is {MAX_HEADER_BYTES:,} bytes"
        )
    if not re.search(rb"(?m)^[A-Za-z0-9][A-Za-z0-9_-]*[ \t]*:", head):
        raise Unreadable("no email headers: this is not an RFC 5322 message")
    msg = _parse_bytes(data)
    headers: dict[str, str] = {}
    cut: list[str] = []
    for key, value in _raw_headers(msg):
        name = key.lower()
        if name in headers:
            continue
        if len(value) > MAX_HEADER_CHARS:
            cut.append(name)
            value = value[:MAX_HEADER_CHARS]
        headers[name] = _decode_header(value)
    if not any(h in headers for h in ("from", "subject", "to", "date", "message-id", "sender")):
        raise Unreadable("no From, To, Subject, Date or Message-ID header")
    sender = first_mailbox(_raw_first(msg, "from") or _raw_first(msg, "sender"))
    to = all_addresses(_raw_first(msg, "to")) + all_addresses(_raw_first(msg, "cc"))
    results = [
        _unfold(v)[:MAX_HEADER_CHARS]
        for k, v in _raw_headers(msg)
        if k.lower() == "authentication-results"
    ][:20]
    from_name = _decode_header(sender.display_name[:600]) if sender.display_name else None
    if from_name and "@" in from_name:
        from_name = None  # a name that looks like an address is how spoofing looks to staff
    parsed = ParsedEmail(
        subject=headers.get("subject", "")[:300],
        from_address=sender.address,
        from_name=from_name[:200] if from_name else None,
        to=to[:100],
        message_id=(_ids(headers.get("message-id", "")) or [None])[0],
        in_reply_to=_ids(headers.get("in-reply-to", "")),
        references=_ids(headers.get("references", "")),
        headers=headers,
        content_type=_content_type(msg),
        text="",
        html=False,
        language=(headers.get("content-language") or "").split(",")[0].strip().lower() or None,
        from_problem=sender.problem,
        authentication_results=results,
        dmarc=dmarc_result(results, trusted_authserv_ids),
    )
    if cut:
        parsed.notes.append(
            f"header(s) {', '.join(cut[:5])} longer than {MAX_HEADER_CHARS:,} characters were cut"
        )
    _walk(msg, parsed, max_attachment_bytes)
    return parsed


def sender_and_subject(raw: bytes) -> tuple[str | None, str]:
    """Only the From address and the Subject, from the header block (cheap: for the operator
    list's summary, before the message is parsed for real)."""
    head = normalize_newlines(raw[:MAX_HEADER_BYTES]).partition(b"\n\n")[0].replace(b"\x00", b"")
    msg = email.message_from_bytes(head + b"\n\n", policy=policy.compat32)
    sender = first_mailbox(_raw_first(msg, "from") or _raw_first(msg, "sender"))
    subject = _raw_first(msg, "subject")[:2000]
    return sender.address, _decode_header(subject)[:300]


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - broken RFC 2231 parameters
        name = None
    if name is None:
        try:
            name = part.get_param("name")
        except Exception:  # noqa: BLE001
            name = None
        if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
            name = email.utils.collapse_rfc2231_value(name)
    if name and "=?" in name:
        with contextlib.suppress(Exception):  # unknown charset or broken encoded word
            name = str(make_header(decode_header(name)))
    return name or None


def _disposition(part: Message) -> str:
    try:
        value = part.get_content_disposition()
    except Exception:  # noqa: BLE001
        value = None
    return (value or "").lower()


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken base64 or quoted-printable
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # noqa: BLE001
        return None


def _walk(msg: Message, parsed: ParsedEmail, max_attachment: int) -> None:
    plain: list[str] = []
    html: list[str] = []
    visited = 0

    def visit(part: Message, depth: int) -> None:
        nonlocal visited
        visited += 1
        if visited > MAX_PARTS:
            if visited == MAX_PARTS + 1:
                parsed.notes.append(f"more than {MAX_PARTS} MIME parts: the rest were not read")
            return
        ctype = _content_type(part)
        if depth > 20:
            parsed.notes.append("MIME nesting deeper than 20 levels was not read")
            return
        if ctype == "message/delivery-status":
            parsed.delivery_status.extend(_status_blocks(part))
            return
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/global"):
            _attach(part, parsed, max_attachment, ctype, default_name="message.eml")
            return
        if ctype.startswith("multipart/") and not part.is_multipart():
            # A multipart without a usable boundary: its body is all there is to read.
            parsed.notes.append(f"a {ctype} part without a usable boundary was read as text")
            plain.append(decode_bytes(_payload(part), _charset(part)))
            return
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                return
            for child in children:
                if isinstance(child, Message):
                    visit(child, depth + 1)
            return
        disposition = _disposition(part)
        filename = _filename(part)
        is_text = ctype in ("text/plain", "text/html") or (
            ctype.startswith("text/") and ctype not in ("text/calendar", "text/csv", "text/x-vcard")
        )
        if is_text and disposition != "attachment" and not filename:
            text = decode_bytes(_payload(part), _charset(part))
            (html if ctype == "text/html" else plain).append(text)
            return
        _attach(part, parsed, max_attachment, ctype)

    visit(msg, 0)
    text_plain = "\n\n".join(t.strip("\n") for t in plain if t.strip())
    if text_plain.strip():
        parsed.text = text_plain
    elif html:
        parsed.text = html_to_text("\n".join(html))
        parsed.html = True
    if len(parsed.text) > MAX_BODY_CHARS:
        parsed.notes.append(f"text longer than {MAX_BODY_CHARS:,} characters was cut")
        parsed.text = parsed.text[:MAX_BODY_CHARS]
    parsed.text = parsed.text.replace("\x00", "")


def _attach(
    part: Message, parsed: ParsedEmail, limit: int, ctype: str, default_name: str | None = None
) -> None:
    if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            data = payload[0].as_bytes(policy=policy.compat32)
        else:
            data = _payload(part)
    else:
        data = _payload(part)
    name = _filename(part) or default_name
    if ctype in _TNEF_TYPES or (name or "").lower() == "winmail.dat":
        disposition, ctype = "tnef", "application/ms-tnef"
    elif ctype.startswith("image/") and (
        _disposition(part) == "inline" or (part.get("content-id") and not name)
    ):
        disposition = "inline"
    else:
        disposition = "attachment"
    if not data:
        return
    label = safe_filename(name, ctype)
    if len(data) > limit:
        parsed.notes.append(
            f"attachment {label} ({len(data):,} bytes) is over the {limit:,}-byte limit"
        )
        return
    if len(parsed.attachments) >= MAX_ATTACHMENTS:
        parsed.notes.append(f"more than {MAX_ATTACHMENTS} attachments: {label} was not kept")
        return
    cid = (part.get("content-id") or "").strip().strip("<>") or None
    parsed.attachments.append(Part(label, ctype, data, disposition, cid))


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient fields of an RFC 3464 report, as dicts."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): str(v).strip() for k, v in block.items()})
        if blocks:
            return blocks
    text = decode_bytes(_payload(part), None) if not isinstance(payload, list) else ""
    for chunk in re.split(r"\n\s*\n", text):
        fields = {}
        for line in chunk.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks
