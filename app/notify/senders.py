"""Which sender delivers each outbound channel, from configuration."""

from __future__ import annotations

from flask import current_app

from channels.email.verp import bounce_secret
from channels.senders import RecordingSender, Sender, SmtpSender

_extra: dict[str, Sender] = {}


def register(sender: Sender) -> None:
    """Let a channel adapter (Twilio SMS, printed letters) take over its channel."""
    _extra[sender.channel] = sender


def sender_for(channel: str) -> Sender:
    if channel in _extra:
        return _extra[channel]
    config = current_app.config
    if channel == "mail":
        # Letters need no outside provider: they are rendered into the mailroom's print spool.
        from app.mailroom.letters import sender

        return sender()
    if channel == "sms":
        # Twilio when TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER are set.
        from app.sms.service import configured_sender

        twilio = configured_sender()
        if twilio is not None:
            return twilio
    if channel == "email" and config.get("SMTP_URL"):
        return SmtpSender(
            config["SMTP_URL"], config["INTAKE_EMAIL_ADDRESS"], secret=bounce_secret(config)
        )
    return RecordingSender(channel)
