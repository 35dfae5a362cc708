"""Side by side with Request Tracker 5 on this machine, in one run (opt-in: root, minutes).

bench/rt/setup.sh installs RT 5 from Debian's packages into its own PostgreSQL cluster (port
5433) and starts RT's standalone server on loopback. Then, with the same wrk settings (a second
process, --connections, --duration; warm-up, --repeat runs, medians):

  create      POST /api/v1/complaints (routing, clocks, acknowledgment outbox row, RQ enqueue)
              vs RT's REST2 POST /REST/2.0/ticket (RT builds its auto-reply on create)
  list        GET /api/v1/cases?status=new&sort=due&limit=50 (a staff token)
              vs REST2 tickets in a queue by due date, 50 a page
  queue page  the caseworker's team queue page /staff/queues/team (signed in)
              vs RT's web search results page for the same question (signed in)
  memory      RSS of each web process after the runs

Our side runs on the benchmark data set (bench/dataset.py, --cases open cases); RT holds the
tickets the create runs made (RT creates ~3 a second; loading it with a million is not
feasible here, which flatters RT on the list and page figures).
Raw figures go to bench/results/peer-<timestamp>.json.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from bench.api import ROOT, Server, _bodies, wrk
from bench.dataset import conninfo, ensure_dataset, log, normalize_url
from bench.load import (
    add_common_arguments,
    high_water_marks,
    remove_cases_after,
    run_wrk,
    staff_token,
)

RESULTS_DIR = ROOT / "bench" / "results"
RT = "http://127.0.0.1:8095"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (default 1: sync workers)"
    )
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--mail-messages",
        type=int,
        default=40,
        help="messages given to rt-mailgate, two at a time (default 40)",
    )


def _mailgate(count: int, processes: int = 2) -> dict:
    """RT's email intake: new complaints piped to `rt-mailgate` (RT's own mail gateway, as
    an MTA runs it), `processes` at a time like our two intake workers; messages/s."""
    from bench.email import COMPLAINTS

    def one(i: int) -> None:
        text = COMPLAINTS[i % len(COMPLAINTS)]
        raw = (
            f"From: Person {i} <mailgate{i}@bench.example>\nTo: complaints@rt.example\n"
            f"Subject: {text[:50]}\nMessage-ID: <mailgate-{i}-{time.time_ns()}@bench.example>\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{text}\n"
        )
        subprocess.run(
            ["rt-mailgate", "--queue", "General", "--action", "correspond", "--url", RT],
            input=raw.encode(),
            check=True,
            capture_output=True,
        )

    one(-1)  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(one, range(count)))
    seconds = time.perf_counter() - started
    summary = {"messages": count, "processes": processes, "seconds": round(seconds, 2)}
    summary["per_second"] = round(count / seconds, 2)
    log(f"RT: rt-mailgate {count} messages in {seconds:.1f} s = {summary['per_second']}/s")
    return summary


def _get_load(url: str, headers: dict[str, str], args, seconds: int) -> dict:
    return run_wrk(url, args.connections, seconds, headers=headers)


def _runs(name: str, measure, args) -> dict:
    measure(3)  # warm-up
    runs = [measure(args.duration) for _ in range(args.repeat)]
    summary = {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs if r["p50_ms"] is not None),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "runs": runs,
    }
    log(
        f"{name}: {summary['rps']:.1f} req/s, p50 {summary['p50_ms']:.1f} ms,"
        f" non-2xx {summary['non_2xx']}"
    )
    return summary


def _cookie(login_url: str, form: dict) -> str:
    """Sign in through the real login form and return the session cookie header. Cookies are
    carried by hand: production marks ours Secure, which a cookie jar keeps off plain http."""
    import http.client

    parts = urllib.parse.urlsplit(login_url)
    jar: dict[str, str] = {}

    def request(method: str, body: bytes | None = None) -> str:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, parts.path, body=body, headers=headers)
        response = conn.getresponse()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                jar[key.strip()] = rest.split(";", 1)[0]
        text = response.read().decode(errors="replace")
        conn.close()
        return text

    page = request("GET")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token:
        form = {**form, "csrf_token": token.group(1)}
    request("POST", urllib.parse.urlencode(form).encode())
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _rss_mib(pattern: str) -> list[float]:
    pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+)", status)
        if match:
            sizes.append(round(int(match.group(1)) / 1024, 1))
    return sizes


def run(args) -> int:
    setup = subprocess.run(
        ["bash", str(ROOT / "bench" / "rt" / "setup.sh")], capture_output=True, text=True
    )
    if setup.returncode != 0:
        print(setup.stdout + setup.stderr)
        return setup.returncode
    rt_token = setup.stdout.strip().splitlines()[-1]
    url = normalize_url(args.database_url)
    app, dataset = ensure_dataset(url, args.cases)
    dsn = conninfo(url)
    max_case, max_customer = high_water_marks(dsn)
    token = staff_token(app, "caseworker@cfpb.example")
    RESULTS_DIR.mkdir(exist_ok=True)
    ours = RESULTS_DIR / "peer-bodies.jsonl"
    _bodies(ours)
    theirs = RESULTS_DIR / "peer-rt-bodies.jsonl"
    with ours.open() as src, theirs.open("w") as out:
        for line in src:
            body = json.loads(line)
            out.write(
                json.dumps(
                    {
                        "Queue": "General",
                        "Subject": body["description"][:60],
                        "Content": body["description"],
                        "Requestor": body.get("email", "bench@example.org"),
                    }
                )
                + "\n"
            )
    env = {
        "REDRESS_ENV": "production",
        "SECRET_KEY": "bench-only-" + "0" * 32,  # production needs 32 bytes or more
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "REDIS_URL": args.redis_url,
        "LOG_LEVEL": "WARNING",
    }
    results: dict = {"started": datetime.now().isoformat(), "dataset_cases": dataset["cases"]}
    server = Server("wsgi:app", env, args)
    try:
        server.wait("/healthz")
        base = f"http://127.0.0.1:{server.port}"
        results["create_ours"] = _runs(
            "ours: create",
            lambda s: wrk(f"{base}/api/v1/complaints", ours, f"Bearer {token}", args, s),
            args,
        )
        results["create_rt"] = _runs(
            "RT: create",
            lambda s: wrk(f"{RT}/REST/2.0/ticket", theirs, f"token {rt_token}", args, s),
            args,
        )
        results["list_ours"] = _runs(
            "ours: list",
            lambda s: _get_load(
                f"{base}/api/v1/cases?status=new&sort=due&limit=50",
                {"Authorization": f"Bearer {token}"},
                args,
                s,
            ),
            args,
        )
        query = urllib.parse.quote("Queue='General' AND Status='new'")
        results["list_rt"] = _runs(
            "RT: list",
            lambda s: _get_load(
                f"{RT}/REST/2.0/tickets?query={query}&orderby=Due&per_page=50",
                {"Authorization": f"token {rt_token}"},
                args,
                s,
            ),
            args,
        )
        cookie = _cookie(
            f"{base}/staff/login",
            {"email": "caseworker@cfpb.example", "password": "redress-demo-password"},
        )
        results["page_ours"] = _runs(
            "ours: queue page",
            lambda s: _get_load(f"{base}/staff/queues/team", {"Cookie": cookie}, args, s),
            args,
        )
        rt_cookie = _cookie(f"{RT}/NoAuth/Login.html", {"user": "root", "pass": "password"})
        results["page_rt"] = _runs(
            "RT: queue page",
            lambda s: _get_load(
                f"{RT}/Search/Results.html?Query={query}&OrderBy=Due&RowsPerPage=50",
                {"Cookie": rt_cookie},
                args,
                s,
            ),
            args,
        )
        results["rss_ours_mib"] = server.worker_rss_mib()
    finally:
        server.stop()
        results["cases_created"] = remove_cases_after(dsn, max_case, max_customer)
    results["mailgate_rt"] = _mailgate(args.mail_messages)
    results["rss_rt_mib"] = _rss_mib("rt-server")
    rows = [
        ("create", "create_ours", "create_rt"),
        ("list 50 by due date (API)", "list_ours", "list_rt"),
        ("queue page (web, signed in)", "page_ours", "page_rt"),
    ]
    print(f"\n  {'':30} {'Redress':>14} {'RT 5':>14} {'ratio':>9}")
    for label, a, b in rows:
        ra, rb = results[a], results[b]
        ratio = ra["rps"] / rb["rps"] if rb["rps"] else float("inf")
        print(
            f"  {label:30} {ra['rps']:>9.1f} req/s {rb['rps']:>9.1f} req/s {ratio:>8.0f}x"
            f"   p50 {ra['p50_ms']:.0f} ms vs {rb['p50_ms']:.0f} ms"
        )
    mail = results["mailgate_rt"]
    print(f"  {'email intake (rt-mailgate x2)':30} {'':>14} {mail['per_second']:>8.2f} msg/s")
    ours_rss, rt_rss = max(results["rss_ours_mib"]), max(results["rss_rt_mib"] or [0])
    print(f"  {'RSS per web process':30} {ours_rss:>10} MiB {rt_rss:>10} MiB")
    out = RESULTS_DIR / f"peer-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\n  raw figures: {out.relative_to(ROOT)}")
    return 0
