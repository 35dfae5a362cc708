"""Every accepted intake reaches an outcome without a human (issue 15): a message stored and
answered "accepted" while Redis was down, or whose job died with its worker, is queued again
by the inbound reconciler (`redress cron` runs it every minute) and becomes a case once."""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app.cases.models import Case
from app.common.time import frozen_time
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage
from app.jobs import QUEUES, run_ready
from app.notify.models import OutboxItem
from tests.email_support import complaint, send_in
from tests.helpers import another_app, ny
from tests.redis_support import private_redis as redis_server  # noqa: F401 - a fixture

T0 = ny(2026, 12, 1, 10, 0)


def _burst(url: str) -> None:
    conn = Redis.from_url(url)
    SimpleWorker([Queue(n, connection=conn) for n in QUEUES], connection=conn).work(burst=True)


def _row(row_id: int) -> InboundMessage:
    db.session.expire_all()
    return db.session.get(InboundMessage, row_id)


def _acknowledgments(case: Case) -> int:
    return db.session.scalar(
        select(func.count()).where(
            OutboxItem.case_id == case.id, OutboxItem.kind == "acknowledgment"
        )
    )


def test_mail_accepted_while_redis_is_down_becomes_one_case_when_it_returns(app, redis_server):
    with another_app(app, REDIS_URL=redis_server.url) as application, application.app_context():
        client = application.test_client()
        redis_server.stop()
        with frozen_time(T0):
            row = send_in(complaint(body="The pharmacy billed my insurance twice.").as_bytes())
        # Stored and answered; its job could not be queued.
        row = _row(row.id)
        assert (row.outcome, row.attempts) == ("pending", 0)
        assert db.session.scalar(select(func.count(Case.id))) == 0
        metrics = client.get("/metrics").data.decode()
        assert 'redress_inbound_pending{channel="email"} 1.0' in metrics

        redis_server.start()
        with frozen_time(T0 + timedelta(seconds=30)):
            assert inbound.reconcile() == 0  # not stale yet: its own job may still come
        with frozen_time(T0 + timedelta(minutes=2)):
            assert inbound.reconcile() == 1
            run_ready()
            # A second reconciler run (or a second cron) queues no second job for it.
            assert inbound.reconcile() == 1
            run_ready()
            assert Queue("intake", connection=Redis.from_url(redis_server.url)).count == 1
            _burst(redis_server.url)

        row = _row(row.id)
        assert row.outcome == "case_opened" and row.attempts == 1
        (case,) = db.session.scalars(select(Case)).all()
        assert case.description.startswith("The pharmacy billed my insurance twice.")
        assert _acknowledgments(case) == 1
        with frozen_time(T0 + timedelta(minutes=4)):
            assert inbound.reconcile() == 0
        assert inbound.pending()["total"] == 0
        metrics = client.get("/metrics").data.decode()
        assert 'redress_inbound_pending{channel="email"} 0.0' in metrics
        db.session.remove()


def test_a_job_queued_twice_for_one_row_opens_one_case(app, redis_server):
    """The reconciler and the door both queue the row (the door's job was only slow): the
    second run finds it done."""
    with another_app(app, REDIS_URL=redis_server.url) as application, application.app_context():
        with frozen_time(T0):
            row = send_in(complaint(body="My landlord kept the whole deposit.").as_bytes())
        conn = Redis.from_url(redis_server.url)
        Queue("intake", connection=conn).enqueue("workers.jobs.process_inbound", row.id)
        _burst(redis_server.url)
        assert _row(row.id).outcome == "case_opened" and _row(row.id).attempts == 1
        assert db.session.scalar(select(func.count(Case.id))) == 1
        db.session.remove()


def test_without_redis_the_cli_shows_and_requeues_what_a_crash_left_pending(app):
    """Embedded mode: the process died between storing the mail and running its job."""
    row, _ = inbound.receive(
        "email",
        "file",
        complaint(body="The bus skipped my stop all week.").as_bytes(),
        dedupe_key="crash-1",
    )
    db.session.commit()
    db.session.info.pop("redress.jobs.ready", None)  # the process died here
    row.received_at = row.received_at - timedelta(minutes=5)
    db.session.commit()

    runner = app.test_cli_runner()
    shown = runner.invoke(args=["inbound", "pending"])
    assert shown.exit_code == 0
    assert "1 pending inbound message (1 email); the oldest has waited 5 min" in shown.output
    assert "1 waited more than a minute" in shown.output

    fixed = runner.invoke(args=["inbound", "pending", "--requeue"])
    assert fixed.exit_code == 0, fixed.output
    assert "Queued 1 stale inbound message again." in fixed.output
    assert "0 pending inbound messages." in fixed.output
    assert _row(row.id).outcome == "case_opened"
    assert db.session.scalar(select(func.count(Case.id))) == 1


def test_the_reconciler_runs_every_minute_in_both_schedulers():
    from workers.schedule import SCHEDULE

    (entry,) = [p for p in SCHEDULE if p.path == "workers.jobs.reconcile_inbound"]
    assert entry.interval == 60
