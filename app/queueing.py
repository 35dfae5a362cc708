"""RQ queues on Redis: the connection and enqueueing by job path."""

from __future__ import annotations

import contextlib
import logging
from functools import cache

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

log = logging.getLogger(__name__)

# A job that raises is retried with backoff, then parked in RQ's failed registry.
RETRY = Retry(max=4, interval=[10, 60, 300, 1800])


@cache
def _connection(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def connection() -> Redis:
    return _connection(current_app.config["REDIS_URL"])


def queue(name: str) -> Queue:
    return Queue(name, connection=connection())


# A named job in one of these states is still to run: asking for it again queues nothing.
WAITING = frozenset({"queued", "started", "deferred", "scheduled"})


def waiting(job_id: str) -> bool:
    """Whether a job of this name is queued or running (raises RedisError when Redis is down)."""
    try:
        status = Job.fetch(job_id, connection=connection()).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return str(getattr(status, "value", status)) in WAITING


def enqueue(path: str, args: tuple, queue_name: str, job_id: str | None = None) -> bool:
    """Put a job on its queue (a named one only if it is not already waiting). If Redis is
    down the work is not lost: the rows the job would act on are in the database, and a
    reconciler enqueues them again once Redis is back."""
    try:
        if job_id and waiting(job_id):
            return True
        queue(queue_name).enqueue(path, *args, job_id=job_id, retry=RETRY, failure_ttl=30 * 86400)
    except RedisError as exc:
        log.warning(
            "enqueue failed; the reconciler will retry",
            extra={"job": path, "status": str(exc)[:100]},
        )
        return False
    return True


# How long a "queued once" mark lives: if its job was lost (Redis flushed, worker gone), a
# later request queues another after this long; the outbox reconciler covers the gap.
ONCE_TTL_SECONDS = 60


def _once_key(path: str) -> str:
    return f"redress:once:{path}"


def enqueue_once(path: str, queue_name: str) -> bool:
    """Queue the job unless a run of it is already queued and not yet started."""
    try:
        if not connection().set(_once_key(path), "1", nx=True, ex=ONCE_TTL_SECONDS):
            return False
    except RedisError as exc:
        log.warning(
            "enqueue failed; the reconciler will retry",
            extra={"job": path, "status": str(exc)[:100]},
        )
        return False
    if not enqueue(path, (), queue_name):
        release_once(path)
        return False
    return True


def release_once(path: str) -> None:
    with contextlib.suppress(RedisError):  # else the mark expires by itself
        connection().delete(_once_key(path))
