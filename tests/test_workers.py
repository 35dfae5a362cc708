"""Workers: acknowledgments and updates through the outbox, the SLA sweep, retries, RQ."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.cases.models import Case, Event
from app.common.time import frozen_time
from app.extensions import db
from app.jobs import run_ready
from app.notify.delivery import deliver, reconcile
from app.notify.models import OutboxItem
from app.sla.models import SlaClock
from app.sla.sweep import sweep
from tests.helpers import act, ny

CFPB_WORKER = "caseworker@cfpb.example"


def file(client, headers=None, **extra) -> str:
    body = {
        "description": "A debt collector calls me at work.",
        "category": "credit-report",
        "email": "pat@example.org",
        **extra,
    }
    r = client.post("/api/v1/complaints", json=body, headers=headers or {})
    assert r.status_code == 201, r.json
    return r.json["reference"]


def case_of(ref: str) -> Case:
    db.session.expire_all()
    return db.session.scalar(select(Case).where(Case.reference == ref))


def outbox(ref: str | None = None, **where) -> list[OutboxItem]:
    db.session.expire_all()
    query = select(OutboxItem).order_by(OutboxItem.id)
    if ref:
        query = query.join(Case, Case.id == OutboxItem.case_id).where(Case.reference == ref)
    for key, value in where.items():
        query = query.where(getattr(OutboxItem, key) == value)
    return list(db.session.scalars(query))


# --- acknowledgments and updates, inline mode ---------------------------------------------


def test_acknowledgment_is_sent_once_with_reference_agency_and_promise(client):
    ref = file(client)
    [ack] = outbox(ref)
    assert ack.kind == "acknowledgment" and ack.channel == "email"
    assert ack.recipient == "pat@example.org"
    assert ack.state == "recorded"  # no SMTP relay configured: kept, visible on the case
    assert ref in ack.subject and ref in ack.body
    assert "Consumer Financial Protection Bureau" in ack.body
    assert "We will respond to you by" in ack.body
    assert deliver(ack.id) == "skipped"  # a second delivery of the same row does nothing
    assert reconcile() == 0
    assert len(outbox(ref)) == 1
    clock = next(c for c in case_of(ref).clocks if c.metric == "acknowledge")
    assert clock.phase == "met"


def test_spanish_case_gets_the_spanish_acknowledgment(client):
    ref = file(client, language="es")
    [ack] = outbox(ref)
    assert ack.language == "es"
    assert ack.subject.startswith("Recibimos su queja")
    assert "Le responderemos a más tardar el" in ack.body


def test_sms_customer_gets_a_short_acknowledgment_by_text(client):
    ref = file(client, email=None, phone="(202) 555-0143", preferred_contact="sms")
    [ack] = outbox(ref)
    assert ack.channel == "sms" and ack.recipient == "+12025550143"
    assert ack.subject is None and "\n" not in ack.body and len(ack.body) <= 320
    assert ref in ack.body


def test_updates_go_out_for_changes_that_matter_to_the_customer_only(client, staff_token):
    h = staff_token(CFPB_WORKER)
    ref = file(client)
    act(client, h, ref, action="assign")
    act(client, h, ref, action="start")
    act(client, h, ref, action="note", body="internal only")
    assert [o.kind for o in outbox(ref)] == ["acknowledgment"]
    act(client, h, ref, action="request_info", body="Which account number?")
    act(client, h, ref, action="reply", body="Thanks, we have it.")
    act(client, h, ref, action="resolve", resolution="The collector will stop calling you.")
    kinds = [o.kind for o in outbox(ref)]
    # Resolution also invites the customer to the A-11 §280 survey (tests/test_surveys.py).
    assert kinds == ["acknowledgment", "request_info", "message", "resolved", "survey_invitation"]
    resolved = outbox(ref)[-2]
    assert "has resolved your complaint" in resolved.body
    assert "The collector will stop calling you." in resolved.body
    full = client.get(f"/api/v1/cases/{ref}", headers=h).json
    sent = [m for m in full["messages"] if m["direction"] == "outbound"]
    assert [m["delivery"][0]["state"] for m in sent] == ["recorded"] * 5
    assert sent[2]["body"] == "Thanks, we have it."  # the case keeps what the worker wrote


def test_transfer_tells_the_customer_which_agency_has_it_now(client, staff_token):
    ref = file(client, category="identity-theft")
    act(
        client,
        staff_token("caseworker@ftc.example"),
        ref,
        action="transfer",
        agency="CFPB",
        reason="Bank account problem",
    )
    moved = outbox(ref)[-1]
    assert moved.kind == "transferred"
    assert "Consumer Financial Protection Bureau" in moved.subject


# --- SMTP: a real server on loopback (tests/smtp_support.py) ------------------------------


def test_smtp_sender_delivers_spanish_mail_intact_over_one_session(counting_sink):
    """Non-ASCII names, subjects and text arrive as written (RFC 2047 headers, quoted-printable
    text and HTML), long threading headers folded, several messages over one session."""
    import email
    from email import policy

    from channels.senders import OutboundMessage, SmtpSender

    url, received, sessions = counting_sink
    references = " ".join(f"<m{i}-0123456789abcdef@mail.example.org>" for i in range(10))
    agency = "Oficina para la Protección Financiera del Consumidor"
    text = "Hola José:\n\nRecibimos su queja — la referencia es RX-ABCD-EFGH.\n" + "ñ" * 120
    with SmtpSender(url, "quejas@redress.example") as sender:
        for n in range(3):
            sender.send(
                OutboundMessage(
                    channel="email",
                    to=f"jose{n}@example.org",
                    body=text,
                    subject="Recibimos su queja [RX-ABCD-EFGH] — gracias",
                    key=f"acknowledgment-{n}",
                    reference="RX-ABCD-EFGH",
                    sender_name=agency,
                    recipient_name="José",
                    headers={"In-Reply-To": "<m9-0123456789abcdef@mail.example.org>",
                             "References": references},
                )
            )  # fmt: skip
    assert len(received) == 3 and len(sessions) == 1
    mail = email.message_from_bytes(received[0].as_bytes(), policy=policy.default)
    assert mail["Subject"] == "Recibimos su queja [RX-ABCD-EFGH] — gracias"
    assert mail["From"].addresses[0].display_name == agency
    assert mail["References"].split() == references.split()
    assert mail.get_body(("plain",)).get_content().rstrip("\n") == text
    assert "José" in mail.get_body(("html",)).get_content()
    raw = received[0].as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


def test_acknowledgment_goes_out_through_the_smtp_relay(app, smtp_sink):
    url, received = smtp_sink
    app.config["SMTP_URL"] = url
    try:
        ref = file(app.test_client())
    finally:
        app.config["SMTP_URL"] = None
    [ack] = outbox(ref)
    assert ack.state == "sent" and ack.provider_ref.startswith("<acknowledgment-")
    [mail] = received
    assert ref in mail["Subject"] and mail["To"] == "pat@example.org"
    assert mail["Message-ID"] == ack.provider_ref
    text = mail.get_payload(0).get_payload(decode=True).decode()  # text, then its HTML twin
    assert "Consumer Financial Protection Bureau" in text


def test_relay_down_retries_with_backoff_then_parks_the_failure_on_the_case(app, staff_token):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{dead}"
    try:
        with frozen_time(ny(2026, 12, 1, 10, 0)):
            ref = file(app.test_client())
        [ack] = outbox(ref)
        assert ack.state == "retrying" and "unreachable" in ack.last_error
        at = ny(2026, 12, 1, 10, 0)
        for _ in range(10):  # keep retrying as the backoff allows
            at += timedelta(hours=5)
            with frozen_time(at):
                reconcile()
                run_ready()
        [ack] = outbox(ref)
        assert ack.state == "failed" and "gave up after" in ack.last_error
    finally:
        app.config["SMTP_URL"] = None
    full = app.test_client().get(f"/api/v1/cases/{ref}", headers=staff_token(CFPB_WORKER)).json
    assert full["events"][-1]["kind"] == "delivery_failed"
    ack_message = next(m for m in full["messages"] if m["delivery"])
    assert ack_message["delivery"][0]["state"] == "failed"
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "failed"])
    assert ref in listed.output and "1 failed delivery" in listed.output
    retried = runner.invoke(args=["outbox", "retry", str(ack.id)])
    assert retried.exit_code == 0
    assert outbox(ref)[0].state == "recorded"  # no relay configured now: recorded at once
    assert runner.invoke(args=["outbox", "retry", str(ack.id)]).exit_code != 0


# --- the SLA sweep ------------------------------------------------------------------------


def _open_assigned(client, staff_token, when) -> str:
    with frozen_time(when):
        ref = file(client)
        act(client, staff_token(CFPB_WORKER), ref, action="assign")
    return ref


def _clock(ref: str, metric: str) -> SlaClock:
    return next(c for c in case_of(ref).clocks if c.metric == metric)


def test_sweep_warns_at_risk_once_then_records_the_breach_once(client, staff_token):
    ref = _open_assigned(client, staff_token, ny(2026, 12, 1, 10, 0))
    first = _clock(ref, "first_response")
    risk_time, due_time = first.at_risk_at, first.due_at
    with frozen_time(risk_time + timedelta(minutes=1)):
        counts = sweep()
        again = sweep()
        run_ready()
    assert counts["at_risk"] >= 1 and again == {"at_risk": 0, "breached": 0, "escalated": 0}
    warnings = outbox(kind="at_risk")
    assert [w.recipient for w in warnings] == [CFPB_WORKER]  # the assignee, once
    assert ref in warnings[0].body
    with frozen_time(due_time + timedelta(minutes=1)):
        assert sweep()["breached"] >= 1
        assert sweep()["breached"] == 0
        run_ready()
    breach = outbox(kind="breached")
    assert {b.recipient for b in breach} == {CFPB_WORKER, "supervisor@cfpb.example"}
    kinds = [e.kind for e in case_of(ref).events]
    assert kinds.count("sla_at_risk") >= 1 and kinds.count("sla_breached") >= 1
    assert _clock(ref, "first_response").breached_at == due_time


def test_breach_left_unmet_escalates_to_leads_after_the_further_interval(client, staff_token):
    ref = _open_assigned(client, staff_token, ny(2026, 12, 1, 10, 0))
    due = _clock(ref, "first_response").due_at
    with frozen_time(due + timedelta(minutes=1)):
        sweep()
    escalate_at = _clock(ref, "first_response").escalate_at
    assert escalate_at > due  # 8 business hours later, on the agency's calendar
    with frozen_time(escalate_at - timedelta(minutes=1)):
        assert sweep()["escalated"] == 0
    with frozen_time(escalate_at + timedelta(minutes=1)):
        assert sweep()["escalated"] >= 1
        assert sweep()["escalated"] == 0
        run_ready()
    [escalation] = outbox(kind="escalated")
    assert escalation.recipient == "supervisor@cfpb.example"  # the agency's lead
    assert "escalated" in escalation.subject.lower() or "escalated" in escalation.body.lower()


def test_a_breach_answered_in_time_does_not_escalate(client, staff_token):
    h = staff_token(CFPB_WORKER)
    ref = _open_assigned(client, staff_token, ny(2026, 12, 1, 10, 0))
    due = _clock(ref, "first_response").due_at
    with frozen_time(due + timedelta(minutes=1)):
        sweep()
    with frozen_time(due + timedelta(minutes=30)):
        act(client, h, ref, action="reply", body="Sorry for the wait.")
    with frozen_time(due + timedelta(days=30)):
        sweep()
    assert outbox(kind="escalated") == []


def test_sla_sweep_command_takes_a_time(app, client, staff_token):
    ref = _open_assigned(client, staff_token, ny(2026, 12, 1, 10, 0))
    due = _clock(ref, "first_response").due_at
    result = app.test_cli_runner().invoke(
        args=["sla", "sweep", "--now", (due + timedelta(minutes=1)).isoformat()]
    )
    assert result.exit_code == 0 and "breached: " in result.output
    assert "breached: 0" not in result.output
    bad = app.test_cli_runner().invoke(args=["sla", "sweep", "--now", "next tuesday"])
    assert bad.exit_code != 0 and "--now" in bad.output


def test_two_sweeps_at_once_send_one_notice(app, client, staff_token):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    refs = [_open_assigned(client, staff_token, ny(2026, 12, 1, 10, 0)) for _ in range(20)]
    due = max(_clock(r, "first_response").due_at for r in refs)
    db.session.commit()
    results, barrier = [], threading.Barrier(2)

    def run():
        with app.app_context(), frozen_time(due + timedelta(minutes=1)):
            barrier.wait()
            results.append(sweep(limit=5))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r["breached"] for r in results) == 20 * 1  # each first_response clock once
    events = db.session.scalars(select(Event).where(Event.kind == "sla_breached")).all()
    breached_first = [e for e in events if e.after["metric"] == "first_response"]
    assert len(breached_first) == 20


# --- RQ on the real Redis -----------------------------------------------------------------


@pytest.fixture
def redis_app(app, redis_url):
    application = create_app(
        "test", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url
    )
    with application.app_context():
        yield application
        db.session.remove()


def _burst(url: str) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    from app.jobs import QUEUES

    conn = Redis.from_url(url)
    queues = [Queue(n, connection=conn) for n in QUEUES]
    SimpleWorker(queues, connection=conn).work(burst=True)


def test_with_redis_the_acknowledgment_waits_for_a_worker_and_goes_out_once(redis_app, redis_url):
    from redis import Redis
    from rq import Queue

    client = redis_app.test_client()
    with frozen_time(ny(2026, 11, 25, 10, 0)):  # the Wednesday before Thanksgiving
        ref = file(client)
        [ack] = outbox(ref)
        assert ack.state == "queued"
        assert Queue("notify", connection=Redis.from_url(redis_url)).count == 1
        page = client.get(f"/api/v1/track/{ref}?contact=pat@example.org").json
        ack_clock = next(c for c in page["sla"] if c["metric"] == "acknowledge")
        assert ack_clock["state"] == "on_track"
        assert ack_clock["due_at"].startswith("2026-11-27T15:00")  # Friday 10:00 in New York
        _burst(redis_url)
    [ack] = outbox(ref)
    assert ack.state == "recorded" and ack.attempts == 1
    assert _clock(ref, "acknowledge").phase == "met"
    health = client.get("/healthz").json
    assert health["queue"] == "ok"
    metrics = client.get("/metrics").data.decode()
    assert 'redress_outbox{state="recorded"} 1.0' in metrics
    assert 'redress_queue_jobs{queue="notify"} 0.0' in metrics


def test_redis_down_during_intake_loses_nothing(app, tmp_path):
    """A private Redis is stopped while a complaint comes in, then started again."""
    import shutil
    import socket
    import subprocess
    import time

    from redis import Redis

    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"

    def start():
        proc = subprocess.Popen(  # noqa: S603
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                Redis.from_url(url).ping()
                return proc
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        raise RuntimeError("redis did not start")

    server = start()
    application = create_app(
        "test", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=url
    )
    with application.app_context():
        server.terminate()
        server.wait(10)
        client = application.test_client()
        assert client.get("/healthz").json["queue"] == "down"
        t0 = ny(2026, 12, 1, 10, 0)
        with frozen_time(t0):
            ref = file(client)  # the case commits and the customer gets the reference
        assert case_of(ref) is not None
        [ack] = outbox(ref)
        assert ack.state == "queued"
        server = start()
        try:
            with frozen_time(t0 + timedelta(minutes=3)):
                assert reconcile() == 1
                run_ready()
                _burst(url)
            [ack] = outbox(ref)
            assert ack.state == "recorded" and ack.attempts == 1
        finally:
            server.terminate()
            server.wait(10)
        db.session.remove()


def test_a_delivery_left_sending_by_a_killed_worker_is_retried_and_sent_once(client):
    t0 = ny(2026, 12, 1, 10, 0)
    with frozen_time(t0):
        ref = file(client, preferred_contact="none", phone="(202) 555-0143")
        case = case_of(ref)
    # A row claimed by a worker that died before it recorded the outcome.
    row = OutboxItem(
        case_id=case.id,
        audience="customer",
        kind="message",
        channel="sms",
        recipient="+12025550143",
        body="Update",
        state="sending",
        attempts=1,
        claimed_at=t0,
        next_attempt_at=t0,
    )
    db.session.add(row)
    db.session.commit()
    with frozen_time(t0 + timedelta(minutes=5)):
        assert reconcile() == 0  # it may still be sending
    with frozen_time(t0 + timedelta(minutes=11)):
        assert reconcile() == 1
        run_ready()
    db.session.expire_all()
    row = db.session.get(OutboxItem, row.id)
    assert row.state == "recorded" and row.attempts == 2
    assert deliver(row.id) == "skipped"


def test_failed_jobs_are_listed_with_their_error_and_can_be_retried(redis_app, redis_url):
    from redis import Redis
    from rq import Queue

    conn = Redis.from_url(redis_url)
    job = Queue("sla", connection=conn).enqueue("workers.jobs.sla_sweep", "not a time")
    _burst(redis_url)
    from click.testing import CliRunner

    from workers.cli import jobs

    listed = CliRunner().invoke(jobs, ["failed"])
    assert listed.exit_code == 0, listed.output
    assert job.id in listed.output and "1 failed job(s)" in listed.output
    retried = CliRunner().invoke(jobs, ["retry", job.id])
    assert retried.exit_code == 0 and "Retried 1" in retried.output
    assert Queue("sla", connection=conn).count == 1


def test_redress_worker_process_delivers_in_burst_mode(redis_app, redis_url):
    """The real `redress worker --burst` command, as an operator runs it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    ref = file(redis_app.test_client())
    assert outbox(ref)[0].state == "queued"
    db.session.commit()
    redress = Path(sys.executable).with_name("redress")
    env = {
        **os.environ,
        "REDRESS_ENV": "development",
        "REDIS_URL": redis_url,
        "DATABASE_URL": redis_app.config["SQLALCHEMY_DATABASE_URI"],
    }
    done = subprocess.run(  # noqa: S603
        [str(redress), "worker", "--burst"], env=env, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    [ack] = outbox(ref)
    assert ack.state == "recorded" and ack.attempts == 1


# --- The outbox drain ----------------------------------------------------------------------


def _queued_acknowledgments(n: int) -> list[int]:
    """n complaints whose acknowledgments are queued but not yet delivered."""
    from app.cases.service import open_case
    from app.jobs import _READY
    from channels.intake import Intake

    for i in range(n):
        open_case(
            Intake(
                channel="web",
                description=f"Robocalls every day ({i})",
                email=f"person{i}@example.org",
            )
        )
    db.session.info.pop(_READY, None)  # as if no worker had run yet
    return [o.id for o in outbox()]


def test_one_drain_delivers_a_backlog_over_one_smtp_session(app, counting_sink):
    from app.notify.delivery import drain

    url, received, sessions = counting_sink
    ids = _queued_acknowledgments(7)
    app.config["SMTP_URL"] = url
    try:
        assert drain() == 7
    finally:
        app.config["SMTP_URL"] = None
    assert len(received) == 7 and len(sessions) == 1
    assert {o.state for o in outbox()} == {"sent"}
    assert sorted(m["Message-ID"] for m in received) == sorted(
        o.provider_ref for o in outbox() if o.id in ids
    )
    assert drain() == 0  # nothing twice


def test_one_batch_records_each_row_on_its_own_case(app, counting_sink):
    """A drain records a whole batch in one transaction: an address that bounced in the
    middle fails without holding up the others, and each acknowledgment meets only its own
    case's clock."""
    from app.customers.service import set_contact_status
    from app.notify.delivery import drain

    url, received, _ = counting_sink
    _queued_acknowledgments(5)
    set_contact_status("email", "person2@example.org", "undeliverable", "550 no such user", None)
    db.session.commit()
    app.config["SMTP_URL"] = url
    try:
        assert drain() == 5
    finally:
        app.config["SMTP_URL"] = None
    assert sorted(m["To"] for m in received) == [f"person{i}@example.org" for i in (0, 1, 3, 4)]
    items = {o.recipient: o for o in outbox()}
    dead = items.pop("person2@example.org")
    assert dead.state == "failed" and "undeliverable" in dead.last_error
    assert {o.state for o in items.values()} == {"sent"}
    for recipient, item in [*items.items(), ("person2@example.org", dead)]:
        case = db.session.get(Case, item.case_id)
        ack = next(c for c in case.clocks if c.metric == "acknowledge")
        kinds = [e.kind for e in case.events]
        if recipient == "person2@example.org":
            assert ack.phase == "running" and "delivery_failed" in kinds
        else:
            assert ack.phase == "met" and kinds.count("acknowledged") == 1


def test_two_drains_at_once_send_each_message_once(app, counting_sink):
    from app.notify import delivery

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    url, received, _ = counting_sink
    _queued_acknowledgments(30)
    db.session.commit()
    barrier, handled = threading.Barrier(2), []
    app.config["SMTP_URL"] = url
    original = delivery.DRAIN_BATCH
    delivery.DRAIN_BATCH = 5  # small batches, so the two drains interleave

    def run():
        with app.app_context():
            barrier.wait()
            handled.append(delivery.drain())
            db.session.remove()

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        app.config["SMTP_URL"] = None
        delivery.DRAIN_BATCH = original
    assert sum(handled) == 30 and len(received) == 30
    assert len({m["Message-ID"] for m in received}) == 30


def test_with_redis_many_commits_queue_one_drain_and_a_later_one_queues_again(redis_app, redis_url):
    from redis import Redis
    from rq import Queue

    client = redis_app.test_client()
    refs = [file(client) for _ in range(3)]
    notify = Queue("notify", connection=Redis.from_url(redis_url))
    assert notify.count == 1  # one drain for three acknowledgments
    _burst(redis_url)
    assert {o.state for r in refs for o in outbox(r)} == {"recorded"}
    later = file(client)  # the drain has started (and finished): this asks for a new one
    assert notify.count == 1
    _burst(redis_url)
    assert [o.state for o in outbox(later)] == ["recorded"]
