"""Texting the agency: signed Twilio webhooks open cases, thread, answer keywords in English
and Spanish, honour STOP, keep MMS photos, and refuse what is unsigned or malformed."""

from __future__ import annotations

import logging

import pytest

from app.cases.models import Case, Event, Message
from app.customers.models import ContactPoint
from app.extensions import db
from app.inbound.models import InboundMessage
from app.sms.models import SmsConversation
from channels.reference import find_references
from channels.sms import segments
from tests.sms_support import (
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


COMPLAINT = "A debt collector calls me at work every day about a debt I do not owe."


def _cases() -> list[Case]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Case).order_by(Case.id)))


def _rows() -> list[InboundMessage]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)))


def _open(client, body=COMPLAINT, sender=PHONE) -> tuple[Case, str]:
    response, reply = text_us(client, body, sender=sender)
    assert response.status_code == 200
    (reference,) = find_references(reply)
    return db.session.scalar(db.select(Case).where(Case.reference == reference)), reply


def test_a_text_opens_a_case_and_the_reply_gives_reference_and_promise(client, twilio):
    response, reply = text_us(client, COMPLAINT)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    (case,) = _cases()
    assert case.channel == "sms" and case.description == COMPLAINT
    assert case.agency.code == "CFPB"  # routed like any other complaint
    assert reply.startswith(f"We received your complaint {case.reference} (CFPB).")
    assert "We will respond to you by" in reply or "We aim to resolve" in reply
    assert f"/track?reference={case.reference}" in reply
    assert segments.count(reply).count <= 2
    # The reply is the acknowledgment: kept on the case, and the clock is met.
    inbound, outbound = case.messages
    assert inbound.direction == "inbound" and inbound.external_id.startswith("SM")
    assert outbound.direction == "outbound" and outbound.body == reply
    ack = next(c for c in case.clocks if c.metric == "acknowledge")
    assert ack.phase == "met"
    assert any(e.kind == "acknowledged" for e in case.events)
    assert case.customer.contact("phone") == PHONE
    assert case.preferred_contact == "sms"
    (row,) = _rows()
    assert (row.outcome, row.kind, row.case_id, row.reply) == (
        "case_opened",
        "new_case",
        case.id,
        reply,
    )
    assert b"Body=A+debt+collector" in row.raw  # the form, as Twilio sent it
    assert row.meta["summary"] == "SMS from ***0143"  # never the whole number


def test_twilio_retrying_the_same_message_sid_gets_the_same_reply_and_no_second_message(
    client, twilio
):
    sid = new_sid()
    _, first = text_us(client, COMPLAINT, sid=sid)
    _, again = text_us(client, COMPLAINT, sid=sid)
    assert first == again
    (case,) = _cases()
    assert [m.direction for m in case.messages] == ["inbound", "outbound"]
    assert len(_rows()) == 1


def test_a_second_text_is_added_to_the_open_case_and_the_reply_says_which(client, twilio):
    case, _ = _open(client)
    response, reply = text_us(client, "They called again at 9pm.")
    assert reply == f"Added to your case {case.reference}. Text STATUS for an update."
    assert len(_cases()) == 1
    db.session.refresh(case)
    inbound = [m.body for m in case.messages if m.direction == "inbound"]
    assert inbound == [COMPLAINT, "They called again at 9pm."]
    assert _rows()[-1].outcome == "threaded"


def test_with_several_open_cases_texts_go_to_the_latest_until_case_switches(client, twilio):
    first, _ = _open(client)
    _, reply = text_us(client, "NEW")
    assert reply == "OK. Your next text starts a new complaint."
    second, _ = _open(client, "My landlord will not return my deposit.")
    assert second.id != first.id
    _, reply = text_us(client, "The deposit was $1,200.")
    assert second.reference in reply and "You have 2 open cases" in reply
    _, reply = text_us(client, f"case {first.reference.lower()}")
    assert reply == f"Your texts now go to case {first.reference}."
    text_us(client, "The collector's name is ACME.")
    db.session.expire_all()
    assert first.messages[-2].body == "The collector's name is ACME."
    conversation = db.session.scalar(db.select(SmsConversation))
    assert conversation.current_case_id == first.id


