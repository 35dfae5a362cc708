"""Shared pieces of the SMS tests: the Twilio stand-in fixture and signed webhook posts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from tests.twilio_standin import TwilioStandIn

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "twilio-test-auth-token"
OUR_NUMBER = "+12025550100"
PHONE = "+12025550143"
_sids = itertools.count(1)


def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


def twilio_standin(app, monkeypatch) -> Iterator[TwilioStandIn]:
    """Twilio configured and pointed at a stand-in on loopback (each SMS test module's
    `twilio` fixture yields from this)."""
    standin = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setitem(app.config, "TWILIO_FROM_NUMBER", OUR_NUMBER)
    monkeypatch.setitem(app.config, "TWILIO_API_BASE", standin.url)
    yield standin
    standin.close()


def sign(app, path: str, fields, token: str = AUTH_TOKEN) -> str:
    url = app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    return RequestValidator(token).compute_signature(url, MultiDict(fields))


def post_signed(client, path: str, fields, *, token: str = AUTH_TOKEN, signature=None):
    """POST a form as Twilio does, signed for the public URL with the account's token."""
    app = client.application
    items = list(fields.items()) if isinstance(fields, dict) else list(fields)
    body = urlencode(items)
    headers = {}
    sig = signature if signature is not None else sign(app, path, items, token)
    if sig:
        headers["X-Twilio-Signature"] = sig
    return client.post(
        path, data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )


def post_raw(client, path: str, raw: bytes):
    """POST a captured form body byte for byte, signed as Twilio would sign it."""
    from urllib.parse import parse_qsl

    items = parse_qsl(raw.decode(), keep_blank_values=True)
    sig = sign(client.application, path, items)
    return client.post(
        path,
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )


def text_us(client, body: str, *, sender: str = PHONE, to: str = OUR_NUMBER, sid=None, **extra):
    """One inbound SMS through the signed webhook; returns (response, reply text or None)."""
    fields = {
        "MessageSid": sid or new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    response = post_signed(client, "/webhooks/twilio/sms", fields)
    return response, reply_of(response)


def reply_of(response) -> str | None:
    """The text of the TwiML <Message>, or None for an empty <Response/>."""
    import xml.etree.ElementTree as ET  # noqa: S405 - our own TwiML answer

    if response.status_code != 200:
        return None
    root = ET.fromstring(response.get_data())  # noqa: S314
    assert root.tag == "Response"
    message = root.find("Message")
    return message.text if message is not None else None
