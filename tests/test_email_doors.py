"""The email doors and outbound mail, over real connections on loopback: smtplib against
`redress smtp` (aiosmtpd), the webhook, the file door, and our replies through an SMTP relay
(an aiosmtpd sink with STARTTLS or TLS and authentication)."""

from __future__ import annotations

import asyncio
import email
import smtplib
import ssl
import subprocess
import threading
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from app.cases.models import Case
from app.email.smtp import SmtpDoor
from app.extensions import db
from app.inbound.models import InboundMessage
from app.jobs import run_ready
from app.notify.models import OutboxItem
from tests.email_support import INTAKE, complaint, send_in
from tests.helpers import act

# The implicit-TLS relay sink runs aiosmtpd with TLS from the socket, which aiosmtpd cannot see.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

FIXTURES = Path(__file__).parent / "fixtures" / "email" / "messages"


def rows() -> list[InboundMessage]:
    db.session.expire_all()
    return db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)).all()


def case_count() -> int:
    return db.session.scalar(db.select(db.func.count(Case.id)))


# --- the inbound SMTP door -------------------------------------------------------------------


@pytest.fixture
def smtp_door(app):
    door = SmtpDoor(app, "127.0.0.1", 0, max_bytes=200_000)
    port = door.start()
    yield port
    door.stop()


def test_smtp_complaint_is_stored_answered_and_opens_a_routed_case(app, smtp_door):
    mail = complaint()
    with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as client:
        client.ehlo("mail.example.org")
        assert client.has_extn("size") and client.esmtp_features["size"] == "200000"
        code, reply = client.mail("pat@example.org")
        assert code == 250
        assert client.rcpt(INTAKE)[0] == 250
        code, reply = client.data(mail.as_bytes(policy=policy.SMTP))
    assert code == 250 and b"stored as" in reply
    [row] = rows()
    assert row.source == "smtp" and row.outcome == "case_opened"
    assert row.meta["mail_from"] == "pat@example.org" and row.meta["rcpt_to"] == [INTAKE]
    assert row.meta["summary"].startswith("p***@example.org: Robocalls")
    stored = row.raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    assert stored == mail.as_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")  # as received
    case = row.case
    assert case.agency.code == "FCC" and case.channel == "email"
    assert case.messages[0].external_id == mail["Message-ID"]
    ack = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    assert ack.kind == "acknowledgment" and ack.recipient == "pat@example.org"
    assert f"[{case.reference}]" in ack.subject