def test_case_for_someone_elses_reference_is_refused_without_revealing_it(client, twilio):
    theirs, _ = _open(client, sender="+12025550177")
    _open(client)
    _, reply = text_us(client, f"CASE {theirs.reference}")
    assert reply.startswith(f"We found no case {theirs.reference} for this phone number")
    _, reply = text_us(client, f"STATUS {theirs.reference}")
    assert "We found no case" in reply and "CFPB" not in reply


def test_status_answers_with_the_status_and_next_due_date(client, twilio, staff_token):
    case, _ = _open(client)
    _, reply = text_us(client, "STATUS")
    assert reply.startswith(f"Case {case.reference} (CFPB) is received and waiting for")
    assert "We will respond to you by" in reply
    told = db.session.scalars(
        db.select(Event).where(Event.case_id == case.id, Event.kind == "status_sent")
    ).all()
    assert [e.after for e in told] == [{"channel": "sms"}]  # the caseworker sees they were told
    client.post(
        f"/api/v1/cases/{case.reference}/actions",
        json={"action": "assign"},
        headers=staff_token("caseworker@cfpb.example"),
    )
    _, reply = text_us(client, f"status {case.reference}")
    assert f"Case {case.reference} (CFPB) is assigned to a caseworker." in reply
    _, reply = text_us(client, "Estado")
    assert reply.startswith(f"El caso {case.reference} (CFPB) está asignada a un gestor.")


def test_status_from_a_number_with_no_cases(client, twilio):
    _, reply = text_us(client, "STATUS")
    assert reply.startswith("We have no complaint from this number")
    assert _cases() == []


@pytest.mark.parametrize(("word", "start"), [("HELP", "Complaints line"), ("INFO", "Complaints")])
def test_help_and_info_explain_the_keywords(client, twilio, word, start):
    _, reply = text_us(client, word)
    assert reply.startswith(start)
    for keyword in ("STATUS", "CASE", "NEW", "STOP"):
        assert keyword in reply
    assert _cases() == [] and _rows()[0].kind == "keyword"


def test_ayuda_answers_in_spanish_and_later_replies_stay_spanish(client, twilio):
    _, reply = text_us(client, "ayuda")
    assert reply.startswith("Linea de quejas") or reply.startswith("Línea de quejas")
    assert "ESTADO" in reply and "PARAR" in reply
    _, reply = text_us(client, "El banco me cobró dos veces.")
    (case,) = _cases()
    assert reply.startswith(f"Recibimos su queja {case.reference}")
    assert case.language == "es" and segments.count(reply).count <= 2
    _, reply = text_us(client, "nuevo")
    assert reply.startswith("De acuerdo")
    _, reply = text_us(client, "Otra queja distinta.")
    assert len(_cases()) == 2 and reply.startswith("Recibimos su queja")


def test_empty_text_gets_a_polite_reply_and_opens_nothing(client, twilio):
    _, reply = text_us(client, "")
    assert reply.startswith("Your text was empty")
    assert _cases() == []
    (row,) = _rows()
    assert (row.outcome, row.kind) == ("ignored", "empty")


def test_a_1600_character_text_is_kept_whole_and_answered_within_two_segments(client, twilio):
    body = ("My bank closed my account without notice and kept my money. " * 30)[:1600]
    _, reply = text_us(client, body)
    (case,) = _cases()
    assert case.description == body and len(case.description) == 1600
    assert case.reference in reply and segments.count(reply).count <= 2


def test_emoji_text_opens_a_case_as_written(client, twilio):
    body = "The app charged me twice 😡💸 and support hung up 📞"
    _, reply = text_us(client, body)
    (case,) = _cases()
    assert case.description == body
    assert segments.count(reply).count <= 2


def test_same_person_on_email_and_sms_is_one_customer(client, twilio):
    created = client.post(
        "/api/v1/complaints",
        json={
            "description": "A debt collector calls me at work.",
            "email": "pat@example.org",
            "phone": "(202) 555-0143",
        },
    )
    assert created.status_code == 201
    reference = created.get_json()["reference"]
    _, reply = text_us(client, "They called again today.")
    assert reply.startswith(f"Added to your case {reference}")
    (case,) = _cases()
    assert [m.channel for m in case.messages if m.direction == "inbound"] == ["api", "sms"]
    kinds = {(p.kind, p.value) for p in case.customer.contacts}
    assert {("email", "pat@example.org"), ("phone", PHONE)} <= kinds


