"""Inbound email: messages per second through store + parse + thread + persist on PostgreSQL.

Each message goes the way a door and the worker take it: `app.email.intake.accept` stores the
raw bytes and commits (the door), then `app.inbound.service.process` parses, classifies,
threads and persists it and commits its outcome (the job). Deliveries that processing queues
(acknowledgments) stay queued and are not run: delivery is another benchmark.

The message mix (seeded, repeatable): new complaints in plain text, HTML and multipart with a
small attachment (55 %), replies to cases opened earlier in the run, threaded by In-Reply-To
or by the reference in the subject, with quoted history below (25 %), automatic replies (12 %)
and bounces (8 %). Senders repeat, so customers are matched and reused.

`--processes N` (default 2, one per core) runs N such streams at once, each in its own
process with its own connection, as N `redress worker`s on one box would; the rate is all
messages over the wall time from a common start to the last finish ("per box").

The database is its own (`redress_bench_email` by default, created and migrated if missing,
demo directory loaded); the case work tables are emptied before each run. Raw figures go to
bench/results/email-<timestamp>.json.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import statistics
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from bench.dataset import ensure_database, log, make_app, migrate, normalize_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1/redress_bench_email"
RESULTS = Path(__file__).parent / "results"
WORK_TABLES = (
    "email_sender_windows",
    "inbound_messages",
    "attachments",
    "outbox",
    "idempotency_keys",
    "sla_clocks",
    "events",
    "messages",
    "cases",
    "contact_points",
    "customers",
)
COMPLAINTS = [
    "The airline cancelled my flight and still has not paid the refund it promised.",
    "Equifax shows a credit card account on my credit report that is not mine.",
    "A debt collector calls me at work every day about a debt I already paid.",
    "I get robocalls every morning from a spoofed caller ID about my car warranty.",
    "My employer has not paid overtime for the last six weeks.",
    "The housing authority has not processed my Section 8 voucher transfer.",
    "My SSI payment never arrived this month and nobody answers the phone.",
    "The landlord is trying to evict us without notice.",
    "My mortgage servicer lost my payment and charged a late fee.",
    "Mi vuelo fue cancelado y la aerolínea no me devuelve el dinero.",
]


def add_arguments(parser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="messages (default 2,000)")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="processes working at once, each with its own connection, as `redress worker`s "
        "on one box would (default 2: one per core)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_EMAIL_DATABASE_URL", DEFAULT_URL),
        help=f"the benchmark database (default {DEFAULT_URL})",
    )


def _complaint(rng: random.Random, sender: str, i: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Customer {sender.split('@')[0]} <{sender}>"
    mail["To"] = "complaints@redress.localhost"
    mail["Subject"] = f"Complaint {i}"
    mail["Message-ID"] = make_msgid(domain="bench.example")
    text = rng.choice(COMPLAINTS) + f"\n\nDetails {i}: " + "lorem ipsum " * rng.randint(5, 80)
    style = rng.random()
    mail.set_content(text)
    if style < 0.4:
        html = "<html><body><p>" + text.replace("\n", "<br>") + "</p></body></html>"
        mail.add_alternative(html, subtype="html")
    if style > 0.8:
        mail.add_attachment(b"%PDF-1.4 " + os.urandom(2000), "application", "pdf", filename="a.pdf")
    return mail


def _reply(rng: random.Random, sender: str, case: tuple[str, str]) -> EmailMessage:
    reference, first_id = case
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "complaints@redress.localhost"
    mail["Message-ID"] = make_msgid(domain="bench.example")
    if rng.random() < 0.5:
        mail["Subject"] = "Re: your message"
        mail["In-Reply-To"] = first_id
        mail["References"] = first_id
    else:
        mail["Subject"] = f"Re: About your complaint [{reference}]"
    mail.set_content(
        "Here is the information you asked for: account 4411.\n\n"
        "On Mon, Nov 30, 2026 at 9:12 AM Agency <complaints@redress.localhost> wrote:\n"
        + "> quoted line of the earlier message\n"
        * rng.randint(3, 30)
    )
    return mail


def _auto(sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "complaints@redress.localhost"
    mail["Subject"] = "Automatic reply: We received your complaint"
    mail["Auto-Submitted"] = "auto-replied"
    mail["Message-ID"] = make_msgid(domain="bench.example")
    mail.set_content("I am out of the office until Monday.")
    return mail


def _bounce(sender: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.bench.example\nTo: complaints@redress.localhost\n"
        f"Subject: Undelivered Mail Returned to Sender\nMessage-ID: {make_msgid()}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nUser unknown.\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.bench.example\n\n"
        f"Final-Recipient: rfc822; {sender}\nAction: failed\nStatus: 5.1.1\n--b--\n"
    ).encode()


def _stream(url: str, seed: int, count: int, index: int, start, out) -> None:
    """One process: store and process `count` messages, one at a time, as a worker does.

    Senders are this process's own (`p<index>-person<n>`), so processes do not race for
    the same new customer (a race the app handles, but not what this measures)."""
    app = make_app(url)
    app.config["EMAIL_SENDER_LIMIT"] = 10**9  # senders repeat on purpose
    logging.getLogger("app").setLevel(logging.WARNING)  # not a line per case opened
    from app.email.intake import accept
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.inbound.service import process

    rng = random.Random(seed * 1000 + index)
    senders = [f"p{index}-person{i}@bench.example" for i in range(max(10, count // 4))]
    opened: list[tuple[str, str, str]] = []  # (sender, reference, first Message-ID)
    store_times, process_times = [], []
    outcomes: dict[str, int] = {}
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connected before the clock starts
        db.session.rollback()
        start.wait()
        started = time.perf_counter()
        for i in range(count):
            roll = rng.random()
            if roll < 0.25 and opened:
                sender, reference, first_id = rng.choice(opened)
                raw = _reply(rng, sender, (reference, first_id)).as_bytes()
            elif roll < 0.37:
                raw = _auto(rng.choice(senders)).as_bytes()
            elif roll < 0.45:
                raw = _bounce(rng.choice(senders))
            else:
                sender = rng.choice(senders)
                raw = _complaint(rng, sender, i).as_bytes()
            t0 = time.perf_counter()
            row, _ = accept(raw, "file")
            db.session.commit()
            t1 = time.perf_counter()
            outcome = process(row.id)
            t2 = time.perf_counter()
            store_times.append(t1 - t0)
            process_times.append(t2 - t1)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "case_opened":
                done = db.session.get(InboundMessage, row.id)
                opened.append(
                    (
                        done.case.customer.contacts[0].value,
                        done.case.reference,
                        done.message.external_id,
                    )
                )
            db.session.expunge_all()
        finished = time.perf_counter()
        db.session.remove()
    out.put(
        {
            "started": started,
            "finished": finished,
            "store": store_times,
            "process": process_times,
            "outcomes": outcomes,
        }
    )


def run(args) -> int:
    url = normalize_url(args.database_url)
    if ensure_database(url):
        log(f"created database {url.rsplit('/', 1)[-1]}")
    app = make_app(url)
    revision = migrate(app)
    from app.extensions import db

    with app.app_context():
        from app.directory.models import Agency

        if db.session.scalar(db.select(Agency.id).limit(1)) is None:
            from app.directory.demo import load_demo

            load_demo()
        for table in WORK_TABLES:
            db.session.execute(db.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        db.session.commit()
        db.session.remove()
    # Fresh interpreters (spawn): no connection or state is shared with this one.
    context = multiprocessing.get_context("spawn")
    processes = max(1, args.processes)
    start, out = context.Barrier(processes), context.Queue()
    shares = [
        args.messages // processes + (i < args.messages % processes) for i in range(processes)
    ]
    workers = [
        context.Process(target=_stream, args=(url, args.seed, share, i, start, out))
        for i, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    parts = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise SystemExit(f"an intake process failed (exit {worker.exitcode})")
    elapsed = max(p["finished"] for p in parts) - min(p["started"] for p in parts)
    store_times = [t for p in parts for t in p["store"]]
    process_times = [t for p in parts for t in p["process"]]
    outcomes: dict[str, int] = {}
    for part in parts:
        for key, value in part["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + value
    total = [a + b for a, b in zip(store_times, process_times, strict=True)]
    rate = args.messages / elapsed
    result = {
        "benchmark": "email-intake",
        "messages": args.messages,
        "processes": processes,
        "seed": args.seed,
        "schema_revision": revision,
        "elapsed_s": round(elapsed, 3),
        "messages_per_second": round(rate, 1),
        "per_process_per_second": round(rate / processes, 1),
        "outcomes": outcomes,
        "store_ms_p50": round(statistics.median(store_times) * 1000, 2),
        "process_ms_p50": round(statistics.median(process_times) * 1000, 2),
        "total_ms_p50": round(statistics.median(total) * 1000, 2),
        "total_ms_p95": round(statistics.quantiles(total, n=20)[18] * 1000, 2),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"email-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    log(
        f"{args.messages:,} messages in {elapsed:.1f} s: {rate:.1f} messages/s with "
        f"{processes} process(es), one connection each ({rate / processes:.1f}/s per process;"
        f" store p50 {result['store_ms_p50']} ms, process p50 {result['process_ms_p50']} ms,"
        f" total p95 {result['total_ms_p95']} ms); target >= 200/s per box"
    )
    log(f"outcomes: {outcomes}")
    return 0
