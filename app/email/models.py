"""Email channel state: mailbox positions for IMAP polling and per-sender message counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import utcnow
from app.common.types import BigId, UTCDateTime
from app.extensions import db


class MailboxState(db.Model):
    """How far `redress imap poll` has read one mailbox. A changed UIDVALIDITY means the
    server renumbered the mailbox, so reading starts again (the inbound store's dedupe key
    keeps messages already stored from being stored twice)."""

    __tablename__ = "email_mailboxes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(300), unique=True)  # user@host/INBOX
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SenderWindow(db.Model):
    """Messages counted from one sender address in one hour, for the per-sender limit that
    stops a flood (a loop with a broken autoresponder, a script) from opening cases."""

    __tablename__ = "email_sender_windows"
    sender: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
