"""POST /api/v1/complaints under gunicorn, side by side with a bare Flask + psycopg endpoint.

Both run under the same gunicorn settings (--workers; sync unless --threads > 1) on loopback,
against the benchmark database (bench/dataset.py, N open cases already there). The app runs its
production path: PostgreSQL, routing, SLA clocks, the acknowledgment outbox row, the delivery
job enqueued on Redis (RQ; no worker runs, so only the enqueue is measured). Requests carry a
staff bearer token (an integration client; the public per-address rate limit is not what is
measured) and realistic 311 complaint texts.

  peak        wrk (a second process, --connections, --duration), warm-up then --repeat runs:
              requests/s and wrk's latency percentiles, for the app and for the bare endpoint
  at 80 %     bench/loadgen.py at a fixed rate of 80 % of the app's median peak (open loop,
              latency measured from when each request was due): p50/p95/p99
  memory      RSS of each gunicorn worker after the runs (target <= 150 MiB)

The cases the runs create are deleted afterwards, so the data set can be reused.
Raw figures go to bench/results/api-<timestamp>.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import psycopg

from bench.dataset import conninfo, ensure_dataset, load_samples, log, normalize_url
from bench.load import (
    add_common_arguments,
    cpu_seconds,
    high_water_marks,
    postgres_pids,
    remove_cases_after,
    run_wrk,
    staff_token,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (default 1: sync workers)"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15, help="seconds per timed run")
    parser.add_argument("--repeat", type=int, default=3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(path: Path) -> None:
    def text(value: str) -> str:
        return value.replace("\\t", " ").replace("\\n", " ").replace("\\\\", "\\")

    with path.open("w") as out:
        for i, sample in enumerate(load_samples()[:500]):
            body = {
                "description": text(sample.description),
                "email": f"bench{i}@example.org",
                "zip": sample.zip if sample.zip not in ("\\N", "") else None,
            }
            out.write(json.dumps({k: v for k, v in body.items() if v}) + "\n")


class Server:
    """gunicorn serving one WSGI app on a free loopback port."""

    def __init__(self, target: str, env: dict, args) -> None:
        self.port = _free_port()
        cmd = [
            str(BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            # The production setting (README, docs/operations.md): sync workers; --threads
            # above 1 measures gthread instead.
            "--worker-class",
            "sync" if args.threads == 1 else "gthread",
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            target,
        ]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})

    def wait(self, path: str) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{path} did not come up")

    def worker_rss_mib(self) -> list[float]:
        sizes = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            sizes.append(round(kib / 1024, 1))
        return sizes

    def worker_pids(self) -> list[str]:
        return subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(url: str, bodies: Path, token: str, args, seconds: int) -> dict:
    """POST the bodies (bench/post.lua) for `seconds`; `token` is the whole Authorization
    value ("Bearer ...", "token ..."), or ""."""
    return run_wrk(
        url,
        args.connections,
        seconds,
        script=ROOT / "bench" / "post.lua",
        script_args=[str(bodies), token],
    )


def measure_peak(name: str, url: str, bodies: Path, token: str, args, server: Server) -> dict:
    """Warm-up, then --repeat timed runs; with the CPU the web workers and PostgreSQL spent
    per request during the timed runs (which of the two to add more of)."""
    log(f"{name}: warm-up 5 s")
    wrk(url, bodies, token, args, 5)
    runs = []
    workers, database_pids = server.worker_pids(), postgres_pids()  # connected by the warm-up
    before = (cpu_seconds(workers), cpu_seconds(database_pids), time.perf_counter())
    for i in range(args.repeat):
        result = wrk(url, bodies, token, args, args.duration)
        log(
            f"{name}: run {i + 1}: {result['rps']:.0f} req/s, p99 {result['p99_ms']} ms,"
            f" non-2xx {result['non_2xx']}"
        )
        runs.append(result)
    elapsed = time.perf_counter() - before[2]
    requests = sum(r["rps"] for r in runs) * args.duration
    web = cpu_seconds(workers) - before[0]
    database = cpu_seconds(database_pids) - before[1]
    cpu = {
        "web_ms_per_request": round(web * 1000 / requests, 2),
        "postgres_ms_per_request": round(database * 1000 / requests, 2),
        "web_cores": round(web / elapsed, 2),
        "postgres_cores": round(database / elapsed, 2),
    }
    log(
        f"{name}: CPU per request {cpu['web_ms_per_request']} ms in the web workers,"
        f" {cpu['postgres_ms_per_request']} ms in PostgreSQL ({cpu['web_cores']} and"
        f" {cpu['postgres_cores']} cores)"
    )
    return {"runs": runs, "cpu": cpu}


def run(args) -> int:
    url = normalize_url(args.database_url)
    app, dataset = ensure_dataset(url, args.cases)
    dsn = conninfo(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY,"
            " description text NOT NULL, created_at timestamptz NOT NULL)"
        )
        conn.execute("TRUNCATE bench_bare")
    max_case, max_customer = high_water_marks(dsn)
    token = staff_token(app, "admin@redress.example")
    bodies = RESULTS_DIR / "api-bodies.jsonl"
    RESULTS_DIR.mkdir(exist_ok=True)
    _bodies(bodies)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    env = {
        "REDRESS_ENV": "production",
        "SECRET_KEY": "bench-only-" + "0" * 32,  # production needs 32 bytes or more
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "REDIS_URL": args.redis_url,
        "LOG_LEVEL": "WARNING",
        "BARE_DSN": dsn,
    }
    results: dict = {
        "started": datetime.now().isoformat(),
        "dataset_cases": dataset["cases"],
        "settings": {
            k: getattr(args, k) for k in ("workers", "threads", "connections", "duration", "repeat")
        },
    }
    app_server = Server("wsgi:app", env, args)
    try:
        app_server.wait("/healthz")
        target = f"http://127.0.0.1:{app_server.port}/api/v1/complaints"
        peak = measure_peak("app", target, bodies, f"Bearer {token}", args, app_server)
        results["app_peak"], results["app_cpu"] = peak["runs"], peak["cpu"]
        peak = statistics.median(r["rps"] for r in results["app_peak"])
        rate = round(peak * 0.8, 1)
        log(f"app: {rate} req/s fixed rate (80 % of peak) for {args.duration} s")
        paced = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.loadgen",
                target,
                str(rate),
                str(args.duration),
                str(bodies),
                token,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        results["app_at_80"] = json.loads(paced.stdout)
        results["app_rss_mib"] = app_server.worker_rss_mib()
    finally:
        app_server.stop()
    bare_server = Server("bench.bare:app", env, args)
    try:
        bare_server.wait("/bare")
        peak = measure_peak(
            "bare", f"http://127.0.0.1:{bare_server.port}/bare", bodies, "", args, bare_server
        )
        results["bare_peak"], results["bare_cpu"] = peak["runs"], peak["cpu"]
        results["bare_rss_mib"] = bare_server.worker_rss_mib()
    finally:
        bare_server.stop()
    results["cases_created"] = remove_cases_after(dsn, max_case, max_customer)
    redis.Redis.from_url(args.redis_url).flushdb()
    app_rps = statistics.median(r["rps"] for r in results["app_peak"])
    bare_rps = statistics.median(r["rps"] for r in results["bare_peak"])
    at80 = results["app_at_80"]
    rows = [
        (
            "POST /api/v1/complaints peak",
            f"{app_rps:.0f} req/s",
            f"p99 {statistics.median(r['p99_ms'] for r in results['app_peak']):.1f} ms at peak",
        ),
        ("bare Flask + psycopg INSERT", f"{bare_rps:.0f} req/s", ""),
        ("ratio app / bare", f"{app_rps / bare_rps:.0%}", "target >= 50 %"),
        (
            f"at 80 % of peak ({at80['target_rate']} req/s)",
            f"{at80['achieved_rate']} req/s",
            f"p50 {at80['p50_ms']:.1f} ms, p99 {at80['p99_ms']:.1f} ms (target < 100 ms)",
        ),
        (
            "CPU per create: web workers / PostgreSQL",
            f"{results['app_cpu']['web_ms_per_request']} / "
            f"{results['app_cpu']['postgres_ms_per_request']} ms",
            f"PostgreSQL used {results['app_cpu']['postgres_cores']} cores at peak",
        ),
        (
            "RSS per web worker",
            ", ".join(f"{x} MiB" for x in results["app_rss_mib"]),
            "target <= 150 MiB",
        ),
    ]
    print()
    for label, value, note in rows:
        print(f"  {label:42} {value:>16}   {note}")
    results["summary"] = {"app_rps": app_rps, "bare_rps": bare_rps, "ratio": app_rps / bare_rps}
    out = RESULTS_DIR / f"api-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\n  raw figures: {out.relative_to(ROOT)}")
    return 0
