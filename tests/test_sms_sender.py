"""The Twilio sender on its own: the real twilio REST client against the loopback stand-in,
and how Twilio's answers become retryable or permanent failures."""

from __future__ import annotations

import pytest

from channels.senders import OutboundMessage, PermanentFailure, TemporaryFailure
from channels.sms.sender import TwilioSender, classify, describe_error
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PHONE
from tests.twilio_standin import TwilioStandIn


@pytest.fixture
def standin():
    server = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    yield server
    server.close()


def _sender(standin, token=AUTH_TOKEN) -> TwilioSender:
    return TwilioSender(
        ACCOUNT_SID,
        token,
        OUR_NUMBER,
        status_callback="https://complaints.example.gov/webhooks/twilio/status",
        api_base=standin.url,
    )


def _message(body="Your complaint RX-1 is being worked on.") -> OutboundMessage:
    return OutboundMessage(channel="sms", to=PHONE, body=body, key="message-1")


def test_send_creates_a_message_with_a_status_callback(standin):
    result = _sender(standin).send(_message())
    (sent,) = standin.sent
    assert result.state == "sent" and result.provider_ref == sent["_sid"]
    assert sent["To"] == PHONE and sent["From"] == OUR_NUMBER
    assert sent["Body"] == "Your complaint RX-1 is being worked on."
    assert sent["StatusCallback"] == "https://complaints.example.gov/webhooks/twilio/status"


def test_wrong_credentials_are_retried_so_an_operator_can_fix_them(standin):
    with pytest.raises(TemporaryFailure, match="HTTP 401"):
        _sender(standin, token="old-token").send(_message())


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, TemporaryFailure),
        (500, None, TemporaryFailure),
        (503, 20503, TemporaryFailure),
        (400, 30001, TemporaryFailure),  # queue overflow
        (400, 21211, PermanentFailure),
        (400, 21610, PermanentFailure),  # the recipient said STOP
        (400, 21614, PermanentFailure),
        (404, 20404, PermanentFailure),
    ],
)
def test_twilio_answers_become_temporary_or_permanent_failures(standin, status, code, kind):
    body = {"code": code, "message": "refused", "status": status}
    standin.fail_next.append((status, body))
    with pytest.raises(kind):
        _sender(standin).send(_message())
    assert classify(status, code).__class__ is kind


def test_a_text_sms_cannot_carry_is_refused_before_calling_twilio(standin):
    with pytest.raises(PermanentFailure, match="at most 1600"):
        _sender(standin).send(_message("x" * 1601))
    assert standin.sent == []


def test_error_codes_are_named_for_caseworkers():
    assert describe_error("30006") == "Twilio error 30006 (landline or unreachable carrier)"
    assert describe_error(12345) == "Twilio error 12345"
    assert describe_error(None) == "Twilio reported a failure without an error code"
    assert describe_error("huh") == "Twilio error huh"
