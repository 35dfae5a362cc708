"""`redress imap poll`: fetch new mail from IMAP_URL once, over TLS.

`IMAP_URL` is `imaps://user:password@host[:993]/MAILBOX[?move=FOLDER]` (or `imap+starttls://`
on port 143). Each message is committed to the inbound store before it is marked seen (or moved
to FOLDER), and the last UID read is remembered per mailbox with its UIDVALIDITY, so a crash at
any point fetches a message again rather than losing it (the store's dedupe key keeps it one).
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from app.common.time import utcnow
from app.email.intake import accept
from app.email.models import MailboxState
from app.extensions import db
from app.jobs import run_ready


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0


class ImapSettings:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("imaps", "imap+starttls"):
            raise ValueError("IMAP_URL must start with imaps:// or imap+starttls:// (TLS only)")
        if not parts.hostname or not parts.username:
            raise ValueError("IMAP_URL needs a user and a host: imaps://user:pass@host/INBOX")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (993 if parts.scheme == "imaps" else 143)
        self.username = unquote(parts.username)
        self.password = unquote(parts.password or "")
        self.mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
        self.move_to = (parse_qs(parts.query).get("move") or [None])[0]

    @property
    def key(self) -> str:
        return f"{self.username}@{self.host}:{self.port}/{self.mailbox}"[:300]

    def connect(self, timeout: float = 30) -> imaplib.IMAP4:
        context = ssl.create_default_context()
        if self.scheme == "imaps":
            client = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=timeout)
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=timeout)
            client.starttls(ssl_context=context)
        client.login(self.username, self.password)
        return client


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(result: tuple, what: str) -> list:
    typ, data = result
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what} failed: {data!r}")
    return data


def poll(url: str, *, limit: int = 500) -> PollResult:
    """Fetch up to `limit` new messages; returns what was done."""
    settings = ImapSettings(url)
    result = PollResult(settings.mailbox)
    client = settings.connect()
    try:
        _check(client.select(_quote(settings.mailbox)), "SELECT")
        validity = int((client.untagged_responses.get("UIDVALIDITY") or [b"0"])[0])
        state = db.session.scalar(
            db.select(MailboxState).where(MailboxState.mailbox == settings.key)
        )
        if state is None:
            state = MailboxState(mailbox=settings.key, uidvalidity=validity, last_uid=0)
            db.session.add(state)
        if state.uidvalidity != validity:  # the server renumbered the mailbox
            state.uidvalidity, state.last_uid = validity, 0
        state.polled_at = utcnow()
        db.session.commit()
        found = _check(client.uid("SEARCH", None, f"UID {state.last_uid + 1}:*"), "SEARCH")
        uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > state.last_uid)
        for uid in uids[:limit]:
            data = _check(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is None:
                continue
            result.fetched += 1
            _row, created = accept(
                raw, "imap", {"uid": uid, "uidvalidity": validity, "mailbox": settings.mailbox}
            )
            result.stored += created
            result.duplicates += not created
            state.last_uid = uid
            db.session.commit()  # stored and remembered: only now may the server forget it
            _done(client, uid, settings.move_to)
            run_ready()
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    return result


def _done(client: imaplib.IMAP4, uid: int, move_to: str | None) -> None:
    if not move_to:
        _check(client.uid("STORE", str(uid), "+FLAGS", r"(\Seen)"), "STORE")
        return
    capabilities = {c.upper() for c in client.capabilities}
    if "MOVE" in capabilities:
        _check(client.uid("MOVE", str(uid), _quote(move_to)), "MOVE")
        return
    _check(client.uid("COPY", str(uid), _quote(move_to)), "COPY")
    _check(client.uid("STORE", str(uid), "+FLAGS", r"(\Deleted \Seen)"), "STORE")
    client.expunge()
