"""The `redress` console script: the app's commands plus the worker, the scheduler and
the failed-job tools (which need RQ)."""

from __future__ import annotations

import logging
import os
import sched
import time

import click
from flask import Flask
from flask.cli import FlaskGroup

log = logging.getLogger(__name__)

# Tesseract (OCR of scanned letters) thrashes with its own threads on small machines: one
# thread per process, set before any worker or job starts it.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def _create(*_args) -> Flask:
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create, add_default_commands=True)
def main() -> None:
    """Redress: complaints and cases for public agencies."""


def _redis_url() -> str | None:
    from flask import current_app, has_app_context

    from workers.jobs import worker_app

    app = current_app if has_app_context() else worker_app()
    return app.config.get("REDIS_URL")


def _connection():
    from redis import Redis

    url = _redis_url()
    if not url:
        raise click.ClickException("REDIS_URL is not set: jobs run in-process, no worker needed.")
    return Redis.from_url(url)


@main.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a work horse per job (RQ's default Worker).")
def worker(queues: tuple[str, ...], burst: bool, fork: bool) -> None:
    """Run an RQ worker (with RQ's scheduler) on QUEUES (default: all)."""
    from rq import Queue, SimpleWorker, Worker

    from app.jobs import QUEUES
    from workers.jobs import worker_app

    names = queues or QUEUES
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise click.ClickException(
            f"Unknown queue {', '.join(sorted(unknown))}; use {', '.join(QUEUES)}."
        )
    connection = _connection()
    worker_app()  # build the app once, before the first job
    # SimpleWorker runs jobs in this process: no fork per job, several times the throughput
    # of RQ's default Worker; a job crash is retried by RQ and the process is supervised.
    cls = Worker if fork else SimpleWorker
    w = cls([Queue(n, connection=connection) for n in names], connection=connection)
    w.work(burst=burst, with_scheduler=True, logging_level="INFO")


@main.command()
@click.option("--once", is_flag=True, help="Run every periodic job once now, then stop.")
def cron(once: bool) -> None:
    """Run the periodic jobs: the SLA sweep and outbox reconciler every minute, nightly roll-up.

    With Redis, RQ's CronScheduler enqueues them for the workers; run exactly one. Without
    Redis (a laptop), they run in this process on the same schedule.
    """
    from app.jobs import resolve
    from workers.schedule import SCHEDULE

    if once:
        for item in SCHEDULE:
            click.echo(f"{item.path}: {resolve(item.path)()}")
        return
    url = _redis_url()
    if url:
        from rq.cron import CronScheduler

        scheduler = CronScheduler(connection=_connection())
        for item in SCHEDULE:
            scheduler.register(
                resolve(item.path),
                queue_name=item.queue,
                interval=item.interval,
                cron=item.cron,
                job_timeout=item.timeout,
            )
        click.echo(f"Scheduling {len(SCHEDULE)} periodic jobs on Redis.")
        scheduler.start()
        return
    _run_inline(SCHEDULE)


def _run_inline(schedule) -> None:
    from croniter import croniter

    from app.jobs import resolve

    runner = sched.scheduler(time.time, time.sleep)

    def plan(item, first: bool = False) -> None:
        if item.interval:
            delay = 0 if first else item.interval
        else:
            delay = croniter(item.cron, time.time()).get_next(float) - time.time()
        runner.enter(max(delay, 0), 1, run, (item,))

    def run(item) -> None:
        try:
            resolve(item.path)()
        except Exception:  # a failing job must not stop the schedule
            log.exception("periodic job failed", extra={"job": item.path})
        plan(item)

    for item in schedule:
        plan(item, first=True)
    click.echo(f"Running {len(schedule)} periodic jobs in this process (no REDIS_URL).")
    runner.run()


@main.group()
def jobs() -> None:
    """Failed background jobs (RQ)."""


@jobs.command("failed")
def jobs_failed() -> None:
    """List failed jobs with their error."""
    from rq import Queue
    from rq.job import Job

    from app.jobs import QUEUES

    connection = _connection()
    count = 0
    for name in QUEUES:
        registry = Queue(name, connection=connection).failed_job_registry
        for job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=connection)
            error = (job.latest_result().exc_string if job.latest_result() else "") or ""
            last = error.strip().splitlines()[-1] if error.strip() else "(no traceback kept)"
            click.echo(f"{job_id}  {name:7} {job.func_name}{job.args}  {last}")
            count += 1
    click.echo(f"{count} failed job(s).")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
def jobs_retry(job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Put failed jobs back on their queues."""
    from rq import Queue

    from app.jobs import QUEUES

    if not job_ids and not retry_all:
        raise click.ClickException("Name job ids, or use --all.")
    connection = _connection()
    retried = 0
    for name in QUEUES:
        registry = Queue(name, connection=connection).failed_job_registry
        for job_id in registry.get_job_ids():
            if retry_all or job_id in job_ids:
                registry.requeue(job_id)
                retried += 1
    if job_ids and retried < len(job_ids):
        raise click.ClickException(f"Retried {retried}; the others are not failed jobs.")
    click.echo(f"Retried {retried} job(s).")
