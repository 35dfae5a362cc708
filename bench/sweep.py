"""The SLA sweep (app.sla.sweep.sweep) at N open cases: nothing due, and 1,000 newly due.

Runs the app's real sweep, inside the app, against the benchmark database (bench/dataset.py)
at the data set's own "now" (`as_of`), when no clock is due or at risk:

  none due     sweep(now) with nothing to do (no clock at risk, due or escalating):
               warm-up, then --repeat timed runs.
  N newly due  before each run (untimed): --due running clocks of distinct cases are made due
               one minute before `now` (at risk since two hours before), and the events and
               digest outbox rows of the previous run are deleted, so every run does the same
               work; then one timed sweep(now), which must report breached == --due.
               The jobs the sweep defers (one delivery per digest) are dropped, never run:
               delivery is another benchmark.

--backlog B first turns B running clocks into breaches from the past days that are still
unmet (breached, warned and escalated already), as a real system carries: they are in no
partial "pending" index, but still in the (phase, due_at) and (phase, at_risk_at) indexes.

Also measured: the bare candidate query for breaches with and without ORDER BY (timed, and
EXPLAIN (ANALYZE, BUFFERS)); each of the sweep's own claim UPDATEs, explained in a
rolled-back transaction; the SQL statements of one sweep (count, time in the driver); the
wall time of each step of one sweep; a cProfile of one sweep (--no-profile to skip).
Afterwards every clock is put back, so the data set can be reused.
Raw figures go to bench/results/sweep-<timestamp>.json.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from bench.dataset import (
    ESCALATE_AFTER,
    add_dataset_arguments,
    conninfo,
    log,
    start_run,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# BASELINE.md (/work/shared): the bare query on the bare stack, for comparison.
BASELINE_LINE = (
    "1,000 due clocks out of 1,000,000 (state='running' AND due_at < now() ORDER BY due_at "
    "LIMIT 1000): ~4 ms with an index on (state, due_at); ~105 ms without"
)
# The breach step's candidates as the sweep first wrote them (LIMIT alone) and with ORDER BY
# (as BASELINE.md's query). Without ORDER BY the planner may pick a Seq Scan expecting to
# stop early at the LIMIT: see bench/README.md.
CANDIDATE_SQL = (
    "SELECT id FROM sla_clocks WHERE phase = 'running' AND breached_at IS NULL"
    " AND due_at <= %(now)s LIMIT %(limit)s"
)
CANDIDATE_ORDERED_SQL = (
    "SELECT id FROM sla_clocks WHERE phase = 'running' AND breached_at IS NULL"
    " AND due_at <= %(now)s ORDER BY due_at LIMIT %(limit)s"
)
JOBS_READY = "redress.jobs.ready"  # app.jobs: committed jobs waiting for run_ready()
JOBS_PENDING = "redress.jobs.pending"
# The sweep's functions timed one by one in the step breakdown (those that exist).
STEP_FUNCTIONS = ("_claim", "_set_escalation_times", "_emit", "notify_staff")


def add_arguments(parser) -> None:
    add_dataset_arguments(parser)
    parser.add_argument(
        "--due",
        type=int,
        default=1000,
        help="clocks made newly due before each run (default 1,000)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="running clocks breached in past days and still unmet (default 0)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")


# --------------------------------------------------------------------------------------------
# Setting the stage (all through a separate autocommit psycopg connection, never timed)
# --------------------------------------------------------------------------------------------


def clear_sweep_output(pg: psycopg.Connection) -> None:
    """Delete what sweeps wrote: the data set itself has no events and no outbox rows."""
    pg.execute(r"DELETE FROM events WHERE kind LIKE 'sla\_%'")
    pg.execute("DELETE FROM outbox WHERE audience = 'staff'")


def reset_clocks(pg: psycopg.Connection, now: datetime) -> int:
    """Undo what an interrupted earlier run left: running clocks due or at risk near `now`
    go back to the future, unbreached and unwarned. Returns how many were reset."""
    cur = pg.execute(
        "UPDATE sla_clocks SET due_at = %(now)s + interval '5 days',"
        " at_risk_at = %(now)s + interval '3 days', breached_at = NULL,"
        " at_risk_notified_at = NULL, escalate_at = %(now)s + interval '5 days' + %(esc)s,"
        " escalated_at = NULL"
        " WHERE phase = 'running'"
        "   AND (due_at < %(now)s + interval '1.5 days'"
        "        OR at_risk_at < %(now)s + interval '1 day')",
        {"now": now, "esc": timedelta(seconds=ESCALATE_AFTER)},
    )
    return cur.rowcount


def pick_victims(pg: psycopg.Connection, n_cases: int, due: int) -> list[tuple]:
    """`due` running clocks of distinct cases spread evenly over the case ids, a
    deterministic mix of metrics: (id, case_id, due_at, at_risk_at, escalate_at)."""
    step = max(n_cases // due, 1)
    case_ids = [1 + j * step for j in range(due)]
    rows = pg.execute(
        "SELECT DISTINCT ON (case_id) id, case_id, due_at, at_risk_at, escalate_at"
        " FROM sla_clocks"
        " WHERE case_id = ANY(%s) AND phase = 'running'"
        " ORDER BY case_id, md5(id::text)",
        (case_ids,),
    ).fetchall()
    if len(rows) < due:
        raise SystemExit(f"only {len(rows)} running clocks found for {due} cases")
    return rows


def add_backlog(pg: psycopg.Connection, n: int, now: datetime, spare: list[int]) -> list[tuple]:
    """Make `n` running clocks (not of the `spare` cases) breaches of the last ten days,
    warned, breached and escalated but unmet; returns their originals for restore()."""
    rows = pg.execute(
        "SELECT id, case_id, due_at, at_risk_at, escalate_at FROM sla_clocks"
        " WHERE phase = 'running' AND metric <> 'acknowledge' AND case_id <> ALL(%s)"
        " ORDER BY md5(id::text) LIMIT %s",
        (spare, n),
    ).fetchall()
    pg.execute(
        "UPDATE sla_clocks SET due_at = d.due, at_risk_at = d.due - interval '1 day',"
        " breached_at = d.due, at_risk_notified_at = d.due - interval '1 day',"
        " escalate_at = d.due + interval '8 hours', escalated_at = d.due + interval '8 hours'"
        " FROM (SELECT id, %(now)s - interval '1 day' - (id %% 216) * interval '1 hour' AS due"
        "       FROM unnest(%(ids)s::bigint[]) AS id) AS d"
        " WHERE sla_clocks.id = d.id",
        {"now": now, "ids": [r[0] for r in rows]},
    )
    pg.execute("ANALYZE sla_clocks")
    return rows


def make_due(pg: psycopg.Connection, ids: list[int], now: datetime) -> None:
    """Clocks due a minute ago, at risk since two hours ago, escalating (as scheduled with
    the due time) only in a day or so; never warned or breached. Clears sweep output."""
    clear_sweep_output(pg)
    due = now - timedelta(minutes=1)
    pg.execute(
        "UPDATE sla_clocks SET due_at = %(due)s, at_risk_at = %(risk)s, breached_at = NULL,"
        " at_risk_notified_at = NULL, escalate_at = %(escalate)s, escalated_at = NULL"
        " WHERE id = ANY(%(ids)s)",
        {
            "due": due,
            "risk": now - timedelta(hours=2),
            "escalate": due + timedelta(seconds=ESCALATE_AFTER),
            "ids": ids,
        },
    )


def restore(pg: psycopg.Connection, clocks: list[tuple]) -> None:
    """Put clocks back as loaded, never warned or breached:
    (id, case_id, due_at, at_risk_at, escalate_at)."""
    if clocks:
        pg.execute(
            "UPDATE sla_clocks SET due_at = o.due_at, at_risk_at = o.at_risk_at,"
            " breached_at = NULL, at_risk_notified_at = NULL, escalate_at = o.escalate_at,"
            " escalated_at = NULL"
            " FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[],"
            "             %s::timestamptz[]) AS o(id, due_at, at_risk_at, escalate_at)"
            " WHERE sla_clocks.id = o.id",
            tuple([c[i] for c in clocks] for i in (0, 2, 3, 4)),
        )
    clear_sweep_output(pg)


def sweep_output(pg: psycopg.Connection) -> dict[str, int]:
    events = pg.execute(r"SELECT count(*) FROM events WHERE kind LIKE 'sla\_%'").fetchone()[0]
    digests = pg.execute("SELECT count(*) FROM outbox WHERE audience = 'staff'").fetchone()[0]
    return {"events": events, "digest_outbox_rows": digests}


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def summary(ms: list[float]) -> dict:
    return {
        "runs_ms": [round(x, 3) for x in ms],
        "median_ms": round(statistics.median(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def timed_sweep(now: datetime) -> tuple[float, dict]:
    """One sweep in the app context, as a worker job would run it; returns (ms, counts)."""
    from app.extensions import db
    from app.sla.sweep import sweep

    t0 = time.perf_counter()
    counts = sweep(now)
    elapsed = (time.perf_counter() - t0) * 1000
    # Deferred delivery jobs are not part of this benchmark: drop them, and start the next
    # run with a fresh session as a new job would.
    jobs = len(db.session.info.pop(JOBS_READY, []) or [])
    db.session.info.pop(JOBS_PENDING, None)
    db.session.remove()
    return elapsed, {**counts, "jobs_deferred": jobs}


class SqlRecorder:
    """Counts and times the statements the app sends (time spent inside cursor.execute:
    the round trip, PostgreSQL's work and the driver's)."""

    def __init__(self, engine):
        self.engine = engine
        self.by_shape: dict[str, list[float]] = defaultdict(list)
        self.statements: list[tuple[str, object]] = []
        self._t0 = 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._t0 = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        ms = (time.perf_counter() - self._t0) * 1000
        self.by_shape[shape(statement)].append(ms)
        self.statements.append((statement, parameters))

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def report(self) -> dict:
        rows = sorted(self.by_shape.items(), key=lambda kv: -sum(kv[1]))
        return {
            "statements": sum(len(v) for v in self.by_shape.values()),
            "sql_ms": round(sum(sum(v) for v in self.by_shape.values()), 3),
            "by_statement": [
                {"statement": k, "count": len(v), "total_ms": round(sum(v), 3)} for k, v in rows
            ],
        }

    def claims(self) -> dict[str, tuple[str, object]]:
        """The first claim UPDATE of each kind, by the column it sets first."""
        found: dict[str, tuple[str, object]] = {}
        for statement, parameters in self.statements:
            m = re.match(r"\s*UPDATE sla_clocks SET (\w+)=.*\bIN \(SELECT", statement, re.S)
            if m and m.group(1) not in found:
                found[m.group(1)] = (statement, parameters)
        return found


def shape(statement: str) -> str:
    """A statement shortened to what tells it apart (for grouping)."""
    text = " ".join(statement.split())
    text = re.sub(r"\(%\(\w+\)s(?:, %\(\w+\)s)+\)", "(...)", text)
    text = re.sub(r"VALUES \(.*", "VALUES (...)", text)
    return text[:150]


def stepped_sweep(now: datetime) -> dict:
    """One sweep with the wall time of each of its steps (the module's functions named in
    STEP_FUNCTIONS that exist, and the session's commits); the rest is the sweep's own."""
    import app.sla.sweep as module
    from app.extensions import db

    totals: dict[str, list] = defaultdict(lambda: [0, 0.0])

    def wrap(name, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name][0] += 1
                totals[name][1] += time.perf_counter() - t0

        return timed

    originals = {
        n: getattr(module, n) for n in STEP_FUNCTIONS if callable(getattr(module, n, None))
    }
    for name, fn in originals.items():
        setattr(module, name, wrap(name, fn))
    session = db.session()
    session.commit = wrap("session.commit", session.commit)
    try:
        ms, counts = timed_sweep(now)
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)
    steps = [{"step": k, "calls": c, "ms": round(s * 1000, 1)} for k, (c, s) in totals.items()]
    return {"run_ms": round(ms, 1), "counts": counts, "steps": steps}


# Functions whose cumulative time tells where a sweep goes: (file suffix, function name).
PROFILE_POINTS = (
    ("app/sla/sweep.py", "sweep"),
    ("app/sla/sweep.py", "_claim"),
    ("app/sla/sweep.py", "_set_escalation_times"),
    ("app/sla/calendar.py", "add_business_seconds"),
    ("app/sla/sweep.py", "_emit"),
    ("app/cases/presenters.py", "local_time"),
    ("app/notify/service.py", "notify_staff"),
    ("app/notify/service.py", "render"),
    ("sqlalchemy/orm/session.py", "execute"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("sqlalchemy/orm/loading.py", "instances"),
    ("psycopg/cursor.py", "execute"),
    ("psycopg/cursor.py", "executemany"),
)


def profile_sweep(now: datetime) -> dict:
    profiler = cProfile.Profile()
    profiler.enable()
    ms, counts = timed_sweep(now)
    profiler.disable()
    stats = pstats.Stats(profiler)
    points = []
    for suffix, name in PROFILE_POINTS:
        calls, cumulative = 0, 0.0
        for (filename, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
            if func == name and filename.replace("\\", "/").endswith(suffix):
                calls += nc
                cumulative += ct
        if calls:
            points.append(
                {
                    "function": f"{suffix}:{name}",
                    "calls": calls,
                    "cumulative_ms": round(cumulative * 1000, 1),
                }
            )
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    return {
        "profiled_ms": round(ms, 1),
        "counts": counts,
        "points": points,
        "top_by_own_time": text.getvalue(),
    }


def explain(pg: psycopg.Connection, query: str, params) -> dict:
    plan = "\n".join(row[0] for row in pg.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params))
    indexes = re.findall(
        r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?"
        r"(?:using|on) (\w+)",
        plan,
    )
    seq = re.findall(r"Seq Scan on (\w+)", plan)
    executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return {
        "query": query,
        "indexes": list(dict.fromkeys(indexes)),
        "seq_scans": list(dict.fromkeys(seq)),
        "execution_ms": float(executed.group(1)) if executed else None,
        "plan": plan,
    }


class _Rollback(Exception):
    pass


def explain_rolled_back(pg: psycopg.Connection, statement: str, parameters) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement that writes, in a transaction rolled back."""
    result: dict = {}
    try:
        with pg.transaction():
            result = explain(pg, statement, parameters)
            raise _Rollback
    except _Rollback:
        pass
    except psycopg.Error as exc:  # not fatal: the candidate queries are explained anyway
        result = {"error": str(exc)}
    return result


def plan_line(result: dict) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    used = result["indexes"] + [f"Seq Scan on {t}" for t in result["seq_scans"]]
    return f"{result['execution_ms']:8.2f} ms  {', '.join(used) or '-'}"


def time_query(pg: psycopg.Connection, query: str, params: dict, repeat: int) -> dict:
    pg.execute(query, params).fetchall()  # warm-up
    ms, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = len(pg.execute(query, params).fetchall())
        ms.append((time.perf_counter() - t0) * 1000)
    return {**summary(ms), "rows": rows}


def print_plan(title: str, result: dict) -> None:
    log(f"\n{title}")
    for line in result.get("plan", result.get("error", "")).splitlines():
        log(f"    {line}")


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def environment(pg: psycopg.Connection) -> dict:
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
                capture_output=True,
                text=True,
                cwd=Path(__file__).resolve().parent,
                check=False,
                timeout=5,
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    settings = dict(
        pg.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('shared_buffers', 'work_mem', 'random_page_cost', 'effective_cache_size',"
            "  'synchronous_commit', 'jit')"
        ).fetchall()
    )
    indexes = [
        row[0]
        for row in pg.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'sla_clocks' ORDER BY indexname"
        )
    ]
    return {
        "git_commit": commit,
        "sla_clocks_indexes": indexes,  # as migrated: what the planner had to choose from
        "python": platform.python_version(),
        "postgresql": pg.execute("SHOW server_version").fetchone()[0],
        "pg_settings": settings,
        "cpus": os.cpu_count(),
        "host": platform.node(),
    }


