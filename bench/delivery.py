"""Outbound delivery: acknowledgments from the outbox to a local SMTP sink, by RQ workers.

N queued acknowledgment rows (one per case of the benchmark data set) and what the app queues
for them: one `drain_outbox` job (a drain that finds a full batch asks for another run, so the
second worker joins in); then --processes `redress worker notify --burst` processes (the
app's non-forking worker) run until the queue is empty, handing each message to the real
SmtpSender (one SMTP session per drain) pointed at an aiosmtpd sink on loopback that counts
what it accepts. Compared in the same run with RQ's default forking worker (`--fork`) doing
one `deliver` job per message, on --fork-messages.
Messages/s = messages the sink accepted / wall time from the workers' start to their exit.
The rows are deleted afterwards. Raw figures go to bench/results/delivery-<timestamp>.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg

from bench.dataset import conninfo, ensure_dataset, log, normalize_url
from bench.load import add_common_arguments

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--fork-messages", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)


class Sink:
    """An SMTP server on loopback that accepts and counts every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.count = 0
        self.first: float | None = None  # when the first and the latest message arrived
        self.last: float | None = None
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
                with sink._lock:
                    sink.count += 1
                    sink.last = time.perf_counter()
                    if sink.first is None:
                        sink.first = sink.last
                return "250 OK"

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _queue_rows(dsn: str, n: int) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            """
            INSERT INTO outbox (case_id, audience, kind, channel, recipient, subject, body,
                                language, state, attempts, next_attempt_at, created_at, updated_at)
            SELECT c.id, 'customer', 'acknowledgment', 'email',
                   'bench' || c.id || '@example.org', 'We received your complaint ' || c.reference,
                   'We received your complaint and gave it the reference ' || c.reference
                     || E'.\nKeep this number: you will need it to track your complaint.\n',
                   'en', 'queued', 0, now() - interval '1 minute', now(), now()
            FROM (SELECT id, reference FROM cases ORDER BY id LIMIT %s) c
            RETURNING id
            """,
            (n,),
        ).fetchall()
    return [r[0] for r in rows]


def _enqueue_drain(redis_url: str) -> None:
    """What the app queues after the acknowledgments' transactions commit: one drain."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    Queue("notify", connection=connection).enqueue("workers.jobs.drain_outbox")


def _enqueue(redis_url: str, ids: list[int]) -> None:
    """One job per message, as RQ is commonly used (the comparison)."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    queue = Queue("notify", connection=connection)
    for start in range(0, len(ids), 1000):
        with connection.pipeline() as pipe:
            queue.enqueue_many(
                [
                    Queue.prepare_data("workers.jobs.deliver", (i,))
                    for i in ids[start : start + 1000]
                ],
                pipeline=pipe,
            )
            pipe.execute()


def _cleanup(dsn: str, ids: list[int]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM events WHERE kind = 'acknowledged' AND at > now() - interval '1 day'"
            " AND case_id IN (SELECT case_id FROM outbox WHERE id = ANY(%s))",
            (ids,),
        )
        conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))


def _run_workers(env: dict, processes: int, fork: bool) -> float:
    cmd = [str(BIN / "redress"), "worker", "notify", "--burst"] + (["--fork"] if fork else [])
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - started


def _one(label: str, dsn: str, args, sink: Sink, env: dict, n: int, fork: bool) -> dict:
    ids = _queue_rows(dsn, n)
    if fork:
        _enqueue(args.redis_url, ids)
    else:
        _enqueue_drain(args.redis_url)
    before = sink.count
    sink.first = sink.last = None
    seconds = _run_workers(env, args.processes, fork)
    sent = sink.count - before
    # Steady rate: first to last message at the sink, without the workers' start-up.
    flowing = (sink.last - sink.first) if sent > 1 else 0.0
    with psycopg.connect(dsn, autocommit=True) as conn:
        states = dict(
            conn.execute(
                "SELECT state, count(*) FROM outbox WHERE id = ANY(%s) GROUP BY state", (ids,)
            ).fetchall()
        )
    _cleanup(dsn, ids)
    result = {
        "label": label,
        "messages": n,
        "accepted_by_sink": sent,
        "seconds": round(seconds, 2),
        "per_second": round(sent / seconds, 1),
        "flowing_seconds": round(flowing, 2),
        "per_second_flowing": round((sent - 1) / flowing, 1) if flowing else None,
        "states": states,
    }
    log(
        f"{label}: {sent} messages in {seconds:.1f} s = {sent / seconds:.0f}/s with start-up; "
        f"{result['per_second_flowing']}/s from the first message to the last ({states})"
    )
    return result


def run(args) -> int:
    url = normalize_url(args.database_url)
    ensure_dataset(url, args.cases)
    dsn = conninfo(url)
    sink = Sink()
    env = {
        "REDRESS_ENV": "production",
        "SECRET_KEY": "bench-only-" + "0" * 32,  # production needs 32 bytes or more
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "REDIS_URL": args.redis_url,
        "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
        "INTAKE_EMAIL_ADDRESS": "complaints@redress.example",
        "LOG_LEVEL": "WARNING",
    }
    try:
        runs = [
            _one(f"redress worker x{args.processes}", dsn, args, sink, env, args.messages, False),
            _one(
                f"RQ forking worker x{args.processes}",
                dsn,
                args,
                sink,
                env,
                args.fork_messages,
                True,
            ),
        ]
    finally:
        sink.stop()
    print()
    for r in runs:
        print(
            f"  {r['label']:32} {r['per_second_flowing'] or 0:>8.0f} messages/s flowing"
            f"   {r['per_second']:>6.0f}/s with start-up ({r['messages']} messages,"
            f" {r['seconds']} s)"
        )
    ratio = (runs[0]["per_second_flowing"] or 0) / (runs[1]["per_second_flowing"] or 1)
    print(f"  {'ratio (flowing)':32} {ratio:>8.1f} x   target >= 500/s")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"delivery-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"runs": runs, "processes": args.processes}, indent=2))
    print(f"\n  raw figures: {out.relative_to(ROOT)}")
    return 0
