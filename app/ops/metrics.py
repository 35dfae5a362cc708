"""GET /metrics: Prometheus text for operators (queues, failed jobs, outbox, cases, SLA)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import and_, func, select

from app.cases.models import Case
from app.common.time import utcnow
from app.extensions import db
from app.inbound.service import pending as inbound_pending
from app.notify.models import OutboxItem
from app.sla.models import SlaClock

bp = Blueprint("metrics", __name__)


class _Collector:
    """Computed at scrape time from the database and Redis; nothing is kept in memory, so
    every web process reports the same figures."""

    def collect(self):
        now = utcnow()
        cases = GaugeMetricFamily("redress_cases", "Cases by status", labels=["status"])
        for status, count in db.session.execute(
            select(Case.status, func.count()).group_by(Case.status)
        ):
            cases.add_metric([status], count)
        yield cases

        clocks = GaugeMetricFamily(
            "redress_sla_clocks", "Unfinished SLA clocks by state", labels=["state"]
        )
        c = SlaClock
        running = c.phase == "running"
        for state, cond in (
            ("on_track", and_(running, c.at_risk_at > now)),
            ("at_risk", and_(running, c.at_risk_at <= now, c.due_at > now)),
            ("breached", and_(running, c.due_at <= now)),
            ("paused", c.phase == "paused"),
        ):
            clocks.add_metric([state], db.session.scalar(select(func.count()).where(cond)))
        yield clocks

        outbox = GaugeMetricFamily(
            "redress_outbox", "Notifications by delivery state", labels=["state"]
        )
        for state, count in db.session.execute(
            select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
        ):
            outbox.add_metric([state], count)
        yield outbox

        state = inbound_pending(now)
        waiting = GaugeMetricFamily(
            "redress_inbound_pending",
            "Inbound messages stored and not yet processed",
            labels=["channel"],
        )
        for channel, count in state["by_channel"].items():
            waiting.add_metric([channel], count)
        yield waiting
        yield GaugeMetricFamily(
            "redress_inbound_pending_oldest_seconds",
            "How long the oldest pending inbound message has waited",
            value=state["oldest_seconds"],
        )

        if current_app.config.get("REDIS_URL"):
            yield from _queue_metrics()


def _queue_metrics():
    from redis.exceptions import RedisError
    from rq import Queue

    from app.jobs import QUEUES
    from app.queueing import connection

    depth = GaugeMetricFamily("redress_queue_jobs", "Jobs waiting per queue", labels=["queue"])
    failed = GaugeMetricFamily("redress_queue_failed_jobs", "Failed jobs", labels=["queue"])
    up = GaugeMetricFamily("redress_queue_up", "1 when Redis answers")
    try:
        for name in QUEUES:
            queue = Queue(name, connection=connection())
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        up.add_metric([], 1)
    except (RedisError, OSError):
        up.add_metric([], 0)
    yield from (depth, failed, up)


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in ("127.0.0.1", "::1")


@bp.get("/metrics")
def metrics():
    if not _allowed():
        abort(403)
    registry = CollectorRegistry()
    registry.register(_Collector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
