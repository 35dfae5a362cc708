"""An open-loop load generator: POSTs at a fixed rate and measures each request from the time
it was due to be sent (so a slow server cannot hide its queueing: no coordinated omission).

    python -m bench.loadgen URL RATE SECONDS BODIES_FILE [TOKEN]

Prints one JSON object: sent, ok (2xx), errors, achieved rate, latency percentiles in ms.
Runs in its own process, on loopback only.
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def run(
    url: str, rate: float, seconds: float, bodies: list[str], token: str | None, threads: int = 48
) -> dict:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loadgen only targets loopback")
    total = int(rate * seconds)
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    start = time.perf_counter() + 0.2

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while True:
            i = next(counter)
            if i >= total:
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request("POST", parts.path, body=bodies[i % len(bodies)], headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                status = exc.__class__.__name__
            elapsed = time.perf_counter() - due
            with lock:
                if isinstance(status, int) and 200 <= status < 300:
                    latencies.append(elapsed * 1000)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    duration = time.perf_counter() - start
    return {
        "target_rate": rate,
        "sent": total,
        "ok": len(latencies),
        "errors": errors,
        "achieved_rate": round(len(latencies) / duration, 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else None,
    }


if __name__ == "__main__":
    url, rate, seconds, bodies_file = sys.argv[1:5]
    token = sys.argv[5] if len(sys.argv) > 5 else None
    with open(bodies_file) as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    print(json.dumps(run(url, float(rate), float(seconds), lines, token)))
