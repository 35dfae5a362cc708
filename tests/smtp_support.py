"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests of
mail we send. Fixtures `smtp_sink` and `counting_sink` are in conftest.py."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def smtp_server():
    """An SMTP server on loopback: (url, messages received, EHLO greetings = sessions)."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received, sessions = [], []

    class Sink(Message):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
            sessions.append(hostname)
            session.host_name = hostname
            return responses

        def handle_message(self, message):
            received.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", received, sessions
    finally:
        controller.stop()