def run(args) -> int:
    run_ = start_run(args)
    url, app, dataset, now = run_.url, run_.app, run_.dataset, run_.now
    stamp, started = run_.stamp, run_.started
    results: dict = {
        "benchmark": "sla-sweep",
        "started": stamp,
        "now": now.isoformat(),
        "dataset": dataset,
        "arguments": {
            "cases": args.cases,
            "due": args.due,
            "repeat": args.repeat,
            "backlog": args.backlog,
        },
    }
    with psycopg.connect(conninfo(url), autocommit=True) as pg:
        results["environment"] = environment(pg)
        clear_sweep_output(pg)
        repaired = reset_clocks(pg, now)
        if repaired:
            log(f"reset {repaired:,} clocks an interrupted earlier run had left due")
        victims = pick_victims(pg, dataset["cases"], args.due)
        backlog: list[tuple] = []
        try:
            if args.backlog:
                b0 = time.perf_counter()
                backlog = add_backlog(pg, args.backlog, now, [v[1] for v in victims])
                log(
                    f"backlog: {len(backlog):,} running clocks made breached-and-escalated in the"
                    f" last 10 days, table analyzed ({time.perf_counter() - b0:.1f} s)"
                )
            counts = pg.execute(
                "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM sla_clocks),"
                " (SELECT count(*) FROM sla_clocks WHERE phase = 'running')"
            ).fetchone()
            results["counts"] = dict(
                zip(("cases", "clocks", "running_clocks"), counts, strict=True)
            )
            results["counts"]["backlog"] = len(backlog)
            log(
                f"data set: {counts[0]:,} open cases, {counts[1]:,} clocks ({counts[2]:,}"
                f" running); sweeping at now = {now.isoformat()}"
            )
            with app.app_context():
                from app.extensions import db

                results.update(measure(db, pg, now, [v[0] for v in victims], args))
        finally:
            restore(pg, victims + backlog)
            if backlog:
                pg.execute("ANALYZE sla_clocks")
            log("clocks restored; sweep output deleted")
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"sweep-{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results)
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    log(f"\nraw figures: {shown}   (whole run {results['elapsed_seconds']:.0f} s)")
    return 0


