"""The periodic jobs: one table, used by RQ's CronScheduler and by the inline scheduler."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    path: str
    queue: str
    interval: int | None = None  # seconds
    cron: str | None = None  # crontab expression, server local time
    timeout: int | None = None  # seconds a run may take (RQ's default: 180)


SCHEDULE = (
    Periodic("workers.jobs.sla_sweep", "sla", interval=60),
    Periodic("workers.jobs.reconcile_outbox", "notify", interval=60),
    # Inbound rows whose processing job was lost (Redis down at intake, a worker killed).
    Periodic("workers.jobs.reconcile_inbound", "default", interval=60),
    Periodic("workers.jobs.nightly_rollup", "default", cron="15 2 * * *"),
    # The published figures on /standards and GET /api/v1/performance.
    Periodic("workers.jobs.publish_performance", "default", interval=3600),
    # The routing model learns from the day's closed cases (only when enough have closed).
    Periodic("workers.jobs.retrain_routing_model", "default", cron="45 2 * * *", timeout=30 * 60),
    # The mailroom drop folder (SCAN_DROP_DIR); does nothing when it is not set. A run starts
    # files for 4 minutes, each read within SCAN_TIMEOUT_SECONDS (keep that under 25 minutes).
    Periodic("workers.jobs.scan_drop_folder", "intake", interval=60, timeout=30 * 60),
)
