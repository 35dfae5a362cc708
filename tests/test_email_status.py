"""Tracking a case by email: a STATUS (ESTADO) email is answered with the same plain-language
status and next due date as the /track page and an SMS STATUS, and only to the case's own
customer. The answer goes out through a real SMTP server on loopback."""

from __future__ import annotations

import email.policy
import email.utils

import pytest

from app.cases.models import Case, Event, Message
from app.extensions import db
from channels.email.status import status_request, subject_text
from tests.email_support import complaint, send_in
from tests.helpers import act


def mail(subject: str, body: str, sender: str = "pat@example.org", **headers: str) -> bytes:
    return complaint(subject, body, sender, **headers).as_bytes()


@pytest.fixture
def sent(app, smtp_sink):
    """What our SMTP relay received (the app sends through the sink)."""
    url, received = smtp_sink
    app.config["SMTP_URL"] = url
    yield received
    app.config["SMTP_URL"] = None


def text_of(message) -> str:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    return parsed.get_body(("plain",)).get_content()


def file_complaint(body: str = "Robocalls every morning from a spoofed number.", **kw) -> Case:
    row = send_in(mail("Robocalls", body, **kw))
    assert row.outcome == "case_opened"
    return row.case


def case_count() -> int:
    return db.session.scalar(db.select(db.func.count(Case.id)))


def test_status_email_answers_with_the_status_and_next_due_date(app, sent):
    case = file_complaint()
    assert len(sent) == 1  # the acknowledgment
    row = send_in(mail("STATUS", ""))
    assert (row.outcome, row.kind, row.case_id) == ("ignored", "status", case.id)
    answer = sent[-1]
    assert answer["To"] == "pat@example.org"
    assert answer["Subject"] == f"Status of your complaint [{case.reference}]"
    body = text_of(answer)
    assert f"Complaint {case.reference}" in body
    assert "is received and waiting for a caseworker." in body
    assert "We will respond to you by" in body  # the next due date, in plain words
    assert f"/track?reference={case.reference}" in body
    # Nothing new on the case but the record that the customer was told.
    assert case_count() == 1
    assert [m.direction for m in db.session.get(Case, case.id).messages] == ["inbound", "outbound"]
    assert db.session.scalar(
        db.select(Event).where(Event.case_id == case.id, Event.kind == "status_sent")
    ).after == {"channel": "email"}


def test_a_reply_saying_status_answers_for_that_case_in_its_thread(app, sent, staff_token):
    case = file_complaint()
    ack = sent[0]
    client = app.test_client()
    act(client, staff_token("admin@redress.example"), case.reference, action="assign")
    reply = mail(
        f"Re: {ack['Subject']}",
        "status\n\nSent from my iPhone\n\n> On Monday, CFPB wrote:\n> We received it",
        In_Reply_To=ack["Message-ID"],
    )
    row = send_in(reply)
    assert row.kind == "status" and row.case_id == case.id
    answer = sent[-1]
    assert "is assigned to a caseworker." in text_of(answer)
    # Threaded under the customer's message in their mail program.
    first = db.session.scalar(db.select(Message).where(Message.case_id == case.id))
    assert answer["In-Reply-To"] == first.external_id


def test_estado_answers_in_spanish(app, sent):
    case = file_complaint()
    send_in(mail("consulta", f"Estado {case.reference}"))
    answer = sent[-1]
    assert answer["Subject"] == f"Estado de su queja [{case.reference}]"
    body = text_of(answer)
    assert f"La queja {case.reference}" in body
    assert "está recibida, en espera de un gestor." in body
    assert "Le responderemos a más tardar el" in body
    spanish_name = case.agency.translations["es"]["name"]  # the demo directory's Spanish
    assert spanish_name in body and spanish_name != case.agency.name


def test_every_open_case_when_no_reference_is_given(app, sent):
    first = file_complaint()
    second = file_complaint("My bank charged me twice for one overdraft.")
    send_in(mail("Status?", ""))
    answer = sent[-1]
    assert answer["Subject"] == "Status of your complaints"
    body = text_of(answer)
    assert first.reference in body and second.reference in body
    # Newest first.
    assert body.index(second.reference) < body.index(first.reference)


def test_a_stranger_citing_a_reference_learns_nothing_about_the_case(app, sent):
    case = file_complaint()
    row = send_in(mail("STATUS", f"status {case.reference}", sender="eve@example.net"))
    assert row.kind == "status" and row.case_id is None
    answer = sent[-1]
    assert answer["To"] == "eve@example.net"
    assert answer["Subject"] == "We could not find your complaint"
    body = text_of(answer)
    assert f"We could not find complaint {case.reference} for this email address" in body
    assert "/track" in body
    assert case.agency.name not in body and "waiting" not in body
    assert db.session.scalar(db.select(Event).where(Event.kind == "status_sent")) is None
    assert case_count() == 1


def test_status_from_an_address_with_no_complaint_opens_nothing(app, sent):
    row = send_in(mail("status", ""))
    assert row.outcome == "ignored" and row.kind == "status"
    assert case_count() == 0
    assert "We could not find a complaint sent from this email address" in text_of(sent[-1])


def test_a_resolved_case_says_so_without_a_promise(app, sent, staff_token):
    case = file_complaint()
    client = app.test_client()
    act(
        client,
        staff_token("admin@redress.example"),
        case.reference,
        action="resolve",
        resolution="The caller was blocked.",
    )
    send_in(mail("status", ""))
    body = text_of(sent[-1])
    assert f"Complaint {case.reference}" in body and "is resolved." in body
    assert "We will respond" not in body and "We aim to resolve" not in body


def test_a_question_about_status_is_a_message_not_a_command(app, sent):
    case = file_complaint()
    row = send_in(
        mail(f"Re: [{case.reference}]", "What is the status of my complaint? It keeps happening.")
    )
    assert row.outcome == "threaded" and row.case_id == case.id
    assert "status" not in (sent[-1]["Subject"] or "").lower()


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("STATUS", "", ("en", None)),
        ("Re: Estado [RX-0000-0000]", "", ("es", None)),
        ("Re: We received your complaint", "  status.  ", ("en", None)),
        ("anything", "ESTADO rx 1111 1111", None),  # not a valid reference: ordinary text
        ("status of my refund", "", None),
        ("STATUS", "I want to add a photo.", None),
        ("", "HELP", None),  # email honours only STATUS
        ("", "stop", None),
    ],
)
def test_what_counts_as_a_status_request(subject, text, expected):
    found = status_request(subject, text)
    assert (found.language, found.reference) == expected if expected else found is None


def test_subject_text_drops_reply_prefixes_and_bracketed_references():
    assert subject_text("RE: Fwd: AW: status [RX-ABCD-EFGH]") == "status"
    assert subject_text("Re[2]: Estado") == "Estado"


def test_the_web_page_email_and_sms_say_the_same_status(app, sent):
    from channels.case_status import status_words

    case = file_complaint()
    client = app.test_client()
    for lang in ("en", "es"):
        page = client.get(
            "/track",
            query_string={"reference": case.reference, "contact": "pat@example.org", "lang": lang},
        )
        words = status_words("new", lang)
        assert page.status_code == 200
        assert words[:1].upper() + words[1:] in page.get_data(as_text=True)
        send_in(mail("status", "ESTADO" if lang == "es" else "STATUS"))
        assert words in text_of(sent[-1])