def measure(db, pg, now: datetime, ids: list[int], args) -> dict:
    out: dict = {}
    due, repeat = args.due, args.repeat
    params = {"now": now, "limit": 1000}

    # a. nothing due --------------------------------------------------------------------
    log(f"\n[a] sweep with nothing due: 1 warm-up + {repeat} runs")
    _, counts = timed_sweep(now)
    if any(counts[k] for k in ("at_risk", "breached", "escalated")):
        raise SystemExit(f"expected nothing due at {now}, the sweep reported {counts}")
    runs = [timed_sweep(now)[0] for _ in range(repeat)]
    out["sweep_none_due"] = {**summary(runs), "counts": counts}
    log(f"    median {statistics.median(runs):.2f} ms (min {min(runs):.2f}, max {max(runs):.2f})")
    with SqlRecorder(db.engine) as rec:
        timed_sweep(now)
    out["sweep_none_due"]["sql"] = rec.report()
    out["claims_none_due"] = {k: explain_rolled_back(pg, *v) for k, v in rec.claims().items()}
    for kind, result in out["claims_none_due"].items():
        log(f"    claim {kind:20} {plan_line(result)}")
    out["candidate_none_due"] = time_query(pg, CANDIDATE_SQL, params, repeat)
    out["candidate_none_due_ordered"] = time_query(pg, CANDIDATE_ORDERED_SQL, params, repeat)
    out["explain_none_due"] = explain(pg, CANDIDATE_SQL, params)
    out["explain_none_due_ordered"] = explain(pg, CANDIDATE_ORDERED_SQL, params)

    # b. N newly due --------------------------------------------------------------------
    log(f"\n[b] sweep with {due:,} clocks newly due: 1 warm-up + {repeat} runs")
    runs = []
    for i in range(repeat + 1):
        make_due(pg, ids, now)
        ms, counts = timed_sweep(now)
        if counts["breached"] != due:
            raise SystemExit(f"expected breached == {due}, the sweep reported {counts}")
        if i:
            runs.append(ms)
        log(f"    {'warm-up' if not i else f'run {i}'}: {ms:8.1f} ms  {counts}")
    written = sweep_output(pg)
    out["sweep_newly_due"] = {**summary(runs), "due": due, "counts": counts, "wrote": written}
    log(
        f"    median {statistics.median(runs):.1f} ms; each run wrote"
        f" {written['events']} events and {written['digest_outbox_rows']} digest outbox rows"
    )

    make_due(pg, ids, now)
    out["candidate_newly_due"] = time_query(pg, CANDIDATE_SQL, params, repeat)
    out["candidate_newly_due_ordered"] = time_query(pg, CANDIDATE_ORDERED_SQL, params, repeat)
    out["explain_newly_due"] = explain(pg, CANDIDATE_SQL, params)
    out["explain_newly_due_ordered"] = explain(pg, CANDIDATE_ORDERED_SQL, params)
    print_plan(
        f"EXPLAIN (ANALYZE, BUFFERS), {due:,} due: {CANDIDATE_SQL}", out["explain_newly_due"]
    )
    print_plan(
        f"EXPLAIN (ANALYZE, BUFFERS), {due:,} due: {CANDIDATE_ORDERED_SQL}",
        out["explain_newly_due_ordered"],
    )

    log("\n    one more run, recording its SQL statements")
    with SqlRecorder(db.engine) as rec:
        ms, counts = timed_sweep(now)
    report = rec.report()
    out["sweep_newly_due"]["sql"] = {**report, "run_ms": round(ms, 1)}
    log(
        f"    {report['statements']:,} statements, {report['sql_ms']:.1f} ms inside"
        f" cursor.execute, of {ms:.1f} ms"
    )
    for row in report["by_statement"][:8]:
        log(f"    {row['count']:6,} x {row['total_ms']:8.1f} ms  {row['statement'][:100]}")
    out["claims_newly_due"] = {}
    for kind, claim in rec.claims().items():
        make_due(pg, ids, now)
        out["claims_newly_due"][kind] = explain_rolled_back(pg, *claim)
        log(f"    claim {kind:20} {plan_line(out['claims_newly_due'][kind])}")
    if "breached_at" in out["claims_newly_due"]:
        print_plan(
            "EXPLAIN (ANALYZE, BUFFERS) of the sweep's breach claim (rolled back):",
            out["claims_newly_due"]["breached_at"],
        )

    log("\n    one more run, timing each step")
    make_due(pg, ids, now)
    out["steps_newly_due"] = stepped = stepped_sweep(now)
    log(f"    {stepped['run_ms']:.1f} ms in all")
    for step in stepped["steps"]:
        log(f"    {step['ms']:8.1f} ms {step['calls']:4} calls  {step['step']}")

    if not args.no_profile:
        log("\n    one more run under cProfile")
        make_due(pg, ids, now)
        out["profile"] = prof = profile_sweep(now)
        log(f"    {prof['profiled_ms']:.0f} ms under the profiler; cumulative time:")
        for p in prof["points"]:
            log(f"    {p['cumulative_ms']:9.1f} ms {p['calls']:7,} calls  {p['function']}")
    return out