def test_unknown_to_number_is_ignored_and_logged(client, twilio, caplog):
    with caplog.at_level(logging.WARNING):
        response, reply = text_us(client, COMPLAINT, to="+12025550199")
    assert response.status_code == 200 and reply is None
    assert _cases() == []
    (row,) = _rows()
    assert (row.outcome, row.kind) == ("ignored", "unknown_to")
    assert "not one of our numbers" in row.reason
    assert any("not ours" in r.getMessage() for r in caplog.records)
    assert not any(PHONE in r.getMessage() for r in caplog.records)


# --- signatures and malformed requests ----------------------------------------------------


def test_bad_or_missing_signature_is_refused_and_nothing_is_stored(client, twilio):
    fields = {"MessageSid": new_sid(), "From": PHONE, "To": OUR_NUMBER, "Body": COMPLAINT}
    wrong_token = post_signed(client, "/webhooks/twilio/sms", fields, token="not-the-token")
    missing = post_signed(client, "/webhooks/twilio/sms", fields, signature="")
    status = post_signed(
        client, "/webhooks/twilio/status", {"MessageSid": "SM1"}, token="not-the-token"
    )
    assert (wrong_token.status_code, missing.status_code, status.status_code) == (403, 403, 403)
    assert _rows() == [] and _cases() == []


