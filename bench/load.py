"""What the load benchmarks share: their common options and wrk, run and read."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import psycopg

from bench.dataset import DEFAULT_URL


def add_common_arguments(parser) -> None:
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--cases", type=int, default=1_000_000)


def run_wrk(
    url: str,
    connections: int,
    seconds: int,
    *,
    script: Path | None = None,
    script_args: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict:
    """wrk from its own process (two threads) on loopback; requests/s, p50/p99, non-2xx."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float | None:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def cpu_seconds(pids: list[str]) -> float:
    """User + system CPU the processes have used so far (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[str]:
    """The project cluster's server processes ("main"; not RT's own cluster, rtbench)."""
    out = subprocess.run(["pgrep", "-f", "postgres"], capture_output=True, text=True).stdout
    pids = []
    for pid in out.split():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "/main" in command and "rtbench" not in command:
            pids.append(pid)
    return pids


# Tables whose rows hang off a case, deleted with the cases a run created.
_CASE_TABLES = (
    "survey_responses",
    "survey_invitations",
    "inbound_messages",
    "attachments",
    "outbox",
    "events",
    "messages",
    "sla_clocks",
    "idempotency_keys",
)


def high_water_marks(dsn: str) -> tuple[int, int]:
    """The last case and customer ids before a run, so its own rows can be removed after."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        case = conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
        customer = conn.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()[0]
    return case, customer


def remove_cases_after(dsn: str, max_case: int, max_customer: int) -> int:
    """Delete what a run created (the data set stays as loaded); returns how many cases.

    Foreign-key checks are off while deleting (as for the COPY load): with them, each deleted
    case is looked for in cases.related_case_id, which has no index, a scan of a million rows
    per case. The rows are removed children first, so nothing is left dangling."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        created = conn.execute("SELECT count(*) FROM cases WHERE id > %s", (max_case,)).fetchone()[
            0
        ]
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in _CASE_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE case_id > %s", (max_case,))  # noqa: S608
            conn.execute("DELETE FROM cases WHERE id > %s", (max_case,))
            conn.execute("DELETE FROM contact_points WHERE customer_id > %s", (max_customer,))
            conn.execute("DELETE FROM customers WHERE id > %s", (max_customer,))
    return created


def staff_token(app, email: str) -> str:
    """A fresh API bearer token for a demo staff member, issued by the app itself."""
    with app.app_context():
        from app.extensions import db
        from app.staff.models import StaffUser
        from app.staff.tokens import issue_token

        staff = db.session.scalar(db.select(StaffUser).where(StaffUser.email == email))
        token = issue_token(staff)
        db.session.remove()
    return token
