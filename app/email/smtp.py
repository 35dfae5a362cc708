"""`redress smtp`: the inbound SMTP door (aiosmtpd).

Recipients that are not ours are refused with 550 during RCPT and oversize messages with 552
(SIZE is advertised; the DATA limit is enforced while reading). A message is answered 250 only
after its raw bytes are committed to the inbound store; if the database is down the answer is
451 and the sending server tries again later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask

from app.extensions import db

log = logging.getLogger(__name__)


class IntakeHandler:
    """aiosmtpd handler: check recipients, store the message, then run (or queue) its job."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            from app.email.intake import own_addresses

            self.accepted = set(own_addresses())

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options
    ) -> str:
        if address.strip().lower() not in self.accepted and not self._return_path(address):
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def _return_path(self, address: str) -> bool:
        """One of our bounce addresses with a valid token (a forged one is refused here)."""
        from app.email.bounces import valid_return_path

        with self.app.app_context():
            return valid_return_path(address)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "remote_addr": session.peer[0] if session.peer else None,
            "helo": session.host_name,
        }
        loop = asyncio.get_running_loop()
        try:
            inbound_id = await loop.run_in_executor(None, self._store, bytes(raw), meta)
        except Exception:  # the database is down: the sender keeps the message and retries
            log.exception("could not store an inbound email")
            return "451 4.3.0 Temporary failure storing the message; try again later"
        return f"250 2.0.0 OK: stored as {inbound_id}"

    def _store(self, raw: bytes, meta: dict) -> int:
        from app.email.intake import accept
        from app.jobs import run_ready

        with self.app.app_context():
            try:
                row, _ = accept(raw, "smtp", meta)
                inbound_id = row.id
                db.session.commit()
            except Exception:
                db.session.rollback()
                db.session.remove()
                raise
            try:
                run_ready()  # in-process jobs (no Redis): processed now; the 250 is already safe
            except Exception:  # processing failures are recorded on the row, never the SMTP reply
                log.exception("inbound email job failed to run", extra={"inbound_id": inbound_id})
            db.session.remove()
            return inbound_id


class SmtpDoor:
    """The SMTP server on its own event loop thread; port 0 picks a free port."""

    def __init__(
        self, app: Flask, host: str = "127.0.0.1", port: int = 2525, *, max_bytes: int | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.max_bytes = max_bytes or app.config.get("EMAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
        self.handler = IntakeHandler(app)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server = None

    def _factory(self) -> SMTP:
        return SMTP(
            self.handler,
            data_size_limit=self.max_bytes,
            hostname=self.app.config.get("SMTP_HOSTNAME") or "redress",
            ident="Redress intake",
        )

    def start(self) -> int:
        """Listen, and return the port actually bound."""
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._factory, host=self.host, port=self.port)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="redress-smtp", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SMTP server did not start")
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._server = None
