"""Issue 14, the email channel: forged bounces, display-name spoofing, DMARC and worst-case
headers. Each test sends the attack in through a real door (the SMTP server on loopback, the
webhook, the file door) and asserts the refusal: nothing of the victim's changes."""

from __future__ import annotations

import time

import pytest

from app.cases.models import Case
from app.customers.models import ContactPoint, Customer
from app.extensions import db
from app.inbound.models import InboundMessage
from app.notify.models import OutboxItem
from channels.email import parse_message
from tests.email_support import INTAKE, complaint, send_in, smtp_send

VICTIM = "victim1@example.org"
ATTACKER = "attacker@evil.example"


@pytest.fixture
def relay(app, smtp_sink):
    """Outbound mail goes to a real SMTP server on loopback that keeps what it receives
    (with the envelope: aiosmtpd adds X-MailFrom and X-RcptTo)."""
    url, received = smtp_sink
    app.config["SMTP_URL"] = url
    yield received
    app.config["SMTP_URL"] = None


def _smtp_in(port: int, raw: bytes, rcpt: str = INTAKE, mail_from: str = "x@example.net"):
    return smtp_send(port, raw, mail_from=mail_from, rcpt=rcpt)


def _rows() -> list[InboundMessage]:
    db.session.expire_all()
    return db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)).all()


def _victim_case() -> Case:
    row = send_in(complaint("Mortgage servicer", "They lost my payment.", sender=VICTIM).as_bytes())
    assert row.outcome == "case_opened"
    return row.case


def _point(address: str) -> ContactPoint:
    db.session.expire_all()
    return db.session.scalar(db.select(ContactPoint).where(ContactPoint.value == address))


# --- attack 3: forged bounces ----------------------------------------------------------------

FORGED_BOUNCE = (
    "From: MAILER-DAEMON@mx.evil.example\r\nTo: complaints@redress.localhost\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    f"X-Failed-Recipients: {VICTIM}\r\nAuto-Submitted: auto-replied\r\n\r\n"
    "This message was created automatically by mail delivery software.\r\n\r\n"
    f"  {VICTIM}\r\n    550 5.1.1 mailbox unavailable\r\n"
).encode()


def test_a_forged_bounce_naming_a_customer_changes_nothing(app, smtp_door):
    case = _victim_case()
    code, _ = _smtp_in(smtp_door, FORGED_BOUNCE, mail_from="")
    assert code == 250  # kept, like everything we accept
    row = _rows()[-1]
    assert (row.outcome, row.kind) == ("ignored", "bounce")
    assert "answers no message we sent" in row.reason
    assert _point(VICTIM).status == "ok"
    db.session.refresh(case)
    assert not case.has_flag("contact_undeliverable")
    assert row.case_id is None


def test_a_real_bounce_to_our_return_path_marks_exactly_that_delivery(app, smtp_door, relay):
    case = _victim_case()
    [ack] = relay
    envelope_from = ack["X-MailFrom"]
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    local, _, domain = envelope_from.partition("@")
    assert local.startswith(f"bounces+{item.id}.") and domain == "redress.localhost"
    assert (
        ack["Message-ID"] == item.provider_ref
        and ack["Message-ID"] != f"<acknowledgment-{item.id}@redress.localhost>"
    )
    # The receiving server refuses it later and bounces to the envelope sender, as MTAs do:
    # a plain notice, nothing in it that names us but the address it is sent to.
    bounce = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {envelope_from}\r\n"
        "Subject: Mail delivery failed\r\n\r\nThe mailbox is full.\r\n"
    ).encode()
    code, _ = _smtp_in(smtp_door, bounce, rcpt=envelope_from, mail_from="")
    assert code == 250
    row = _rows()[-1]
    assert (row.outcome, row.kind) == ("ignored", "bounce")
    assert f"delivery #{item.id}" in row.reason and "marked undeliverable" in row.reason
    db.session.expire_all()
    assert db.session.get(OutboxItem, item.id).state == "failed"
    assert _point(VICTIM).status == "undeliverable"
    assert db.session.get(Case, case.id).has_flag("contact_undeliverable")


def test_a_return_path_with_a_forged_token_is_refused_during_rcpt(app, smtp_door, relay):
    case = _victim_case()
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    for forged in (
        f"bounces+{item.id}.{'0' * 20}@redress.localhost",
        f"bounces+{item.id}@redress.localhost",
        f"bounces+{item.id + 1}.{relay[0]['X-MailFrom'].split('.')[1].split('@')[0]}"
        "@redress.localhost",  # a real token moved to another delivery
    ):
        code, reply = _smtp_in(smtp_door, FORGED_BOUNCE, rcpt=forged, mail_from="")
        assert code == 550, forged
    assert _point(VICTIM).status == "ok"
    assert [r.kind for r in _rows()] == ["new_case"]  # nothing stored


