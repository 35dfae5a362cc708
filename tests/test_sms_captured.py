"""Every captured Twilio webhook body in tests/data/twilio/ (copied from ../shared/data/twilio:
public test suites, some deliberately mangled) gets a sensible answer: posted byte for byte,
signed as Twilio signs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.cases.models import Case
from app.extensions import db
from app.inbound.models import InboundMessage
from app.notify.models import OutboxItem
from channels.reference import find_references
from channels.sms import segments
from tests.sms_support import post_raw, reply_of, twilio_standin


@pytest.fixture
def twilio(app, monkeypatch):
    yield from twilio_standin(app, monkeypatch)


# A copy of ../shared/data/twilio (MIT-licensed captures; see its SOURCE.txt).
DATA = Path(__file__).resolve().parent / "data" / "twilio"

# file -> (endpoint, HTTP status, what must become of it)
EXPECTED = {
    "botbuilder_community_whatsapp/01_processactivity_parses_a_twilio_message_to_activity.form": (
        "sms",
        200,
        "other_channel",
    ),
    "botbuilder_community_whatsapp/02_processactivity_parses_a_twilio_message_with_image_attachment_to_activ.form": (  # noqa: E501
        "sms",
        200,
        "other_channel",
    ),
    "botbuilder_community_whatsapp/03_processactivity_parses_a_twilio_message_with_location_attachment_to_ac.form": (  # noqa: E501
        "sms",
        200,
        "other_channel",
    ),
    "botbuilder_community_whatsapp/04_processactivity_parses_a_twilio_delivered_event_to_activity.form": (  # noqa: E501
        "status",
        204,
        "not_ours",
    ),
    "botbuilder_community_whatsapp/05_processactivity_parses_a_twilio_sent_event_to_activity.form": (  # noqa: E501
        "status",
        204,
        "not_ours",
    ),
    # To=%2B1A693421974: a mangled number that is not ours.
    "microsoft_botbuilder_dotnet/MediaPayload.txt": ("sms", 200, "unknown_to"),
    "microsoft_botbuilder_dotnet/NoMediaPayload.txt": ("sms", 200, "unknown_to"),
    "microsoft_botbuilder_dotnet/Payload.txt": ("sms", 200, "new_case"),
    "southport_messaging/mms_inbound.form": ("sms", 200, "new_case_with_photo"),
    "southport_messaging/mms_inbound_with_messaging_service_status.form": (
        "sms",
        200,
        "new_case_with_photo",
    ),
}
_NOT_CAPTURES = ("SOURCE.txt", "README.txt")
PHOTO = b"\xff\xd8\xff\xe0 captured mms"


def _captured() -> list[str]:
    return sorted(
        str(p.relative_to(DATA))
        for p in DATA.rglob("*")
        if p.is_file() and p.suffix in (".form", ".txt") and p.name not in _NOT_CAPTURES
    )


def test_every_captured_body_has_an_expectation():
    assert _captured() == sorted(EXPECTED), "a new capture needs its expected answer here"


@pytest.fixture
def our_numbers(app, monkeypatch, twilio):
    """The captures' own To numbers are ours, and the stand-in serves their media."""
    monkeypatch.setitem(app.config, "SMS_NUMBERS", "+16693421974,+19362373705")
    for name in _captured():
        fields = parse_qs((DATA / name).read_text(), keep_blank_values=True)
        for key, values in fields.items():
            if key.startswith("MediaUrl") and values[0].startswith("https://api.twilio.com/"):
                twilio.media[urlsplit(values[0]).path] = (PHOTO, "image/jpeg")
    return twilio


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_body_gets_a_sensible_answer(client, our_numbers, name):
    endpoint, status, outcome = EXPECTED[name]
    raw = (DATA / name).read_bytes()
    response = post_raw(client, f"/webhooks/twilio/{endpoint}", raw)
    assert response.status_code == status
    db.session.expire_all()
    rows = db.session.scalars(db.select(InboundMessage)).all()
    cases = db.session.scalars(db.select(Case)).all()
    if endpoint == "status":
        assert rows == [] and cases == []
        return
    (row,) = rows
    assert row.raw == raw  # stored byte for byte
    reply = reply_of(response)
    if outcome in ("other_channel", "unknown_to"):
        assert (row.outcome, row.kind) == ("ignored", outcome)
        assert reply is None and cases == []
        return
    (case,) = cases
    assert row.outcome == "case_opened" and row.case_id == case.id
    assert find_references(reply) == [case.reference]
    assert segments.count(reply).count <= 2
    fields = parse_qs(raw.decode(), keep_blank_values=True)
    assert case.description == fields["Body"][0]
    assert case.customer.contact("phone") == fields["From"][0]
    if outcome == "new_case_with_photo":
        (attachment,) = case.attachments
        assert attachment.content_type == "image/jpeg" and attachment.size == len(PHOTO)
        assert our_numbers.media_requests[0]["authorized"] is True


