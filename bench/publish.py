"""Published performance (app.performance) at N open cases: the hourly publish, the nightly roll-up.

Runs the app's real code, inside the app, against the sweep's benchmark database and data
set (bench/dataset.py: `redress_bench`, 1,000,000 open cases and 3,000,000 clocks by
default) at the data set's own "now" (`as_of`):

  compute   performance.compute(now): the figures of every posted standard for the last
            complete quarter, the last 12 complete months, the quarters and month by month,
            in each agency's time zone; warm-up, then --repeat runs.
  publish   performance.publish(now): compute and store the snapshot /standards shows (what
            the hourly worker job runs); --repeat runs.
  rollup    performance.rollup(day) for the day before `as_of` (what the nightly job runs:
            the clocks that counted that day, met on time or missed); --repeat runs.

For one run of each: the SQL statements (count, time inside cursor.execute) and the rows
they returned to Python (the counting is SQL's: a few hundred rows, never one per clock),
and EXPLAIN (ANALYZE, BUFFERS) of each aggregate query. Afterwards the snapshots and the
roll-up rows written are deleted, so the data set stays as loaded (it has none of either).
Raw figures go to bench/results/publish-<timestamp>.json.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import event

from bench.dataset import add_dataset_arguments, conninfo, log, start_run
from bench.sweep import SqlRecorder, environment, explain, summary

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_arguments(parser) -> None:
    add_dataset_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (default 5)")


class RowCounter:
    """Counts the rows the app's statements return to Python."""

    def __init__(self, engine) -> None:
        self.engine, self.rows = engine, 0

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if cursor.description is not None and cursor.rowcount > 0:
            self.rows += cursor.rowcount

    def __enter__(self):
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "after_cursor_execute", self._after)


def timed(fn) -> float:
    """Run fn() as a worker job would (a fresh session afterwards); returns ms."""
    from app.extensions import db

    t0 = time.perf_counter()
    fn()
    elapsed = (time.perf_counter() - t0) * 1000
    db.session.rollback()
    db.session.remove()
    return elapsed


def measure_one(db, pg, name: str, fn, repeat: int) -> dict:
    log(f"\n[{name}] 1 warm-up + {repeat} runs")
    timed(fn)
    runs = [timed(fn) for _ in range(repeat)]
    log(
        f"    median {statistics.median(runs):,.0f} ms (min {min(runs):,.0f}, max {max(runs):,.0f})"
    )
    with SqlRecorder(db.engine) as rec, RowCounter(db.engine) as rows:
        ms = timed(fn)
    report = rec.report()
    log(
        f"    one more run: {ms:,.0f} ms; {report['statements']} statements,"
        f" {report['sql_ms']:,.0f} ms inside cursor.execute, {rows.rows:,} rows to Python"
    )
    plans = [
        explain(pg, statement, parameters)
        for statement, parameters in rec.statements
        if "GROUP BY" in statement
    ]
    for p in plans:
        log(f"    aggregate query: {p['execution_ms']:,.0f} ms in PostgreSQL")
        for line in p["plan"].splitlines():
            if any(k in line for k in ("Aggregate", "Join", "Seq Scan", "Index", "Sort Method")):
                log(f"      {line.strip()[:110]}")
    return {
        **summary(runs),
        "sql": {**report, "run_ms": round(ms, 1), "rows_to_python": rows.rows},
        "explain": plans,
    }


def run(args) -> int:
    run_ = start_run(args)
    url, app, dataset, now = run_.url, run_.app, run_.dataset, run_.now
    stamp, started = run_.stamp, run_.started
    day = (now - timedelta(days=1)).date()
    results: dict = {
        "benchmark": "published-performance",
        "started": stamp,
        "now": now.isoformat(),
        "rollup_day": day.isoformat(),
        "dataset": dataset,
        "arguments": {"cases": args.cases, "repeat": args.repeat},
    }
    with psycopg.connect(conninfo(url), autocommit=True) as pg:
        results["environment"] = environment(pg)
        counts = pg.execute(
            "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM sla_clocks),"
            " (SELECT count(*) FROM sla_clocks WHERE phase = 'met'),"
            " (SELECT count(*) FROM sla_clocks WHERE phase = 'met'"
            "  AND met_at >= %(start)s AND met_at < %(start)s + interval '1 day')",
            {"start": datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)},
        ).fetchone()
        results["counts"] = dict(
            zip(("cases", "clocks", "met_clocks", "met_on_rollup_day"), counts, strict=True)
        )
        log(
            f"data set: {counts[0]:,} open cases, {counts[1]:,} clocks ({counts[2]:,} met,"
            f" {counts[3]:,} of them on {day}); now = {now.isoformat()}"
        )
        try:
            with app.app_context():
                from app import performance
                from app.extensions import db

                results["compute"] = measure_one(
                    db, pg, "compute", lambda: performance.compute(now), args.repeat
                )
                results["publish"] = measure_one(
                    db, pg, "publish", lambda: performance.publish(now), args.repeat
                )
                size = pg.execute(
                    "SELECT length(figures::text) FROM performance_snapshots"
                ).fetchone()
                results["publish"]["snapshot_bytes"] = size[0] if size else None
                results["rollup"] = measure_one(
                    db, pg, "rollup", lambda: performance.rollup(day), args.repeat
                )
        finally:
            pg.execute("DELETE FROM performance_snapshots")
            pg.execute("DELETE FROM performance_daily WHERE day = %s", (day,))
            log("snapshots and roll-up rows written by the run deleted")
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"publish-{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"\nPublished performance at commit {results['environment']['git_commit']}")
    log("| job | median (min-max) | statements / in SQL | rows to Python |")
    log("|---|---|---|---|")
    for name in ("compute", "publish", "rollup"):
        r = results[name]
        log(
            f"| {name} | {r['median_ms']:,.0f} ms ({r['min_ms']:,.0f}-{r['max_ms']:,.0f}) |"
            f" {r['sql']['statements']} / {r['sql']['sql_ms']:,.0f} ms |"
            f" {r['sql']['rows_to_python']:,} |"
        )
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    log(f"\nraw figures: {shown}   (whole run {results['elapsed_seconds']:.0f} s)")
    return 0
