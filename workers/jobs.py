"""Job functions. They take ids, never ORM objects, and run inside an app context: the
caller's (inline mode, tests) or the worker process's own app."""

from __future__ import annotations

import logging
import time
from functools import cache, wraps

from flask import Flask, has_app_context

log = logging.getLogger(__name__)


@cache
def worker_app() -> Flask:
    from app import create_app

    return create_app()


def job(func):
    """Run the job in an app context, finish any jobs it deferred, and log its duration."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        from app.extensions import db
        from app.jobs import run_ready

        def run():
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
                run_ready()
                return result
            except Exception:
                db.session.rollback()
                raise
            finally:
                log.info(
                    "job done",
                    extra={
                        "job": func.__name__,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )

        if has_app_context():
            return run()
        with worker_app().app_context():
            try:
                return run()
            finally:
                db.session.remove()

    return wrapper


@job
def deliver(item_id: int) -> str:
    from app.notify.delivery import deliver as deliver_item

    return deliver_item(item_id)


@job
def sla_sweep(now_iso: str | None = None) -> dict:
    from app.common.time import parse_iso
    from app.sla.sweep import sweep

    return sweep(parse_iso(now_iso) if now_iso else None)


@job
def reconcile_outbox() -> int:
    from app.notify.delivery import reconcile

    return reconcile()


@job
def reconcile_inbound() -> int:
    from app.inbound.service import reconcile

    return reconcile()


@job
def nightly_rollup() -> dict:
    from app.performance import rollup

    return rollup()


@job
def publish_performance() -> dict:
    from app.performance import publish

    snapshot = publish()
    return {"computed_at": snapshot.computed_at.isoformat()}


@job
def retrain_routing_model() -> dict:
    """Retrain the routing model when enough cases have closed since it learned; the new one
    replaces it only if it scores at least as well (app.routing.training)."""
    from flask import current_app

    from app.cases.queries import closed_for_learning, closed_since
    from app.routing.training import retrain_if_due

    config = current_app.config
    return retrain_if_due(
        closed=closed_for_learning,
        closed_since=closed_since,
        threshold=config["ROUTING_MODEL_THRESHOLD"],
        min_examples=config["ROUTING_MIN_EXAMPLES"],
        after=config["ROUTING_RETRAIN_AFTER"],
    )


@job
def process_inbound(inbound_id: int) -> str:
    from app.inbound.service import process

    return process(inbound_id)


# The drop-folder job starts no new file after this long (the rest wait a minute for the
# next run), so it keeps within its RQ timeout (workers/schedule.py) with a file of up to
# SCAN_TIMEOUT_SECONDS in progress, and leaves the intake queue to email and texts between runs.
SCAN_RUN_SECONDS = 240


@job
def scan_drop_folder() -> dict:
    """Process the mailroom drop folder, when one is configured (each file is read in a child
    process with limits: see channels.mail_scans.sandbox)."""
    from pathlib import Path

    from flask import current_app

    from app.mailroom.drop import process_folder

    folder = current_app.config.get("SCAN_DROP_DIR")
    if not folder or not Path(folder).is_dir():
        return {"skipped": "SCAN_DROP_DIR is not set or not a folder"}
    report = process_folder(Path(folder), budget_seconds=SCAN_RUN_SECONDS)
    return {
        "opened": report.opened,
        "review": report.review,
        "duplicates": report.duplicates,
        "failed": report.failed,
        "left": report.left,
    }


@job
def drain_outbox() -> int:
    """Deliver everything due in the outbox. With a backlog, ask for another run first so a
    second worker can share it (each drain claims its own rows)."""
    from flask import current_app

    from app.jobs import defer_once, release_once, run_ready
    from app.notify.delivery import drain

    path = "workers.jobs.drain_outbox"
    release_once(path)  # work committed from now on asks for a run of its own

    def ask_for_help() -> None:
        if current_app.config.get("REDIS_URL"):  # inline mode has no second worker
            defer_once(path, queue="notify")
            run_ready()

    return drain(on_backlog=ask_for_help)