def test_a_bounce_quoting_an_unsigned_message_id_of_ours_counts_for_nothing(app, relay):
    """Our Message-IDs used to be guessable (`<acknowledgment-N@domain>`): only a signed one
    proves a bounce answers us."""
    case = _victim_case()
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    guessed = f"<acknowledgment-{item.id}@redress.localhost>"
    bounce = FORGED_BOUNCE + f"\r\n--- original headers\r\nMessage-ID: {guessed}\r\n".encode()
    row = send_in(bounce)
    assert "answers no message we sent" in row.reason
    assert _point(VICTIM).status == "ok"
    assert db.session.get(OutboxItem, item.id).state == "sent"


def test_an_auto_reply_to_our_return_path_is_an_auto_reply_not_a_bounce(app, smtp_door, relay):
    _victim_case()
    envelope_from = relay[0]["X-MailFrom"]
    vacation = (
        f"From: {VICTIM}\r\nTo: {envelope_from}\r\nSubject: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n"
    ).encode()
    assert _smtp_in(smtp_door, vacation, rcpt=envelope_from, mail_from="")[0] == 250
    row = _rows()[-1]
    assert (row.outcome, row.kind) == ("ignored", "auto_reply")
    assert _point(VICTIM).status == "ok"


# --- attack 4: display-name spoofing ----------------------------------------------------------


def _spoofed(case: Case, from_header: str, text: str) -> bytes:
    """A reply citing the case, with the From header exactly as the attacker writes it."""
    raw = complaint(f"Re: your complaint [{case.reference}]", text).as_bytes()
    lines = [line for line in raw.split(b"\n") if not line.startswith(b"From:")]
    return f"From: {from_header}\n".encode() + b"\n".join(lines)


def test_an_encoded_word_display_name_never_becomes_the_sender(app):
    case = _victim_case()
    raw = _spoofed(
        case,
        f"=?utf-8?q?{VICTIM.replace('@', '=40')}?= <{ATTACKER}>",
        "Please send the refund to my new bank account 99-1234.",
    )
    assert b"victim1=40example.org" in raw  # the header as the attacker wrote it
    row = send_in(raw)
    db.session.refresh(case)
    assert [m.body for m in case.messages if m.direction == "inbound"] == ["They lost my payment."]
    # A new case for the address that really sent it, linked for review, never the victim's.
    assert row.outcome == "case_opened" and row.case_id != case.id
    assert row.case.customer.contact("email") == ATTACKER
    assert row.case.customer_id != case.customer_id
    assert row.case.customer.name is None  # "victim1@example.org" is not a name either
    assert row.case.related_case_id == case.id and row.case.has_flag("review_link")


def test_an_address_as_display_name_is_not_the_sender(app):
    alice = send_in(
        complaint("Debt collector", "Calls at work.", sender="alice@example.com").as_bytes()
    )
    raw = complaint("Another problem", "My car loan was sold.", sender="bob@example.com")
    del raw["From"]
    raw["From"] = "alice@example.com <bob@example.com>"
    row = send_in(raw.as_bytes())
    assert row.outcome == "case_opened"
    assert row.case.customer.contact("email") == "bob@example.com"
    assert row.case.customer_id != alice.case.customer_id
    alice_customer = db.session.get(Customer, alice.case.customer_id)
    assert [c.value for c in alice_customer.contacts] == ["alice@example.com"]


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ('"Doe, Pat" <pat@example.org>', "pat@example.org"),
        ("pat@example.org (Pat Doe)", "pat@example.org"),
        ('"alice@example.com" <bob@example.com>', "bob@example.com"),
        ("=?utf-8?q?alice=40example.com?= <bob@example.com>", "bob@example.com"),
        ('"a <alice@example.com>" <bob@example.com>', "bob@example.com"),
        ("Bob (alice@example.com) <bob@example.com>", "bob@example.com"),
        ("=?utf-8?q?alice=40example.com?=", None),
        ("Bob <bob@example.com> <alice@example.com>", None),
    ],
)
def test_the_sender_is_the_addr_spec_of_from(header, address):
    raw = f"From: {header}\nTo: {INTAKE}\nSubject: hi\n\nHello.\n".encode()
    assert parse_message(raw).from_address == address


# --- DMARC from our relay's Authentication-Results ------------------------------------------

RELAY_ID = "mx.agency.example"


@pytest.fixture
def trusted_relay(app):
    app.config["EMAIL_AUTHSERV_IDS"] = RELAY_ID
    yield
    app.config["EMAIL_AUTHSERV_IDS"] = ""


def _reply_from_victim(case: Case, results: list[str], text: str) -> bytes:
    mail = complaint(f"Re: [{case.reference}]", text, sender=VICTIM)
    raw = mail.as_bytes()
    head = "".join(f"Authentication-Results: {r}\n" for r in results).encode()
    return head + raw


