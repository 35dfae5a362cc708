"""Outbound SMS through Twilio's Messages API, with a status callback for delivery."""

from __future__ import annotations

import logging

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.senders import OutboundMessage, PermanentFailure, SendResult, TemporaryFailure

# Twilio's longest message body; a longer one is refused (error 21617) rather than cut.
MAX_BODY = 1600
# Twilio error codes worth trying again later; other 4xx answers never change on retry.
TEMPORARY_CODES = frozenset({20429, 20500, 20503, 30001, 30002})
# Names for the codes a caseworker is most likely to see on a case.
ERROR_NAMES = {
    21211: "invalid 'To' phone number",
    21408: "sending to this region is not enabled",
    21610: "the recipient replied STOP (unsubscribed)",
    21612: "the number cannot receive texts from ours",
    21614: "not a mobile number",
    21617: "the message is too long",
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier as spam",
    30008: "unknown error",
    63018: "rate limit exceeded for the channel",
}

# The twilio library logs each request at INFO; ours must not carry phone numbers.
_quiet = logging.getLogger("channels.sms.twilio_http")
_quiet.setLevel(logging.WARNING)


def describe_error(code: int | str | None) -> str:
    """'Twilio error 30006 (landline or unreachable carrier)' for a case's delivery list."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        return f"Twilio error {code}"
    if number is None:
        return "Twilio reported a failure without an error code"
    name = ERROR_NAMES.get(number)
    return f"Twilio error {number}" + (f" ({name})" if name else "")


class TwilioSender:
    """`channels.senders.Sender` for SMS over Twilio's REST API (the official client).

    `api_base` replaces https://api.twilio.com (a regional edge, or a local stand-in in
    tests); `status_callback` is the public URL of our /webhooks/twilio/status.
    """

    channel = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        status_callback: str | None = None,
        api_base: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.from_number = from_number
        self.status_callback = status_callback
        self.client = Client(
            account_sid,
            auth_token,
            http_client=TwilioHttpClient(timeout=timeout, logger=_quiet),
        )
        if api_base:
            self.client.api.base_url = api_base.rstrip("/")

    def send(self, message: OutboundMessage) -> SendResult:
        if len(message.body) > MAX_BODY:
            raise PermanentFailure(
                f"the text is {len(message.body)} characters; SMS carries at most {MAX_BODY}"
            )
        kwargs = {"to": message.to, "from_": self.from_number, "body": message.body}
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            sent = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise classify(exc.status, exc.code) from None
        except (RequestException, TwilioException) as exc:
            raise TemporaryFailure(f"Twilio unreachable: {exc.__class__.__name__}") from None
        return SendResult(state="sent", provider_ref=sent.sid)


def classify(status: int, code: int | None) -> TemporaryFailure | PermanentFailure:
    """Twilio's answer as a failure the outbox understands: rate limits, server errors and
    credential problems (which an operator can fix) are retried; the rest never will go."""
    text = f"{describe_error(code) if code else 'Twilio'}: HTTP {status}"
    if status in (401, 403, 429) or status >= 500 or (code in TEMPORARY_CODES):
        return TemporaryFailure(text)
    return PermanentFailure(text)