def test_tampered_body_fails_the_signature(client, twilio):
    from urllib.parse import urlencode

    from tests.sms_support import sign

    fields = [("MessageSid", new_sid()), ("From", PHONE), ("To", OUR_NUMBER), ("Body", "hi")]
    signature = sign(client.application, "/webhooks/twilio/sms", fields)
    fields[3] = ("Body", "something else")
    response = client.post(
        "/webhooks/twilio/sms",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403 and _rows() == []


def test_signature_is_checked_against_the_public_url_behind_a_proxy(client, twilio, app):
    # The test client calls http://localhost/...; Twilio signed https://complaints.example.gov.
    app.config["PUBLIC_BASE_URL"], saved = (
        "https://complaints.example.gov",
        app.config["PUBLIC_BASE_URL"],
    )
    try:
        response, reply = text_us(client, COMPLAINT)
    finally:
        app.config["PUBLIC_BASE_URL"] = saved
    assert response.status_code == 200
    assert "https://complaints.example.gov/track?reference=" in reply


def test_without_an_auth_token_every_webhook_is_refused(client, app):
    assert not app.config.get("TWILIO_AUTH_TOKEN")
    response, _ = text_us(client, COMPLAINT)
    assert response.status_code == 403 and _rows() == []


@pytest.mark.parametrize("field", ["MessageSid", "From", "To", "Body"])
def test_missing_fields_get_400_with_the_reason(client, twilio, field):
    """(Body may be absent only from an MMS with media: see the MMS test below.)"""
    fields = {"MessageSid": new_sid(), "From": PHONE, "To": OUR_NUMBER, "Body": COMPLAINT}
    del fields[field]
    response = post_signed(client, "/webhooks/twilio/sms", fields)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {field: ["Missing; Twilio always sends it."]}
    assert _rows() == []


def test_webhook_is_exempt_from_csrf_when_csrf_is_on(client, twilio, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response, reply = text_us(client, COMPLAINT)
    assert response.status_code == 200 and reply


def test_outbound_message_rows_are_not_confused_with_inbound(client, twilio):
    _open(client)
    outbound = db.session.scalars(db.select(Message).where(Message.direction == "outbound"))
    assert all(m.channel == "sms" and (m.meta or {}).get("via") == "twiml" for m in outbound)
    assert db.session.scalar(db.select(db.func.count(ContactPoint.id))) == 1


def test_a_spanish_speaker_known_from_the_web_is_answered_in_spanish(client, twilio):
    created = client.post(
        "/api/v1/complaints",
        json={"description": "El banco me cobró dos veces.", "phone": PHONE, "language": "es"},
    )
    reference = created.get_json()["reference"]
    _, reply = text_us(client, "Me volvieron a cobrar hoy.")
    assert reply.startswith(f"Añadido a su caso {reference}") or reply.startswith(
        f"Anadido a su caso {reference}"
    )


def test_a_text_that_fails_to_process_is_kept_and_its_retry_acknowledges_by_sms(
    client, twilio, staff_token, monkeypatch
):
    from app.sms import intake

    real_open_case = intake.open_case

    def broken(*args, **kwargs):
        raise RuntimeError("routing database hiccup")

    monkeypatch.setattr(intake, "open_case", broken)  # a fault injected into one call
    response, reply = text_us(client, COMPLAINT)
    assert response.status_code == 200
    assert reply == "We received your text and will reply with your case reference soon."
    (row,) = _rows()
    assert row.outcome == "failed" and "routing database hiccup" in row.reason
    assert _cases() == []
    monkeypatch.setattr(intake, "open_case", real_open_case)  # the fix is deployed
    retried = client.post(
        f"/api/v1/inbound/{row.id}/retry", headers=staff_token("admin@redress.example")
    )
    assert retried.status_code == 202
    (case,) = _cases()
    (sent,) = twilio.sent  # long after Twilio's request: the outbox acknowledges
    assert sent["To"] == PHONE and case.reference in sent["Body"]
    assert _rows()[0].outcome == "case_opened"


def test_case_with_a_reference_that_is_not_theirs_is_recorded_with_what_they_typed(client, twilio):
    _open(client)
    other = "RX-0000-0000"
    text_us(client, f"CASE {other}")
    row = _rows()[-1]
    assert row.kind == "keyword" and other in row.reason


def test_two_first_texts_at_once_share_one_conversation_and_both_are_kept(app, client, twilio):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    import threading

    created = client.post("/api/v1/complaints", json={"description": COMPLAINT, "phone": PHONE})
    reference = created.get_json()["reference"]
    barrier, replies = threading.Barrier(2), []

    def send(n: int) -> None:
        with app.app_context():
            barrier.wait()
            replies.append(text_us(app.test_client(), f"Detail {n}")[1])
            db.session.remove()

    threads = [threading.Thread(target=send, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(replies) == [f"Added to your case {reference}. Text STATUS for an update."] * 2
    assert [r.outcome for r in _rows()] == ["threaded", "threaded"]
    assert db.session.scalar(db.select(db.func.count(SmsConversation.id))) == 1


# --- the signature covers exactly what is read (issue 14, attack 2) ---------------------------


def _victim_case(client) -> Case:
    case, _ = _open(client, "My landlord kept my deposit of $1,200.", sender=PHONE)
    return case


def _captured_signed(client, body: str = "Hello"):
    """A real, signed inbound text from the attacker's own phone, as they would capture it."""
    from urllib.parse import urlencode

    from tests.sms_support import ACCOUNT_SID, sign

    fields = [
        ("MessageSid", new_sid()),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+12025550188"),
        ("To", OUR_NUMBER),
        ("Body", body),
        ("NumMedia", "0"),
    ]
    return fields, sign(client.application, "/webhooks/twilio/sms", fields), urlencode(fields)


def test_a_signed_form_resent_as_multipart_with_a_forged_preamble_is_refused(client, twilio):
    """The captured differential: Flask's multipart parse (what the signature used to be
    checked over) sees the attacker's real, signed fields; the raw-body parse (what the
    message was read from) sees the forged preamble first. Now: 415, nothing stored."""
    victim = _victim_case(client)
    rows_before = len(_rows())
    fields, signature, _ = _captured_signed(client)
    boundary = "x0x0x0"
    forged = f"MessageSid={new_sid()}&From=%2B12025550143&To=%2B12025550100&Body=STATUS&"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    )
    body = f"{forged}\r\n{parts}--{boundary}--\r\n".encode()

    def post(path: str):
        return client.post(
            path,
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers={"X-Twilio-Signature": signature},
        )

    response = post("/webhooks/twilio/sms")
    assert response.status_code == 415
    assert victim.reference.encode() not in response.get_data()
    assert len(_rows()) == rows_before  # nothing stored
    db.session.refresh(victim)
    assert [m.body for m in victim.messages if m.direction == "inbound"] == [
        "My landlord kept my deposit of $1,200."
    ]
    # The status callback takes form-encoded bodies only, too.
    assert post("/webhooks/twilio/status").status_code == 415


def test_a_forged_field_appended_to_a_signed_form_fails_the_signature(client, twilio):
    victim = _victim_case(client)
    rows_before = len(_rows())
    _, signature, body = _captured_signed(client, "Forged text for the victim's case")
    for tampered in (
        f"From=%2B12025550143&{body}",  # the victim's number first: the value a parser reads
        f"{body}&From=%2B12025550143",
    ):
        response = client.post(
            "/webhooks/twilio/sms",
            data=tampered,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature},
        )
        assert response.status_code == 403
    assert len(_rows()) == rows_before
    db.session.refresh(victim)
    assert len([m for m in victim.messages if m.direction == "inbound"]) == 1


def test_a_signed_form_that_repeats_a_field_is_refused_before_it_is_stored(client, twilio):
    """The signature covers the set of a field's values, not their order, so a repeated
    field would let whoever sends it choose which value is read."""
    fields = [
        ("MessageSid", new_sid()),
        ("From", "+12025550188"),
        ("From", PHONE),
        ("To", OUR_NUMBER),
        ("Body", "STATUS"),
    ]
    response = post_signed(client, "/webhooks/twilio/sms", fields)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "From": ["Given more than once; Twilio sends each field once."]
    }
    assert _rows() == []


def test_a_form_with_hundreds_of_fields_is_refused(client, twilio):
    fields = [("MessageSid", new_sid()), ("From", PHONE), ("To", OUR_NUMBER), ("Body", "x")]
    fields += [(f"Extra{i}", "x") for i in range(300)]
    response = post_signed(client, "/webhooks/twilio/sms", fields)
    assert response.status_code == 403 and _rows() == []


# --- MMS without a Body (issue 15) -----------------------------------------------------------


def _photo_only_mms(twilio, sid: str) -> bytes:
    """The real MMS capture (tests/data/twilio/southport_messaging/mms_inbound.form) as
    Twilio posts a message of photos alone: no Body field at all."""
    from pathlib import Path
    from urllib.parse import parse_qsl, urlencode, urlsplit

    from tests.sms_support import ACCOUNT_SID

    path = Path(__file__).parent / "data" / "twilio" / "southport_messaging" / "mms_inbound.form"
    items = [(k, v) for k, v in parse_qsl(path.read_text(), keep_blank_values=True) if k != "Body"]
    replace = {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID,
        "From": PHONE, "To": OUR_NUMBER,
    }  # fmt: skip
    items = [(k, replace.get(k, v)) for k, v in items]
    url = dict(items)["MediaUrl0"]
    twilio.media[urlsplit(url).path] = (b"\xff\xd8\xff\xe0 a photo", "image/jpeg")
    return urlencode(items).encode()


def test_an_mms_of_photos_without_a_body_opens_a_case_with_the_photo(client, twilio):
    from tests.sms_support import post_raw

    raw = _photo_only_mms(twilio, "MM" + "1" * 32)
    assert b"Body=" not in raw
    response = post_raw(client, "/webhooks/twilio/sms", raw)
    assert response.status_code == 200
    (case,) = _cases()
    assert case.description == "(Photo sent by text message, with no words.)"
    (attachment,) = case.attachments
    assert attachment.content_type == "image/jpeg"
    reply = response.get_data(as_text=True)
    assert case.reference in reply  # answered politely, with the reference
    (row,) = _rows()
    assert (row.outcome, row.kind, row.raw) == ("case_opened", "new_case", raw)


def test_an_mms_without_a_body_on_an_open_case_is_added_to_it(client, twilio):
    from tests.sms_support import post_raw

    case, _ = _open(client)
    response = post_raw(client, "/webhooks/twilio/sms", _photo_only_mms(twilio, "MM" + "2" * 32))
    assert response.status_code == 200
    assert f"Added to your case {case.reference}" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert len(_cases()) == 1 and len(case.attachments) == 1
    assert _rows()[-1].outcome == "threaded"


def test_a_text_with_nul_bytes_opens_a_case_without_them(client, twilio):
    """A `%00` inside a signed form reached the job and failed there on PostgreSQL (text
    columns refuse NUL): the message is kept, the NUL dropped, the case opened."""
    response, reply = text_us(client, "The landlord\x00 kept my deposit\x00.")
    assert response.status_code == 200
    (case,) = _cases()
    assert case.description == "The landlord kept my deposit."
    assert case.reference in reply
    (row,) = _rows()
    assert row.outcome == "case_opened"