def test_smtp_refuses_unknown_recipients_during_rcpt(app, smtp_door):
    with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as client:
        client.ehlo()
        client.mail("pat@example.org")
        code, reply = client.rcpt("someone-else@redress.localhost")
        assert code == 550 and b"No such recipient" in reply
        assert client.rcpt(INTAKE.upper())[0] == 250  # addresses are not case-sensitive
        assert client.data(complaint().as_bytes(policy=policy.SMTP))[0] == 250
    [row] = rows()
    assert row.meta["rcpt_to"] == [INTAKE.upper()]
    with (
        smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        client.sendmail("pat@example.org", ["nobody@elsewhere.example"], b"Subject: x\n\nx")
    assert refused.value.recipients["nobody@elsewhere.example"][0] == 550
    assert len(rows()) == 1


def test_smtp_refuses_oversize_mail_with_552_and_stores_nothing(app, smtp_door):
    with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("pat@example.org", ["SIZE=300000"])
        assert code == 552  # declared too big: refused before any data is sent
    big = complaint(body="Robocalls.\n" + ("x" * 70 + "\n") * 4000)
    with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as client:
        client.ehlo()
        client.mail("pat@example.org")
        client.rcpt(INTAKE)
        code, reply = client.data(big.as_bytes(policy=policy.SMTP))
        assert code == 552, reply  # undeclared, found while reading DATA
    assert rows() == []


def test_smtp_answers_250_for_an_unreadable_message_kept_failed_and_retryable(
    app, smtp_door, client, staff_token
):
    with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as conn:
        conn.ehlo()
        conn.mail("pat@example.org")
        conn.rcpt(INTAKE)
        code, _ = conn.data(b"this is not an email at all, no headers\r\n")
    assert code == 250  # it is safely stored; what went wrong is the operator's to see
    [row] = rows()
    assert row.outcome == "failed" and "not an RFC 5322 message" in row.reason
    admin = staff_token("admin@redress.example")
    listed = client.get("/api/v1/inbound?channel=email&outcome=failed", headers=admin).get_json()
    assert [r["id"] for r in listed["inbound"]] == [row.id]
    assert client.post(f"/api/v1/inbound/{row.id}/retry", headers=admin).status_code == 202
    assert rows()[0].attempts == 2 and rows()[0].outcome == "failed"


def test_smtp_redelivery_of_the_same_message_is_one_case(app, smtp_door):
    mail = complaint()
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", smtp_door, timeout=10) as conn:
            assert conn.sendmail("pat@example.org", [INTAKE], mail.as_string()) == {}
    assert len(rows()) == 1 and case_count() == 1


def test_smtp_answers_451_while_the_database_is_down_so_the_sender_retries(app):
    import socket

    from app import create_app

    with socket.socket() as s:  # a port nothing listens on: the database is unreachable
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    down = create_app(
        "test", SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{dead_port}/x"
    )
    door = SmtpDoor(down, "127.0.0.1", 0)
    port = door.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as conn:
            conn.ehlo()
            conn.mail("pat@example.org")
            assert conn.rcpt(INTAKE)[0] == 250
            code, reply = conn.data(complaint().as_bytes(policy=policy.SMTP))
    finally:
        door.stop()
    assert code == 451 and b"try again later" in reply  # the sending server keeps it
    assert rows() == []


def test_cli_smtp_command_is_registered(app):
    result = app.test_cli_runner().invoke(args=["smtp", "--help"])
    assert result.exit_code == 0 and "--port" in result.output


# --- the webhook door ------------------------------------------------------------------------


@pytest.fixture
def hook_token(app):
    app.config["INBOUND_EMAIL_TOKEN"] = "relay-secret-123"
    yield {"Authorization": "Bearer relay-secret-123", "Content-Type": "message/rfc822"}
    app.config["INBOUND_EMAIL_TOKEN"] = None


def test_webhook_needs_the_bearer_token(app, client, hook_token):
    raw = complaint().as_bytes()
    assert client.post("/webhooks/email", data=raw).status_code == 401
    wrong = client.post("/webhooks/email", data=raw, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert rows() == []
    app.config["INBOUND_EMAIL_TOKEN"] = None  # not configured: the door is shut
    shut = client.post("/webhooks/email", data=raw, headers=hook_token)
    assert shut.status_code == 403


def test_webhook_stores_and_processes_a_raw_message_without_csrf(app, client, hook_token):
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the webhook is exempt
    try:
        raw = complaint("Equifax", "Equifax put a wrong account on my credit report.").as_bytes()
        got = client.post("/webhooks/email", data=raw, headers=hook_token)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert got.status_code == 202
    body = got.get_json()
    assert body["outcome"] == "case_opened" and body["duplicate"] is False
    [row] = rows()
    assert row.id == body["id"] and row.source == "webhook" and row.case.agency.code == "CFPB"
    again = client.post("/webhooks/email", data=raw, headers=hook_token)
    assert again.status_code == 200 and again.get_json() == {**body, "duplicate": True}
    assert case_count() == 1


def test_webhook_rejects_empty_and_oversize_bodies(app, client, hook_token):
    empty = client.post("/webhooks/email", data=b"  ", headers=hook_token)
    assert empty.status_code == 422 and "body" in empty.get_json()["errors"]
    app.config["EMAIL_MAX_MESSAGE_BYTES"] = 10_000
    try:
        big = client.post("/webhooks/email", data=b"x" * 20_000, headers=hook_token)
    finally:
        app.config["EMAIL_MAX_MESSAGE_BYTES"] = 25 * 1024 * 1024
    assert big.status_code == 413
    assert rows() == []


# --- the file door (`redress intake email`) -------------------------------------------------


def test_cli_ingests_files_and_prints_each_outcome(app):
    runner = app.test_cli_runner()
    good = FIXTURES / "new_plain_airline_refund.eml"
    auto = FIXTURES / "auto_ooo_subject_german.eml"
    result = runner.invoke(args=["intake", "email", str(good), str(auto)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    [case] = db.session.scalars(db.select(Case)).all()
    assert lines[0].endswith(f"case_opened {case.reference}")
    assert "ignored: automatic reply (subject: Abwesenheitsnotiz" in lines[1]
    again = runner.invoke(args=["intake", "email", str(good)])
    assert "(already received)" in again.output and again.exit_code == 0


def test_cli_reads_standard_input_and_fails_loudly(app, tmp_path):
    runner = app.test_cli_runner()
    raw = complaint("Overtime", "My employer does not pay overtime.").as_bytes()
    result = runner.invoke(args=["intake", "email", "-"], input=raw)
    assert result.exit_code == 0 and "case_opened" in result.output
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01 not mail")
    failed = runner.invoke(args=["intake", "email", str(junk), str(tmp_path / "missing.eml")])
    assert failed.exit_code != 0
    assert "failed: unreadable email" in failed.output
    assert "cannot read it" in failed.output and "2 of 2 message(s) failed" in failed.output


# --- the per-sender limit ---------------------------------------------------------------------


def test_a_flood_from_one_sender_is_kept_but_not_acted_on(app):
    from app.email.intake import accept

    app.config["EMAIL_SENDER_LIMIT"] = 2
    try:
        for i in range(4):
            accept(complaint(f"Robocall {i}", f"Robocall number {i}.").as_bytes(), "file")
            db.session.commit()
            run_ready()
        accept(complaint("Other", "Robocalls.", sender="sam@example.org").as_bytes(), "file")
        db.session.commit()
        run_ready()
    finally:
        app.config["EMAIL_SENDER_LIMIT"] = 20
    got = [(r.outcome, r.kind) for r in rows()]
    assert got == [
        ("case_opened", "new_case"),
        ("case_opened", "new_case"),
        ("ignored", "rate_limited"),
        ("ignored", "rate_limited"),
        ("case_opened", "new_case"),
    ]
    assert "more than 2 messages from this sender" in rows()[2].reason
    assert rows()[3].raw  # nothing lost
    assert case_count() == 3


# --- outbound: our replies through an SMTP relay ---------------------------------------------


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), trusted by the tests only."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


class RelaySink:
    """An SMTP relay on loopback (port 0): STARTTLS or implicit TLS, with AUTH."""

    def __init__(self, cert: str, key: str, implicit_tls: bool) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.logins: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.context = context
        self.implicit = implicit_tls
        self.loop = asyncio.new_event_loop()
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append(
            email.message_from_bytes(envelope.original_content, policy=policy.default)
        )
        return "250 OK"

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"relay-pass"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    def _factory(self):
        kwargs = {"authenticator": self._auth, "auth_required": True}
        if self.implicit:
            return SMTP(self, auth_require_tls=False, **kwargs)
        return SMTP(self, tls_context=self.context, require_starttls=True, **kwargs)

    def start(self) -> None:
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            ssl_ctx = self.context if self.implicit else None
            self.server = self.loop.run_until_complete(
                self.loop.create_server(self._factory, "127.0.0.1", 0, ssl=ssl_ctx)
            )
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(params=["smtp+starttls", "smtps"])
def relay(request, app, tls_files, monkeypatch):
    sink = RelaySink(*tls_files, implicit_tls=request.param == "smtps")
    sink.start()
    monkeypatch.setenv("SSL_CERT_FILE", tls_files[0])  # trust the test certificate
    app.config["SMTP_URL"] = f"{request.param}://relay%40redress:relay-pass@127.0.0.1:{sink.port}"
    yield sink
    app.config["SMTP_URL"] = None
    sink.stop()


def test_a_whole_email_conversation_threads_both_ways(app, relay, client, staff_token):
    first = complaint("Credit report", "Equifax reports a loan that is not mine.")
    row = send_in(first.as_bytes())
    case = row.case
    # 1. The acknowledgment: through the relay, authenticated, threaded, text + HTML.
    [ack] = relay.received
    assert relay.logins == ["relay@redress"]
    assert ack["To"] == "pat@example.org"
    assert email.utils.parseaddr(ack["From"]) == (case.agency.name, INTAKE)
    assert ack["Subject"] == f"We received your complaint [{case.reference}]"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == first["Message-ID"]
    assert ack["References"] == first["Message-ID"]
    assert ack["Message-ID"].endswith("@redress.localhost>")
    assert ack.get_content_type() == "multipart/alternative"
    text = ack.get_body(("plain",)).get_content()
    html = ack.get_body(("html",)).get_content()
    assert case.reference in text and case.reference in html and "<p>" in html
    item = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == case.id))
    assert item.state == "sent" and item.provider_ref == ack["Message-ID"]

    # 2. The customer answers from a phone: no reference in the subject, only In-Reply-To.
    answer = complaint(
        "Re: your message",
        "It is account 4411.\n\nSent from my iPhone\n\n> On Monday, CFPB wrote:\n> Hello",
        In_Reply_To=ack["Message-ID"],
        References=f"{first['Message-ID']} {ack['Message-ID']}",
    )
    reply_row = send_in(answer.as_bytes())
    assert reply_row.outcome == "threaded" and reply_row.case_id == case.id
    assert reply_row.message.body == "It is account 4411."
    assert len(relay.received) == 1  # a reply is not acknowledged again

    # 3. The caseworker answers: it threads under the customer's latest message.
    headers = staff_token("caseworker@cfpb.example")
    act(
        client,
        headers,
        case.reference,
        action="reply",
        body="Thank you; we asked Equifax to fix it.",
    )
    run_ready()
    out = relay.received[-1]
    assert out["Subject"] == f"About your complaint [{case.reference}]"
    assert out["In-Reply-To"] == answer["Message-ID"]
    assert out["References"].split() == [
        first["Message-ID"],
        ack["Message-ID"],
        answer["Message-ID"],
    ]
    assert out["Auto-Submitted"] == "no"
    assert "we asked Equifax to fix it" in out.get_body(("plain",)).get_content()


def test_a_bounce_of_our_acknowledgment_stops_email_and_flags_the_case(app, relay):
    row = send_in(complaint("Robocalls", "Robocalls all day.").as_bytes())
    case = row.case
    [ack] = relay.received
    bounce = (
        "From: MAILER-DAEMON@mx.example.org\nTo: complaints@redress.localhost\n"
        "Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nUser unknown.\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; pat@example.org\n"
        f"Action: failed\nStatus: 5.1.1\n--b\nContent-Type: text/rfc822-headers\n\n"
        f"Message-ID: {ack['Message-ID']}\n--b--\n"
    ).encode()
    bounced = send_in(bounce)
    assert bounced.outcome == "ignored" and bounced.kind == "bounce"
    db.session.refresh(case)
    assert case.has_flag("contact_undeliverable")
    assert case.customer.contacts[0].status == "undeliverable"
    assert len(relay.received) == 1  # no acknowledgment for a bounce, no loop
    # The next message to this customer is not sent to the dead address.
    from app.notify.service import notify_customer

    message, item = notify_customer(case, "message", body="Any news?")
    db.session.commit()
    assert item is None and len(relay.received) == 1
    # Then the customer writes again from that address: it works, so it is usable again.
    again = send_in(complaint(f"Re: [{case.reference}]", "My mailbox was full, sorry.").as_bytes())
    assert again.outcome == "threaded" and again.case_id == case.id
    db.session.refresh(case)
    assert case.customer.contacts[0].status == "ok"
    assert case.has_flag("contact_undeliverable")  # a caseworker clears the flag


# --- at scale: the doors answer at once, an RQ worker processes ------------------------------


@pytest.fixture
def redis_app(app, redis_url):
    from app import create_app

    application = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=redis_url,
        INBOUND_EMAIL_TOKEN="relay-secret-123",
    )
    with application.app_context():
        yield application
        db.session.remove()


def test_with_redis_the_webhook_answers_at_once_and_a_worker_opens_the_case(redis_app, redis_url):
    from redis import Redis
    from rq import Queue, SimpleWorker

    from app.jobs import QUEUES

    raw = complaint("Overtime", "My employer has not paid overtime for six weeks.").as_bytes()
    got = redis_app.test_client().post(
        "/webhooks/email", data=raw, headers={"Authorization": "Bearer relay-secret-123"}
    )
    assert got.status_code == 202 and got.get_json()["outcome"] == "pending"
    conn = Redis.from_url(redis_url)
    assert Queue("intake", connection=conn).count == 1
    assert case_count() == 0  # stored and answered; nothing processed yet
    SimpleWorker([Queue(n, connection=conn) for n in QUEUES], connection=conn).work(burst=True)
    [row] = rows()
    assert row.outcome == "case_opened" and row.case.agency.code == "DOL-WHD"
    ack = db.session.scalar(db.select(OutboxItem).where(OutboxItem.case_id == row.case_id))
    assert ack.state == "recorded"  # the acknowledgment job ran on the same worker
