"""Run background jobs after the transaction that asked for them commits.

One code path decides how: with REDIS_URL set, jobs go to RQ queues (workers run them);
without it, the same job functions run in this process once the commit is done. Jobs are
named by import path (`workers.jobs.deliver`), so `app` never imports `workers`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

QUEUES = ("intake", "notify", "sla", "default")
_PENDING = "redress.jobs.pending"
_READY = "redress.jobs.ready"


def defer(path: str, *args, queue: str = "default", job_id: str | None = None) -> None:
    """Ask for `path(*args)` to run once the current transaction commits (never before,
    so a worker can never look for a row that is not there yet; never after a rollback).

    A `job_id` names the work (one inbound row, say): while a job of that name waits or
    runs on RQ, asking again queues nothing, so a reconciler may ask as often as it likes."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue}")
    db.session.info.setdefault(_PENDING, []).append((path, args, queue, False, job_id))


def defer_once(path: str, queue: str = "default") -> None:
    """Like `defer` for a job that takes no arguments and does all the work there is (the
    outbox drain): however many transactions ask for it, one run is queued at a time. The
    job calls `release_once(path)` when it starts, so work committed after that point asks
    for (and gets) a run of its own."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue}")
    pending = db.session.info.setdefault(_PENDING, [])
    if (path, (), queue, True, None) not in pending:
        pending.append((path, (), queue, True, None))


def release_once(path: str) -> None:
    """Called by a `defer_once` job as it starts."""
    if current_app.config.get("REDIS_URL"):
        from app.queueing import release_once as release

        release(path)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_ready() -> int:
    """Hand committed jobs to RQ, or run them here in inline mode. Returns how many.

    Called after each request and by every command and job that commits work. In inline
    mode a job may commit and ask for more jobs; they run too, in order.
    """
    session = db.session
    done = 0
    while session.info.get(_READY):
        path, args, queue, once, job_id = session.info[_READY].pop(0)
        done += 1
        if current_app.config.get("REDIS_URL"):
            from app.queueing import enqueue, enqueue_once

            if once:
                enqueue_once(path, queue)
            else:
                enqueue(path, args, queue, job_id=job_id)
            continue
        if once and (path, args, queue, True, None) in session.info[_READY]:
            continue  # the same job runs later in this list, after all the work asking for it
        try:
            resolve(path)(*args)
        except Exception:  # an inline job failing must not fail the request that is done
            log.exception("inline job failed", extra={"job": path})
            session.rollback()
    return done


def _after_soft_rollback(session: Session, _previous) -> None:
    _after_rollback(session)


def init_app(app: Flask) -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)

    @app.after_request
    def _run_jobs(response):
        run_ready()
        return response
