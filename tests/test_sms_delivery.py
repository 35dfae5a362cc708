"""Texts we send: caseworker replies go out through Twilio's Messages API (the real client,
pointed at a stand-in), status callbacks show delivery or the error on the case, STOP is
respected by every later outbound message, floods are limited, MMS photos are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.cases.models import Case
from app.cases.service import get_case
from app.common.time import utcnow
from app.customers.models import ContactPoint
from app.extensions import db
from app.inbound.models import InboundMessage
from app.notify import delivery
from app.notify.models import OutboxItem
from app.notify.service import notify_customer
from app.sms.models import SmsConversation
from channels.reference import find_references
from tests.helpers import act
from tests.sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PHONE,
    new_sid,
    post_signed,
    text_us,
    twilio_standin,
)


@pytest.fixture
def twilio(app, monkeypatch):
    yield from twilio_standin(app, monkeypatch)


COMPLAINT = "My bank charged me an overdraft fee twice for the same transaction."
CASEWORKER = "caseworker@cfpb.example"


def _open(client) -> Case:
    _, reply = text_us(client, COMPLAINT)
    (reference,) = find_references(reply)
    return get_case(reference)


def _reply(client, staff_token, case, body="We have asked the bank for its records."):
    act(client, staff_token(CASEWORKER), case.reference, action="reply", body=body)
    db.session.expire_all()
    return db.session.scalars(db.select(OutboxItem).order_by(OutboxItem.id.desc())).first()


def _deliveries(client, staff_token, case) -> list[dict]:
    full = client.get(f"/api/v1/cases/{case.reference}", headers=staff_token(CASEWORKER))
    return [d for m in full.get_json()["messages"] for d in m["delivery"]]


def _status(client, sid, status, **extra):
    fields = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, **extra}
    return post_signed(client, "/webhooks/twilio/status", fields)


def _phone_point() -> ContactPoint:
    db.session.expire_all()
    return db.session.scalar(db.select(ContactPoint).where(ContactPoint.kind == "phone"))


# --- outbound through Twilio ----------------------------------------------------------------


def test_caseworker_reply_goes_out_through_twilio_with_a_status_callback(
    client, twilio, staff_token
):
    case = _open(client)
    item = _reply(client, staff_token, case)
    (sent,) = twilio.sent
    assert sent["To"] == PHONE and sent["From"] == OUR_NUMBER
    assert "We have asked the bank for its records." in sent["Body"]
    assert case.reference in sent["Body"]
    assert sent["StatusCallback"] == "http://redress.test/webhooks/twilio/status"
    assert (item.channel, item.state, item.provider_ref) == ("sms", "sent", sent["_sid"])
    assert _status(client, sent["_sid"], "sent").status_code == 204
    assert _status(client, sent["_sid"], "delivered").status_code == 204
    assert [d["state"] for d in _deliveries(client, staff_token, case)] == ["delivered"]


def test_delivery_failure_callback_shows_twilios_error_code_on_the_case(
    client, twilio, staff_token
):
    case = _open(client)
    item = _reply(client, staff_token, case)
    response = _status(client, item.provider_ref, "undelivered", ErrorCode="30006")
    assert response.status_code == 204
    (shown,) = _deliveries(client, staff_token, case)
    assert shown["state"] == "failed"
    assert shown["error"] == "undelivered: Twilio error 30006 (landline or unreachable carrier)"
    db.session.expire_all()
    case = get_case(case.reference)
    assert any(e.kind == "delivery_failed" and "30006" in e.detail for e in case.events)
    assert case.has_flag("contact_undeliverable")
    assert _phone_point().status == "undeliverable"
    # A late "delivered" for the same message does not undo the failure.
    _status(client, item.provider_ref, "delivered")
    assert _deliveries(client, staff_token, case)[0]["state"] == "failed"


def test_carrier_stop_error_opts_the_number_out(client, twilio, staff_token):
    case = _open(client)
    item = _reply(client, staff_token, case)
    _status(client, item.provider_ref, "failed", ErrorCode="21610")
    assert _phone_point().status == "opted_out"
    assert get_case(case.reference).has_flag("sms_opted_out")


def test_twilio_server_error_is_retried_by_the_outbox_then_sent(client, twilio, staff_token):
    case = _open(client)
    twilio.fail_next.append((503, {"code": 20503, "message": "unavailable", "status": 503}))
    item = _reply(client, staff_token, case)
    assert item.state == "retrying" and "HTTP 503" in item.last_error
    assert _deliveries(client, staff_token, case)[0]["state"] == "retrying"
    later = item.next_attempt_at + timedelta(seconds=1)
    assert delivery.deliver(item.id, now=later) == "sent"
    assert [s.get("_refused") for s in twilio.sent] == [503, None]


def test_twilio_refusing_the_number_fails_at_once_and_shows_why(client, twilio, staff_token):
    case = _open(client)
    twilio.fail_next.append((400, {"code": 21211, "message": "bad To", "status": 400}))
    item = _reply(client, staff_token, case)
    assert item.state == "failed"
    (shown,) = _deliveries(client, staff_token, case)
    assert shown["error"] == "Twilio error 21211 (invalid 'To' phone number): HTTP 400"


def test_twilio_unreachable_is_a_temporary_failure(client, twilio, staff_token, app, monkeypatch):
    case = _open(client)
    monkeypatch.setitem(app.config, "TWILIO_API_BASE", "http://127.0.0.1:9")  # nothing listens
    item = _reply(client, staff_token, case)
    assert item.state == "retrying" and "Twilio unreachable" in item.last_error


def test_without_twilio_credentials_sms_is_recorded_on_the_case(client, twilio, staff_token, app):
    case = _open(client)
    app.config["TWILIO_FROM_NUMBER"] = None  # restored by the fixture's monkeypatch
    item = _reply(client, staff_token, case)
    assert item.state == "recorded" and twilio.sent == []


def test_a_reply_longer_than_sms_can_carry_fails_with_the_reason(client, twilio, staff_token):
    case = _open(client)
    item = _reply(client, staff_token, case, body="Details. " * 250)
    assert item.state == "failed" and "at most 1600" in item.last_error
    assert twilio.sent == []


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}, 204),  # not ours
        ({"MessageSid": "SM" + "0" * 32, "MessageStatus": "huh"}, 400),
        ({"MessageStatus": "delivered"}, 400),
        ({"MessageSid": "SM" + "0" * 32}, 400),
    ],
)
def test_status_callbacks_that_do_not_fit_are_answered_plainly(client, twilio, fields, status):
    response = post_signed(client, "/webhooks/twilio/status", fields)
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["errors"]


# --- opt-out ------------------------------------------------------------------------------

STOP_WORDS = ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT"]
STOP_WORDS_ES = ["PARAR", "alto", "Cancelar", "BAJA", "detener"]


@pytest.mark.parametrize("word", STOP_WORDS + STOP_WORDS_ES)
def test_every_stop_word_opts_out_and_flags_the_open_case(client, twilio, word):
    case = _open(client)
    _, reply = text_us(client, word)
    spanish = word in STOP_WORDS_ES
    assert reply.startswith("No le enviaremos" if spanish else "You will get no more texts")
    assert _phone_point().status == "opted_out"
    db.session.expire_all()
    case = get_case(case.reference)
    assert case.has_flag("sms_opted_out")
    flagged = next(e for e in case.events if e.kind == "flagged")
    assert "***0143" in flagged.detail and PHONE not in flagged.detail
    assert db.session.scalar(db.select(InboundMessage.kind).order_by(InboundMessage.id.desc())) == (
        "keyword"
    )


def test_after_stop_no_sms_is_ever_sent_and_replies_fall_back_to_email(client, twilio, staff_token):
    created = client.post(
        "/api/v1/complaints",
        json={
            "description": COMPLAINT,
            "email": "pat@example.org",
            "phone": PHONE,
            "preferred_contact": "sms",
        },
    )
    reference = created.get_json()["reference"]
    acknowledgment = twilio.sent[-1]
    assert acknowledgment["To"] == PHONE and reference in acknowledgment["Body"]
    text_us(client, "STOP")
    before = len(twilio.sent)
    item = _reply(client, staff_token, get_case(reference))
    assert (item.channel, item.recipient) == ("email", "pat@example.org")
    assert len(twilio.sent) == before


def test_after_stop_with_no_other_contact_the_reply_is_kept_on_the_case(
    client, twilio, staff_token
):
    case = _open(client)
    text_us(client, "STOP")
    item = _reply(client, staff_token, case, body="Please send us your statement.")
    assert item is None or item.channel != "sms"
    db.session.expire_all()
    case = get_case(case.reference)
    assert case.messages[-1].body == "Please send us your statement."
    assert twilio.sent == []


def test_an_sms_queued_before_stop_is_refused_at_delivery(client, twilio):
    case = _open(client)
    _, item = notify_customer(case, "message", body="Queued before the STOP arrived.")
    db.session.commit()
    db.session.info.pop("redress.jobs.ready", None)  # its job has not run yet
    text_us(client, "STOP")
    assert delivery.deliver(item.id) == "failed"
    db.session.expire_all()
    item = db.session.get(OutboxItem, item.id)
    assert item.last_error.startswith("not sent: the customer opted out")
    assert twilio.sent == []


def test_after_stop_a_new_complaint_by_text_gets_no_text_back(client, twilio):
    text_us(client, "STOP")
    response, reply = text_us(client, COMPLAINT)
    assert response.status_code == 200 and reply is None
    db.session.expire_all()
    (case,) = db.session.scalars(db.select(Case)).all()
    assert case.description == COMPLAINT
    assert twilio.sent == []
    assert all(not m.deliveries for m in case.messages)


@pytest.mark.parametrize("word", ["START", "unstop", "INICIO", "comenzar"])
def test_start_opts_back_in_and_texts_flow_again(client, twilio, staff_token, word):
    case = _open(client)
    text_us(client, "STOP")
    _, reply = text_us(client, word)
    assert reply.startswith("Volverá" if word.lower() in ("inicio", "comenzar") else "You will")
    assert _phone_point().status == "ok"
    assert not get_case(case.reference).has_flag("sms_opted_out")
    item = _reply(client, staff_token, get_case(case.reference))
    assert item.channel == "sms" and item.state == "sent" and len(twilio.sent) == 1


def test_stop_from_a_number_we_never_met_is_remembered(client, twilio):
    text_us(client, "STOP", sender="+12025550188")
    point = db.session.scalar(db.select(ContactPoint).where(ContactPoint.value == "+12025550188"))
    assert point.status == "opted_out"
    created = client.post(
        "/api/v1/complaints",
        json={"description": COMPLAINT, "phone": "+12025550188", "preferred_contact": "sms"},
    )
    assert created.status_code == 201
    assert twilio.sent == []


# --- rate limit ---------------------------------------------------------------------------


def test_a_flood_from_one_number_gets_one_polite_reply_and_nothing_is_lost(
    client, twilio, app, monkeypatch
):
    monkeypatch.setitem(app.config, "SMS_RATE_LIMIT", 3)
    case = _open(client)
    replies = [text_us(client, f"Detail number {n}")[1] for n in range(1, 5)]
    assert replies[0].startswith("Added to your case") and replies[1].startswith("Added")
    assert replies[2].startswith("You sent many texts in a short time.")
    assert replies[3] is None  # told once per window, not every time
    db.session.expire_all()
    rows = db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [r.outcome for r in rows] == [
        "case_opened",
        "threaded",
        "threaded",
        "ignored",
        "ignored",
    ]
    assert all("rate limited" in r.reason for r in rows[3:])
    assert rows[4].raw and b"Detail+number+4" in rows[4].raw
    case = get_case(case.reference)
    assert case.has_flag("sms_rate_limited")
    # STOP is honoured even while limited.
    _, reply = text_us(client, "STOP")
    assert reply.startswith("You will get no more texts") and _phone_point().status == "opted_out"
    # A new window: texts are added again.
    text_us(client, "START")
    conversation = db.session.scalar(db.select(SmsConversation))
    conversation.window_started_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    _, reply = text_us(client, "After a pause")
    assert reply.startswith(f"Added to your case {case.reference}")


# --- MMS ----------------------------------------------------------------------------------


def _media_path(n: int) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{n:032x}/Media/ME{n:032x}"


def test_mms_photo_is_fetched_with_the_account_credentials_and_kept(client, twilio):
    photo = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100
    twilio.media[_media_path(1)] = (photo, "image/jpeg")
    _, reply = text_us(
        client,
        "Photo of the broken meter",
        sid=new_sid("MM"),
        NumMedia="1",
        MediaUrl0=f"https://api.twilio.com{_media_path(1)}",
        MediaContentType0="image/jpeg",
    )
    (reference,) = find_references(reply)
    case = get_case(reference)
    (attachment,) = case.attachments
    assert (attachment.filename, attachment.content_type) == ("mms-1.jpg", "image/jpeg")
    assert attachment.message_id == case.messages[0].id
    from app.cases.attachments import read

    assert read(attachment) == photo
    assert twilio.media_requests == [{"path": _media_path(1), "authorized": True}]


def test_mms_items_that_cannot_be_kept_are_listed_and_flagged(client, twilio, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_MEDIA_MAX_BYTES", 1000)
    twilio.media[_media_path(2)] = (b"x" * 500, "image/png")
    twilio.media[_media_path(3)] = (b"x" * 5000, "image/jpeg")
    _, reply = text_us(
        client,
        "",
        NumMedia="4",
        MediaUrl0=f"https://api.twilio.com{_media_path(2)}",
        MediaContentType0="image/png",
        MediaUrl1=f"https://api.twilio.com{_media_path(3)}",
        MediaContentType1="image/jpeg",
        MediaUrl2="https://evil.example/steal",
        MediaContentType2="image/jpeg",
        MediaUrl3=f"https://api.twilio.com{_media_path(4)}",
        MediaContentType3="image/gif",
    )
    (reference,) = find_references(reply)
    case = get_case(reference)
    assert case.description == "(Photo sent by text message, with no words.)"
    assert [a.filename for a in case.attachments] == ["mms-1.png"]
    skipped = case.messages[0].meta["media_skipped"]
    assert [s["index"] for s in skipped] == [1, 2, 3]
    assert "larger than" in skipped[0]["reason"]
    assert skipped[1]["reason"] == "not a Twilio media address; not fetched"
    assert skipped[2]["reason"] == "Twilio answered HTTP 404"
    assert case.has_flag("sms_media_missing")
    assert all(r["path"].startswith("/2010-04-01/") for r in twilio.media_requests)


def test_mms_with_wrong_credentials_is_not_kept(client, twilio, app, monkeypatch):
    twilio.media[_media_path(5)] = (b"photo", "image/jpeg")
    twilio.auth_token = "rotated-token"  # the stand-in now wants another secret
    text_us(
        client,
        "See photo",
        NumMedia="1",
        MediaUrl0=f"https://api.twilio.com{_media_path(5)}",
        MediaContentType0="image/jpeg",
    )
    db.session.expire_all()
    (case,) = db.session.scalars(db.select(Case)).all()
    assert case.attachments == []
    assert case.messages[0].meta["media_skipped"][0]["reason"] == "Twilio answered HTTP 401"
    assert twilio.media_requests[0]["authorized"] is False
    assert twilio.auth_token != AUTH_TOKEN


def test_after_stop_a_text_is_still_added_to_the_case_but_not_answered(client, twilio):
    case = _open(client)
    text_us(client, "STOP")
    response, reply = text_us(client, "One more detail for you.")
    assert response.status_code == 200 and reply is None
    db.session.expire_all()
    case = get_case(case.reference)
    assert case.messages[-1].direction == "inbound"
    assert case.messages[-1].body == "One more detail for you."
    assert twilio.sent == []


def test_mms_from_the_configured_regional_api_base_is_fetched_but_no_other_host(client, twilio):
    twilio.media[_media_path(6)] = (b"regional photo", "image/jpeg")
    text_us(
        client,
        "Two photos",
        NumMedia="2",
        MediaUrl0=f"{twilio.url}{_media_path(6)}",  # the edge named in TWILIO_API_BASE
        MediaContentType0="image/jpeg",
        MediaUrl1=f"http://127.0.0.1:9{_media_path(6)}",  # looks alike, is not it
        MediaContentType1="image/jpeg",
    )
    db.session.expire_all()
    (case,) = db.session.scalars(db.select(Case)).all()
    assert [a.size for a in case.attachments] == [len(b"regional photo")]
    (skipped,) = case.messages[0].meta["media_skipped"]
    assert skipped == {
        "index": 1,
        "content_type": "image/jpeg",
        "reason": "not a Twilio media address; not fetched",
    }