def print_table(r: dict) -> None:
    d, c = r["dataset"], r["counts"]
    none, due = r["sweep_none_due"], r["sweep_newly_due"]
    n_due = f"{due['due']:,}"
    load = f"{d['load_seconds']:.0f} s" + ("" if d["loaded_now"] else " (earlier run)")

    def plan(key: str) -> str:
        e = r[key]
        return ", ".join(e["indexes"] + [f"Seq Scan on {t}" for t in e["seq_scans"]])

    rows = [
        (
            "open cases / clocks (running)",
            f"{c['cases']:,} / {c['clocks']:,} ({c['running_clocks']:,})"
            + (f", backlog {c['backlog']:,} breached unmet" if c.get("backlog") else ""),
        ),
        ("load: COPY + indexes + ANALYZE", load),
        (
            "sweep, nothing due: median (min-max)",
            f"{none['median_ms']:.2f} ms ({none['min_ms']:.2f}-{none['max_ms']:.2f})",
        ),
        (
            f"sweep, {n_due} newly due: median (min-max)",
            f"{due['median_ms']:.1f} ms ({due['min_ms']:.1f}-{due['max_ms']:.1f})",
        ),
        (
            f"  {n_due} due: statements / in cursor.execute",
            f"{due['sql']['statements']:,} / {due['sql']['sql_ms']:.0f} ms",
        ),
        (
            f"breach candidates, {n_due} due, LIMIT only",
            f"{r['candidate_newly_due']['median_ms']:.2f} ms ({plan('explain_newly_due')})",
        ),
        (
            f"breach candidates, {n_due} due, ORDER BY due_at",
            f"{r['candidate_newly_due_ordered']['median_ms']:.2f} ms"
            f" ({plan('explain_newly_due_ordered')})",
        ),
        (
            "breach candidates, nothing due: LIMIT / ORDER BY",
            f"{r['candidate_none_due']['median_ms']:.2f} ms"
            f" / {r['candidate_none_due_ordered']['median_ms']:.2f} ms",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    log(
        f"\nSLA sweep at commit {r['environment']['git_commit']},"
        f" PostgreSQL {r['environment']['postgresql'].split()[0]}"
    )
    log(f"| {'measure'.ljust(width)} | figure |")
    log(f"|{'-' * (width + 2)}|--------|")
    for k, v in rows:
        log(f"| {k.ljust(width)} | {v} |")
    log(f"BASELINE.md: {BASELINE_LINE}")
