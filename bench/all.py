"""Every benchmark in one run, then one table: each figure beside its target and its peer.

`make bench` runs this. In order, each with its own defaults (see its --help):

  sweep      the SLA sweep at 1,000,000 open cases (loads the data set the first time)
  publish    the hourly publish and nightly roll-up on the same data set
  pages      staff queue and case pages, server time, on the same 1,000,000 cases
  api        POST /api/v1/complaints under gunicorn vs a bare Flask + psycopg INSERT (wrk)
  email      inbound email intake, two processes (one per core)
  delivery   outbound email to an SMTP sink, two workers vs RQ's forking worker
  routing    rules alone vs rules + the routing model on held-out real narratives; routing
             latency; training on 50,000 closed cases; web worker memory with the model
  peer       Request Tracker 5 side by side (create, list, queue page, rt-mailgate, memory):
             only with --peer, since it installs RT (root, minutes) — bench/rt/setup.sh

Each benchmark leaves its raw figures in bench/results/<name>-<timestamp>.json; this one
reads them back, prints the table and writes bench/results/all-<timestamp>.json. A benchmark
that fails is reported in the table and the run goes on; the exit status says whether all ran.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from datetime import datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SHARED_1M = "postgresql+psycopg://postgres@127.0.0.1/redress_bench"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--peer", action="store_true", help="also run Request Tracker side by side (root)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset, e.g. sweep,email (default: all but peer)",
    )
    parser.add_argument(
        "--cases", type=int, default=1_000_000, help="open cases in the data set (default 1M)"
    )


def _plan(args) -> list[tuple[str, list[str]]]:
    cases = ["--cases", str(args.cases)]
    plan = [
        ("sweep", cases),
        ("publish", cases),
        # The queue and case pages on the same million cases as the sweep.
        ("pages", [*cases, "--database-url", SHARED_1M]),
        ("api", cases),
        ("email", []),
        ("delivery", cases),
        ("routing", []),
    ]
    if args.peer:
        plan.append(("peer", cases))
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        plan = [step for step in plan if step[0] in wanted]
    return plan


def _latest(name: str, since: float) -> dict | None:
    """The raw figures a benchmark wrote during this run (its newest results file)."""
    files = [p for p in RESULTS_DIR.glob(f"{name}-*.json") if p.stat().st_mtime >= since]
    if not files:
        return None
    return json.loads(max(files, key=lambda p: p.stat().st_mtime).read_text())


def run(args) -> int:
    from bench.__main__ import BENCHMARKS

    figures: dict[str, dict | None] = {}
    failures: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name, argv in _plan(args):
        module = BENCHMARKS[name]
        parser = argparse.ArgumentParser(prog=f"bench {name}")
        module.add_arguments(parser)
        sub_args = parser.parse_args(argv)
        print(f"\n===== bench {name} {' '.join(argv)}", flush=True)
        started = time.time()
        try:
            status = module.run(sub_args)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - report it and go on
            traceback.print_exc()
            status = f"{exc.__class__.__name__}: {exc}"
        durations[name] = round(time.time() - started, 1)
        figures[name] = _latest(name, started - 1)
        if status not in (0, None) and name != "pages":
            failures[name] = str(status)
        elif figures[name] is None:
            failures[name] = "no results written"
    rows = table(figures, failures)
    print_table(rows)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"all-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {"rows": rows, "failures": failures, "seconds": durations, "figures": figures},
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"\n  raw figures: bench/results/{out.name}; seconds per benchmark: {durations}")
    return 1 if failures else 0


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "NOT MET")


def table(f: dict[str, dict | None], failures: dict[str, str]) -> list[dict]:
    """The summary rows: what, measured, target, met or not, and the side-by-side figure."""
    rows: list[dict] = []

    def add(what, measured, target="", ok=None, beside=""):
        rows.append(
            {
                "what": what,
                "measured": measured,
                "target": target,
                "status": _verdict(ok),
                "beside": beside,
            }
        )

    def failed(name: str) -> bool:
        if f.get(name) is None:
            if name in failures:
                add(f"{name}: did not run", failures[name][:60], ok=False)
            return True
        return False

    if not failed("sweep"):
        none, due = f["sweep"]["sweep_none_due"], f["sweep"]["sweep_newly_due"]
        clocks = f["sweep"]["counts"]["clocks"]
        add(
            f"SLA sweep, nothing due ({clocks:,} clocks)",
            f"{none['median_ms']:.1f} ms",
            "< 20 ms",
            none["median_ms"] < 20,
        )
        add(
            f"SLA sweep, {due['due']:,} newly due",
            f"{due['median_ms']:.0f} ms",
            "< 100 ms",
            due["median_ms"] < 100,
        )
    if not failed("publish"):
        for key, label in (("publish", "hourly publish"), ("rollup", "nightly roll-up")):
            if key in f["publish"]:
                add(label, f"{f['publish'][key]['median_ms']:,.0f} ms")
    if not failed("pages"):
        pages = f["pages"]["pages"]
        worst = max(pages.items(), key=lambda kv: kv[1]["p95_ms"])
        queue = [v["p95_ms"] for k, v in pages.items() if "queue" in k]
        case = pages.get("case page", {}).get("p95_ms")
        cases = f["pages"].get("dataset", {}).get("cases") or f["pages"].get("cases")
        at = f" at {cases:,} cases" if isinstance(cases, int) else ""
        add(
            f"staff queue pages, p95 server time{at}",
            f"≤ {max(queue):.0f} ms" if queue else "—",
            "< 50 ms",
            bool(queue) and max(queue) < 50,
        )
        if case is not None:
            add(f"case page, p95 server time{at}", f"{case:.0f} ms", "< 50 ms", case < 50)
        add("slowest page", f"{worst[0]}: {worst[1]['p95_ms']:.0f} ms")
    peer = f.get("peer")
    if not failed("api"):
        s, at80 = f["api"]["summary"], f["api"]["app_at_80"]
        rt_create = peer and peer["create_rt"]["rps"]
        add(
            "POST /api/v1/complaints vs bare INSERT",
            f"{s['app_rps']:.0f} vs {s['bare_rps']:.0f} req/s ({s['ratio']:.0%})",
            "≥ 50 %",
            s["ratio"] >= 0.5,
        )
        add(
            f"  p99 at 80 % of peak ({at80['target_rate']} req/s)",
            f"{at80['p99_ms']:.0f} ms",
            "< 100 ms",
            at80["p99_ms"] < 100,
        )
        cpu = f["api"].get("app_cpu")
        if cpu:
            add(
                "  CPU per create: web workers / PostgreSQL",
                f"{cpu['web_ms_per_request']:.1f} / {cpu['postgres_ms_per_request']:.1f} ms",
                beside=f"PostgreSQL {cpu['postgres_cores']} cores busy at peak",
            )
        rss = max(f["api"]["app_rss_mib"])
        add("RSS per web process", f"{rss:.0f} MiB", "≤ 150 MiB", rss <= 150)
        if rt_create:
            ours = peer["create_ours"]["rps"]
            add(
                "create vs RT 5 REST2 (same wrk settings)",
                f"{ours:.1f} vs {rt_create:.1f} req/s",
                "≥ 100×",
                ours / rt_create >= 100,
                f"{ours / rt_create:.0f}×",
            )
    if not failed("email"):
        e = f["email"]
        rt_mail = peer and peer.get("mailgate_rt", {}).get("per_second")
        add(
            f"email intake, {e.get('processes', 1)} processes (per box)",
            f"{e['messages_per_second']:.0f} msg/s",
            "≥ 200/s",
            e["messages_per_second"] >= 200,
            f"{e['messages_per_second'] / rt_mail:.0f}× rt-mailgate ({rt_mail}/s)"
            if rt_mail
            else "",
        )
    if not failed("delivery"):
        runs = f["delivery"]["runs"]
        ours, forking = runs[0], runs[1]
        rate = ours.get("per_second_flowing") or ours["per_second"]
        fork_rate = forking.get("per_second_flowing") or forking["per_second"]
        add(
            "outbound delivery, 2 workers, SMTP sink",
            f"{rate:.0f} msg/s",
            "≥ 500/s",
            rate >= 500,
            f"{rate / fork_rate:.0f}× RQ forking worker ({fork_rate:.0f}/s)",
        )
    if not failed("routing"):
        r = f["routing"]
        m, rules = r["model"], r["rules"]
        add(
            f"routing, held-out narratives ({m['n']:,}): right agency",
            f"{m['right']:.1%}",
            "≥ 90 %",
            m["right"] >= 0.90,
            f"rules alone {rules['right']:.1%}",
        )
        add("  triage", f"{m['triage']:.1%}", "≤ 10 %", m["triage"] <= 0.10,
            f"rules alone {rules['triage']:.1%}")  # fmt: skip
        add("  wrong agency", f"{m['wrong']:.1%}", "≤ 3 %", m["wrong"] <= 0.03,
            f"rules alone {rules['wrong']:.1%}")  # fmt: skip
        lat = r["model_latency"]
        add(
            "  routing a complaint, p95 CPU time",
            f"{lat['p95_cpu_ms']:.2f} ms",
            "< 2 ms",
            lat["p95_cpu_ms"] < 2,
            f"wall {lat['p95_ms']:.2f} ms; rules alone {r['rules_latency']['p95_cpu_ms']:.2f} ms",
        )
        if "closed_training_seconds" in r:
            secs = r["closed_training_seconds"]
            add(f"  training on {r['closed']['cases']:,} closed cases", f"{secs:.0f} s",
                "< 60 s", secs < 60)  # fmt: skip
        if "rss_model_mib" in r:
            rss = max(r["rss_model_mib"])
            add("  web worker RSS with the model", f"{rss:.0f} MiB", "≤ 150 MiB", rss <= 150,
                f"without: {max(r['rss_rules_mib']):.0f} MiB")  # fmt: skip
    if peer:
        for label, a, b in (
            ("case list API vs RT REST2 search", "list_ours", "list_rt"),
            ("queue page vs RT search results", "page_ours", "page_rt"),
        ):
            ours, theirs = peer[a]["rps"], peer[b]["rps"]
            add(
                label,
                f"{ours:.1f} vs {theirs:.1f} req/s",
                beside=f"{ours / theirs:.0f}×" if theirs else "",
            )
        rt_rss = max(peer.get("rss_rt_mib") or [0])
        add("RT 5 RSS per server process", f"{rt_rss:.0f} MiB")
    elif "peer" in failures:
        failed("peer")
    return rows


def print_table(rows: list[dict]) -> None:
    widths = {
        key: max(len(key), *(len(str(r[key])) for r in rows)) if rows else len(key)
        for key in ("what", "measured", "target", "status", "beside")
    }
    header = {"what": "what", "measured": "measured", "target": "target"}
    header |= {"status": "status", "beside": "side by side"}
    print()
    for row in [header, None, *rows]:
        if row is None:
            print("  " + "  ".join("-" * widths[k] for k in widths))
            continue
        print("  " + "  ".join(str(row[k]).ljust(widths[k]) for k in widths).rstrip())