def test_the_two_captures_of_one_mms_are_one_case(client, our_numbers):
    first = post_raw(
        client, "/webhooks/twilio/sms", (DATA / "southport_messaging/mms_inbound.form").read_bytes()
    )
    again = post_raw(
        client,
        "/webhooks/twilio/sms",
        (DATA / "southport_messaging/mms_inbound_with_messaging_service_status.form").read_bytes(),
    )
    assert reply_of(first) == reply_of(again)  # the same MessageSid: Twilio's retry
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1
    assert len(our_numbers.media_requests) == 1


def test_captured_delivered_event_marks_our_message_delivered(client, our_numbers):
    name = (
        "botbuilder_community_whatsapp/"
        "04_processactivity_parses_a_twilio_delivered_event_to_activity.form"
    )
    raw = (DATA / name).read_bytes()
    sid = parse_qs(raw.decode())["MessageSid"][0]
    response = post_raw(client, "/webhooks/twilio/sms", (DATA / _PAYLOAD).read_bytes())
    (reference,) = find_references(reply_of(response))
    case = db.session.scalar(db.select(Case).where(Case.reference == reference))
    item = OutboxItem(
        case=case,
        audience="customer",
        kind="message",
        channel="sms",
        recipient=case.customer.contact("phone"),
        body="x",
        state="sent",
        provider_ref=sid,
    )
    db.session.add(item)
    db.session.commit()
    assert post_raw(client, "/webhooks/twilio/status", raw).status_code == 204
    db.session.expire_all()
    assert db.session.get(OutboxItem, item.id).state == "delivered"


_PAYLOAD = "microsoft_botbuilder_dotnet/Payload.txt"


def test_captured_mangled_media_url_is_not_fetched(client, our_numbers):
    """MediaPayload.txt (MediaUrl0=www.google.com, MediaContentType0=json) sent to our
    number; its From (+57 1 138050810) is not a valid number either, so first as it is."""
    raw = (DATA / "microsoft_botbuilder_dotnet/MediaPayload.txt").read_bytes()
    raw = raw.replace(b"To=%2B1A693421974", b"To=%2B16693421974")
    response = post_raw(client, "/webhooks/twilio/sms", raw)
    assert response.status_code == 200 and reply_of(response) is None
    row = db.session.scalar(db.select(InboundMessage))
    assert (row.outcome, row.kind) == ("ignored", "bad_sender")
    assert "not valid" in row.reason
    raw = raw.replace(b"From=%2B571138050810", b"From=%2B541138050810")
    raw = raw.replace(b"MessageSid=SMa56324", b"MessageSid=SMb56324")
    response = post_raw(client, "/webhooks/twilio/sms", raw)
    assert response.status_code == 200
    (case,) = db.session.scalars(db.select(Case)).all()
    assert case.attachments == []
    (skipped,) = case.messages[0].meta["media_skipped"]
    assert skipped["reason"] == "not a Twilio media address; not fetched"
    assert our_numbers.media_requests == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_body_posted_to_the_other_webhook_is_refused_with_a_reason(
    client, our_numbers, name
):
    endpoint, _, _ = EXPECTED[name]
    other = "status" if endpoint == "sms" else "sms"
    raw = (DATA / name).read_bytes()
    fields = parse_qs(raw.decode(), keep_blank_values=True)
    response = post_raw(client, f"/webhooks/twilio/{other}", raw)
    if other == "status" and "MessageStatus" in fields:
        assert response.status_code == 204  # a status word about a message we never sent
    else:
        assert response.status_code == 400
        missing = "Body" if other == "sms" else "MessageStatus"
        assert missing in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(InboundMessage.id))) == 0
