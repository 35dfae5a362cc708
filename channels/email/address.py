"""Who an email is from: the addr-spec of the From header, read in one linear pass.

The sender is the address between the angle brackets (or the bare address), never anything
in the display name: `=?utf-8?q?victim=40example.org?= <attacker@evil.example>` is from the
attacker, and so is `alice@example.com <bob@example.com>` from bob. Encoded-words are decoded
only in the display name, after the address has been taken, so they can never become it.
Each character is looked at once, whatever the input, so a huge header costs linear time.
"""

from __future__ import annotations

from dataclasses import dataclass

# A From header longer than this is not a person's address; RFC 5322 lines stop at 998.
MAX_FROM_CHARS = 2000
# Cheap shape checks for what we take as an address (the contact rules validate it fully).
MAX_ADDRESS_CHARS = 320


@dataclass(frozen=True)
class Mailbox:
    address: str | None  # the addr-spec, None when there is no single usable one
    display_name: str | None  # raw (still RFC 2047-encoded) display name, or a comment
    problem: str | None = None  # why there is no address, in words an operator can act on


def _plausible(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    return (
        bool(at and local and domain)
        and len(addr) <= MAX_ADDRESS_CHARS
        and not any(ch.isspace() for ch in addr)
        and "<" not in addr
        and ">" not in addr
    )


def first_mailbox(value: str) -> Mailbox:
    """The first mailbox of an address header, as (addr-spec, display name).

    Quoted strings, comments (nested) and backslash escapes are honoured, so an `@` or `<`
    inside a display name is only ever part of the name. A header with two angle-addrs in one
    mailbox, or a bare text with several addresses, has no single sender: None, with why.
    """
    if len(value) > MAX_FROM_CHARS:
        return Mailbox(None, None, f"the address header is {len(value):,} characters long")
    angles: list[str] = []
    bare: list[str] = []  # text outside quotes, comments and angle brackets
    name: list[str] = []  # the display name as written (quoted strings unquoted)
    comment_text: list[str] = []
    angle: list[str] | None = None
    quoted = False
    depth = 0  # comment nesting
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
            (angle if angle is not None else comment_text if depth else name).append(ch)
            continue
        if ch == "\\" and (quoted or depth):
            escaped = True
            continue
        if quoted:
            if ch == '"':
                quoted = False
                if angle is not None:
                    angle.append(ch)
            else:
                (angle if angle is not None else name).append(ch)
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            else:
                comment_text.append(ch)
            continue
        if ch == '"':
            quoted = True
            if angle is not None:
                angle.append(ch)
            continue
        if ch == "(":
            depth = 1
            continue
        if angle is not None:
            if ch == ">":
                angles.append("".join(angle))
                angle = None
            else:
                angle.append(ch)
            continue
        if ch == "<":
            angle = []
            continue
        if ch == ",":
            if angles or "".join(bare).strip():
                break  # the first mailbox is complete; the rest are other mailboxes
            continue
        bare.append(ch)
        name.append(ch)
    if angle is not None:  # "Pat <pat@example.org" with the bracket never closed
        angles.append("".join(angle))
    display = " ".join("".join(name).split()) or None
    comment = " ".join("".join(comment_text).split()) or None
    if len(angles) > 1:
        return Mailbox(None, display, "the From header names more than one address")
    if angles:
        addr = angles[0].strip()
        if ":" in addr and addr.startswith("@"):  # an obsolete source route: @a,@b:user@c
            addr = addr.rpartition(":")[2]
        if '"' not in addr:
            addr = "".join(addr.split())  # folding whitespace inside the brackets
        if _plausible(addr):
            return Mailbox(addr, display, None)
        return Mailbox(None, display, "the address in angle brackets is not an email address")
    words = "".join(bare).split()
    with_at = [w for w in words if "@" in w]
    if with_at and _plausible(with_at[0].strip(".;:")):
        # "pat@example.org", "Pat Doe pat@example.org", or a list without commas (sloppy; the
        # first is the author, as with a comma-separated list)
        return Mailbox(with_at[0].strip(".;:"), comment, None)
    return Mailbox(None, display or comment, "the From header holds no email address")


def all_addresses(value: str, limit: int = 100) -> list[str]:
    """Every addr-spec in an address list (To, Cc), first `limit` of them, in one pass each."""
    found: list[str] = []
    rest = value[: MAX_FROM_CHARS * 50]
    # Split on top-level commas with the same tokenizer: each mailbox is parsed on its own.
    for chunk in _top_level(rest):
        box = first_mailbox(chunk) if len(chunk) <= MAX_FROM_CHARS else None
        if box is not None and box.address:
            found.append(box.address)
            if len(found) >= limit:
                break
    return found


def _top_level(value: str) -> list[str]:
    """An address list cut at its top-level commas (not those in quotes, comments or <>)."""
    chunks: list[str] = []
    start = 0
    quoted = escaped = False
    depth = 0
    angle = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth = 1
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "," and not angle:
            chunks.append(value[start:i])
            start = i + 1
    chunks.append(value[start:])
    return chunks