def test_mail_failing_dmarc_never_threads_into_the_case_and_is_flagged(app, trusted_relay):
    case = _victim_case()
    raw = _reply_from_victim(
        case,
        [
            f"{RELAY_ID}; spf=fail smtp.mailfrom=evil.example; "
            "dkim=none; dmarc=fail (p=none dis=none) header.from=example.org",
            f"{RELAY_ID}; dmarc=pass header.from=example.org",  # the sender's own, forged
        ],
        "Close my case, I no longer need help.",
    )
    row = send_in(raw)
    db.session.refresh(case)
    assert len([m for m in case.messages if m.direction == "inbound"]) == 1
    assert row.outcome == "case_opened" and row.case_id != case.id
    assert row.case.has_flag("sender_unverified")
    assert "failed DMARC" in row.reason


def test_status_by_email_failing_dmarc_is_not_answered(app, trusted_relay):
    case = _victim_case()
    before = db.session.scalar(db.select(db.func.count(OutboxItem.id)))
    raw = _reply_from_victim(case, [f"{RELAY_ID}; dmarc=fail header.from=example.org"], "STATUS")
    row = send_in(raw)
    assert (row.outcome, row.kind) == ("ignored", "status") and "DMARC" in row.reason
    assert db.session.scalar(db.select(db.func.count(OutboxItem.id))) == before


def test_mail_passing_dmarc_threads_and_untrusted_results_are_no_verdict(app, trusted_relay):
    case = _victim_case()
    passed = send_in(
        _reply_from_victim(case, [f"{RELAY_ID}; dmarc=pass header.from=example.org"], "Update 1")
    )
    assert passed.outcome == "threaded" and passed.case_id == case.id
    untrusted = _reply_from_victim(case, ["mx.evil.example; dmarc=fail"], "Update 2")
    assert parse_message(untrusted, trusted_authserv_ids=(RELAY_ID,)).dmarc is None
    assert send_in(untrusted).outcome == "threaded"  # no verdict: the From address as before


# --- attack 5: worst-case headers are parsed in bounded time ---------------------------------


def _worst_case_messages() -> dict[str, bytes]:
    """Headers built to make a backtracking or quadratic parser spin, each near the cap."""
    word = "=?utf-8?q?" + "a" * 60 + "?="
    folded = "\r\n ".join([word] * 1500)  # ~100 KB of folded encoded-words
    params = ";\r\n ".join(f'p{i}="v"' for i in range(6000))  # a 60 KB Content-Type
    return {
        "folded encoded-word From": f"From: {folded} <a@example.org>\r\nTo: {INTAKE}\r\n"
        "Subject: x\r\n\r\nbody\r\n",
        "letters From": "From: " + "a" * 100_000 + f"\r\nTo: {INTAKE}\r\nSubject: x\r\n\r\nb\r\n",
        "dotted From": "From: " + "a." * 50_000 + f"\r\nTo: {INTAKE}\r\nSubject: x\r\n\r\nb\r\n",
        "parameter Content-Type": f"From: p@example.org\r\nTo: {INTAKE}\r\nSubject: x\r\n"
        f"Content-Type: text/plain; {params}\r\n\r\nbody\r\n",
        "bounce of dashes": "From: MAILER-DAEMON@example.org\r\nTo: x@y.org\r\n"
        "Subject: Undelivered Mail\r\n\r\n" + "-" * 100_000 + "\r\n",
        "bounce of letters": "From: MAILER-DAEMON@example.org\r\nTo: x@y.org\r\n"
        "Subject: Undelivered Mail\r\n\r\n" + "a" * 100_000 + "\r\n",
    }


def test_worst_case_headers_parse_in_bounded_time_at_the_door_and_in_the_job(app, client):
    """The old parser took 2.4 s for a 20 KB From (4.6 s for 36 KB) in the web worker and as
    much again in the job, growing with the square of the size: these inputs are 3-5 times
    larger, so quadratic parsing would take minutes. All of them, through the webhook door
    and the job together, must finish within a generous 20 s on a loaded 2-core machine."""
    app.config["INBOUND_EMAIL_TOKEN"] = "relay-token-123"
    headers = {"Authorization": "Bearer relay-token-123"}
    started = time.monotonic()
    try:
        for name, text in _worst_case_messages().items():
            response = client.post("/webhooks/email", data=text.encode(), headers=headers)
            assert response.status_code == 202, name
    finally:
        app.config["INBOUND_EMAIL_TOKEN"] = None
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{elapsed:.1f} s"
    rows = _rows()
    assert len(rows) == 6 and all(r.outcome != "pending" for r in rows)
    reasons = [r.reason for r in rows if r.reason]
    assert any("characters long" in r for r in reasons)  # an overlong From says why


def test_a_header_block_over_the_cap_is_kept_and_failed_with_the_reason(app):
    raw = b"From: p@example.org\nX-Filler: " + b"x" * 140_000 + b"\nSubject: x\n\nbody\n"
    row = send_in(raw)
    assert row.outcome == "failed" and "header block" in row.reason
    assert row.raw == raw
