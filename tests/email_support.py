"""Mail for the email tests: a customer's message, and sending one in as a door does."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage

INTAKE = "complaints@redress.localhost"


def complaint(
    subject: str = "Robocalls every morning",
    body: str = "I get robocalls every morning from a spoofed caller ID.",
    sender: str = "pat@example.org",
    **headers: str,
) -> EmailMessage:
    """A plain-text message from Pat Doe to the intake address (headers as keywords, `_` for
    `-`: In_Reply_To=...)."""
    mail = EmailMessage()
    mail["From"] = f"Pat Doe <{sender}>"
    mail["To"] = INTAKE
    mail["Subject"] = subject
    mail["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2])
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def send_in(raw: bytes):
    """Store a raw message as the file door does, commit, run the jobs; the stored row."""
    from app.email.intake import accept
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.jobs import run_ready

    row, _ = accept(raw, "file")
    db.session.commit()
    run_ready()
    db.session.expire_all()
    return db.session.get(InboundMessage, row.id)


def smtp_send(port: int, raw: bytes, *, mail_from: str, rcpt: str = INTAKE) -> tuple[int, bytes]:
    """One SMTP transaction with our door: the RCPT answer if refused, else the DATA answer."""
    import smtplib

    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("mx.example.net")
        client.mail(mail_from)
        code, reply = client.rcpt(rcpt)
        if code != 250:
            return code, reply
        return client.data(raw)
