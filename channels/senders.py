"""Outbound senders: one small interface per channel, implemented by each channel adapter.

A sender gets one message and either returns a SendResult or raises: TemporaryFailure
(try again later) or PermanentFailure (it will never go; say why). Senders know nothing of
the database; the outbox decides what to send and records what happened.
"""

from __future__ import annotations

import io
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from email import charset as _charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid
from typing import Protocol
from urllib.parse import unquote, urlsplit

from channels.email import verp
from channels.email.html import text_to_html

# Bodies in UTF-8, quoted-printable: readable as text where the mail is mostly ASCII.
_UTF8_QP = _charset.Charset("utf-8")
_UTF8_QP.body_encoding = _charset.QP


class _Compat32(Compat32):
    """The classic policy, minus the folding machinery for what needs none: a short ASCII
    header on one line is written as it is (what Header.encode would produce, at a tenth
    of the cost); anything longer or non-ASCII is folded as usual. `fold_binary` is the
    policy API's documented hook for this (the generator calls it for every header)."""

    def fold_binary(self, name, value):
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= self.max_line_length
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Compat32()


def _header(value: str) -> str | Header:
    """An ASCII header as it is; anything else RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8")


@dataclass(frozen=True)
class OutboundMessage:
    channel: str  # email | sms | mail
    to: str
    body: str
    subject: str | None = None
    # Stable per outbox row: lets a provider or the recipient spot a retried duplicate.
    key: str = ""
    reference: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Who it is from, in words: the agency's name (an email display name, a letterhead).
    sender_name: str | None = None
    # Who it is to, in words (the first line of a letter's envelope window).
    recipient_name: str | None = None
    # The outbox row: an email's return path names it, so its bounce names it too.
    delivery_id: int | None = None


@dataclass(frozen=True)
class SendResult:
    state: str  # "sent" (handed to a provider) or "recorded" (no provider configured)
    provider_ref: str | None = None


class TemporaryFailure(Exception):
    """The provider could not take it now (connection refused, 4xx SMTP, rate limit)."""


class PermanentFailure(Exception):
    """The message can never be delivered as addressed (bad address, 5xx SMTP)."""


class Sender(Protocol):
    channel: str

    def send(self, message: OutboundMessage) -> SendResult: ...


class RecordingSender:
    """For a channel with no provider configured: keeps what would be sent (on the case)
    instead of failing, as the outward contract promises."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(state="recorded", provider_ref=None)


class SmtpSender:
    """Email through an SMTP relay named by a URL: smtp://user:pass@host:port, smtps://...,
    or smtp+starttls://...; the Message-ID derives from the outbox key, so a retried send
    carries the same id and mail programs collapse the duplicate. With a bounce `secret`, the
    Message-ID and the envelope sender (a VERP return path per delivery) carry HMAC tokens,
    so only a real bounce of this very message can name it (channels.email.verp)."""

    channel = "email"

    def __init__(
        self,
        url: str,
        from_address: str,
        *,
        timeout: float = 10.0,
        secret: bytes | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError("SMTP_URL must start with smtp://, smtps:// or smtp+starttls://")
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.from_address = from_address
        self.domain = verp.domain_of(from_address) or "redress.localhost"
        self.secret = secret
        self.timeout = timeout
        self._session: smtplib.SMTP | None = None
        self._keep_open = False

    def __enter__(self) -> SmtpSender:
        """Keep one SMTP session open for the messages sent inside the `with` block."""
        self._keep_open = True
        return self

    def __exit__(self, *_exc) -> None:
        self._keep_open = False
        self._close()

    def _close(self) -> None:
        if self._session is not None:
            try:
                self._session.quit()
            except (OSError, smtplib.SMTPException):
                self._session.close()
            self._session = None

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def return_path(self, message: OutboundMessage) -> str:
        """The envelope sender: this delivery's own bounce address, when we can sign one."""
        if self.secret and message.delivery_id is not None:
            return verp.return_path(self.secret, message.delivery_id, self.domain)
        return self.from_address

    def _transmit(self, mail: Message, recipient: str, envelope_from: str) -> None:
        if not (envelope_from + recipient).isascii():
            # An internationalized address needs SMTPUTF8, which send_message negotiates.
            def deliver(client: smtplib.SMTP) -> None:
                client.send_message(mail, envelope_from, [recipient])
        else:
            # Our own envelope and one serialization: send_message would copy the message and
            # parse its address headers again for what we already know.
            data = io.BytesIO()
            BytesGenerator(data, policy=mail.policy).flatten(mail, linesep="\r\n")

            def deliver(client: smtplib.SMTP) -> None:
                client.sendmail(envelope_from, [recipient], data.getvalue())

        if not self._keep_open:
            with self._connect() as client:
                deliver(client)
            return
        if self._session is None:
            self._session = self._connect()
        try:
            deliver(self._session)
        except smtplib.SMTPServerDisconnected:  # the relay closed an idle session: once more
            self._session = self._connect()
            deliver(self._session)

    def build(self, message: OutboundMessage) -> Message:
        """Plain text with an HTML twin. Built with the classic MIME classes: the modern
        header registry costs ~4 ms a message in parsing what we just wrote ourselves."""
        # A boundary of our own: "=_" never occurs in quoted-printable parts, so the generator
        # need not search the parts for it (a regular expression compiled per message).
        mail = MIMEMultipart(
            "alternative", boundary=f"=_redress_{secrets.token_hex(12)}", policy=_POLICY
        )
        mail.attach(MIMEText(message.body, "plain", _UTF8_QP, policy=_POLICY))
        mail.attach(MIMEText(text_to_html(message.body), "html", _UTF8_QP, policy=_POLICY))
        # The agency's name as the display name: people see who is writing to them.
        mail["From"] = formataddr((message.sender_name, self.from_address), charset="utf-8")
        mail["To"] = message.to
        mail["Subject"] = _header(message.subject or "")
        mail["Date"] = formatdate(localtime=False)
        if message.key and self.secret:
            mail["Message-ID"] = verp.message_id(self.secret, message.key, self.domain)
        elif message.key:
            mail["Message-ID"] = f"<{message.key}@{self.domain}>"
        else:
            mail["Message-ID"] = make_msgid(domain=self.domain)
        # RFC 3834: an acknowledgment answers the customer's message automatically, so mail
        # programs and autoresponders must not answer it in turn.
        mail["Auto-Submitted"] = "auto-replied" if message.key.startswith("ack") else "no"
        for name, value in message.headers.items():  # threading headers from the app
            del mail[name]
            mail[name] = _header(value)
        return mail

    def send(self, message: OutboundMessage) -> SendResult:
        mail = self.build(message)
        try:
            self._transmit(mail, message.to, self.return_path(message))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused ({codes[0]})") from None
            raise TemporaryFailure(f"recipient deferred ({codes[0]})") from None
        except smtplib.SMTPResponseException as exc:
            self._close()  # the session's state is unknown: start the next one afresh
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"SMTP {exc.smtp_code}") from None
            raise TemporaryFailure(f"SMTP {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._close()
            raise TemporaryFailure(f"SMTP relay unreachable: {exc.__class__.__name__}") from None
        return SendResult(state="sent", provider_ref=mail["Message-ID"])
