"""The benchmark database and its data set: N open cases, their customers and SLA clocks.

The database is the benchmarks' own (`redress_bench` by default; the name must contain
"bench", so a typo cannot point this at the app's or the tests' database, whose case tables
it truncates). It is created if missing and migrated with the app's real migrations, and
the demo directory (agencies, calendars, posted standards, staff) is loaded into it.

The cases are synthetic but shaped like the real thing:
- complaint text (subject, description, address, ZIP, position) drawn from 2,000 real NYC 311
  records (/work/shared/data/311/nyc/, or BENCH_311_CSV);
- routed as the app routes them: a category's default owner and queue, or (15 %) USAGov's
  triage queue with no category; statuses new / assigned / in_progress, an assignee from
  the agency's demo staff when it has any; a mix of channels, priorities and languages;
- received over the 30 days before `as_of` (the data set's "now", kept in `bench_meta`);
- one clock per posted standard (acknowledge, first_response, resolve) with the category's
  or agency's target, unit and calendar; acknowledge is met for ~90 %; every running clock
  is due at least 1.5 days and at risk at least 1 day after `as_of`, so that a sweep at
  `as_of` finds nothing to do; escalate_at is scheduled with the due time, as
  app.sla.service does (about one working day later), and kept when a clock is met.
  (A real system also carries breached clocks not yet met: `python -m bench sweep
  --backlog` adds them; the benchmarks add exactly the due clocks they measure.)

Loading uses COPY through psycopg 3 in one transaction: truncate, drop the secondary
indexes, COPY ... WITH (FREEZE) in batches, recreate the indexes from their exact stored
definitions (pg_get_indexdef), commit, ANALYZE. Foreign-key triggers are skipped during the
COPY (session_replication_role = replica; the rows are consistent by construction). If the
load is interrupted, the transaction rolls back and the previous data set and indexes stay.
"""

from __future__ import annotations

import csv
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/redress_bench"
SAMPLE_CSV = Path(
    os.environ.get("BENCH_311_CSV", "/work/shared/data/311/nyc/nyc311_2011_sample_2000rows.csv")
)
# Bump when the generated rows change shape: a stored data set of another version is reloaded.
DATASET_VERSION = 2  # 2: escalate_at scheduled with due_at (app.sla.service._schedule)
SEED = 20261122
DAY = 86_400
HOUR = 3_600
# app.sla.service schedules escalate_at 8 business hours (SLA_ESCALATE_AFTER_BUSINESS_HOURS)
# after due_at: about one working day, 1.4 calendar days on average.
ESCALATE_AFTER = int(1.4 * DAY)
BATCH = 50_000  # cases per COPY round
NULL = r"\N"  # NULL in COPY's text format
# The tables the load replaces (and everything that hangs off cases and customers).
LOADED_TABLES = ("customers", "cases", "sla_clocks")
CLEARED_TABLES = ("events", "messages", "outbox", "idempotency_keys", "contact_points")


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------------------------


def add_dataset_arguments(
    parser, *, cases: int = 1_000_000, url: str = DEFAULT_URL, url_env: str = "BENCH_DATABASE_URL"
) -> None:
    """--cases, --database-url and --reload: the data set a benchmark runs on (bench/README.md)."""
    parser.add_argument(
        "--cases", type=int, default=cases, help=f"open cases in the data set (default {cases:,})"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(url_env, url),
        help=f"the benchmark database (default {url})",
    )
    parser.add_argument("--reload", action="store_true", help="reload the data set")


@dataclass(frozen=True)
class DatasetRun:
    """A benchmark run on the data set: where, the app, the data set's facts and its "now"."""

    url: str
    app: object
    dataset: dict
    now: datetime
    stamp: str  # for the results file name
    started: float  # perf_counter at the start, for the run's elapsed time


def start_run(args) -> DatasetRun:
    """Load (or reuse) the data set of --cases/--database-url/--reload and the app on it."""
    url = normalize_url(args.database_url)
    started = time.perf_counter()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    app, dataset = ensure_dataset(url, args.cases, reload=args.reload)
    return DatasetRun(url, app, dataset, datetime.fromisoformat(dataset["as_of"]), stamp, started)


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL using psycopg 3; refuses databases not named for benchmarking."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    parsed = make_url(url)
    if parsed.drivername != "postgresql+psycopg":
        raise SystemExit(f"bench needs PostgreSQL through psycopg 3, not {parsed.drivername}")
    if "bench" not in (parsed.database or ""):
        raise SystemExit(
            f"refusing database {parsed.database!r}: the benchmark truncates case tables, so "
            "its database name must contain 'bench' (default: redress_bench)"
        )
    return url


def conninfo(url: str, database: str | None = None) -> str:
    """The libpq URI for psycopg.connect (optionally for another database on the server)."""
    parsed = make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> bool:
    """Create the benchmark database if it is missing; True when it was created."""
    name = make_url(url).database
    with psycopg.connect(conninfo(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def make_app(url: str):
    """The real app on the benchmark database. The "test" profile has no REDIS_URL, so jobs
    the code defers stay in the session (app.jobs) until run_ready(), which we never call."""
    from app import create_app

    return create_app("test", SQLALCHEMY_DATABASE_URI=url)


def migrate(app) -> str:
    """Run the app's migrations; returns the schema revision."""
    import flask_migrate

    from app.extensions import db

    with app.app_context():
        flask_migrate.upgrade()
        revision = db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar()
        db.session.remove()
    return revision


def load_directory(app) -> None:
    """The demo directory and staff (idempotent). Re-applying it replaces every routing rule,
    which costs a scan of all cases per rule (cases.routing_rule_id has no index): ~10 s at
    1M cases, so it is done only when the directory is missing or the schema changed."""
    from app.directory.demo import load_demo
    from app.extensions import db

    with app.app_context():
        load_demo()
        db.session.remove()


def read_meta(conn: psycopg.Connection, key: str) -> dict | None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )
    row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def write_meta(conn: psycopg.Connection, key: str, value: dict) -> None:
    read_meta(conn, key)  # creates the table when missing
    conn.execute(
        "INSERT INTO bench_meta (key, value) VALUES (%s, %s) ON CONFLICT (key)"
        " DO UPDATE SET value = excluded.value, updated_at = now()",
        (key, Jsonb(value)),
    )


def vacuum_dead_rows(url: str, share: float = 0.05) -> None:
    """VACUUM (ANALYZE) the tables earlier runs left with many dead rows.

    Every run changes rows and puts them back (the sweep's 1,000 clocks, the cases a create
    run adds and deletes), and the machine's PostgreSQL runs with autovacuum off (its CI
    configuration, conf.d/90-ci.conf): left alone, the dead rows pile up in the indexes and
    the next run measures them (a queue page read 559,641 dead index entries to find 66).
    Production keeps autovacuum on, which does this by itself.
    """
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, n_dead_tup FROM pg_stat_user_tables"
            " WHERE n_dead_tup > 1000 AND n_dead_tup > %s * greatest(n_live_tup, 1)",
            (share,),
        ).fetchall()
        for table, dead in rows:
            t0 = time.perf_counter()
            conn.execute(f'VACUUM (ANALYZE) "{table}"')  # names from the catalog
            log(f"vacuumed {table} ({dead:,} dead rows, {time.perf_counter() - t0:.1f} s)")


def ensure_dataset(url: str, cases: int, *, reload: bool = False):
    """Create, migrate and (re)load the benchmark database as needed.

    Returns (app, dataset) where dataset is the stored description of the data set: its
    case count, `as_of` (ISO time), load timings and whether this run loaded it.
    """
    url = normalize_url(url)
    if ensure_database(url):
        log(f"created database {make_url(url).database}")
    app = make_app(url)
    revision = migrate(app)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        meta = read_meta(conn, "dataset")
        present = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        has_directory = conn.execute("SELECT count(*) FROM agencies").fetchone()[0] > 0
    if not has_directory or (meta or {}).get("schema_revision") != revision:
        t0 = time.perf_counter()
        load_directory(app)
        log(
            f"schema at revision {revision}; demo directory loaded"
            f" ({time.perf_counter() - t0:.1f} s)"
        )
        if meta and present:  # the migrations have upgraded the loaded rows
            meta = {**meta, "schema_revision": revision}
            with psycopg.connect(conninfo(url), autocommit=True) as conn:
                write_meta(conn, "dataset", meta)
    if (
        not reload
        and meta
        and meta.get("version") == DATASET_VERSION
        and present >= cases
        and meta.get("cases") == present
    ):
        log(
            f"reusing the loaded data set: {present:,} open cases as of {meta['as_of']}"
            f" (loaded {meta['loaded_at']} in {meta['load_seconds']:.1f} s; --reload to redo)"
        )
        vacuum_dead_rows(url)
        return app, {**meta, "loaded_now": False}
    why = (
        "--reload"
        if reload
        else (
            f"{present:,} cases present, {cases:,} wanted"
            if present < cases
            else "data set of another version or unfinished"
        )
    )
    log(f"loading {cases:,} open cases ({why})")
    meta = load(url, cases, revision)
    return app, {**meta, "loaded_now": True}


# --------------------------------------------------------------------------------------------
# What the cases are made of
# --------------------------------------------------------------------------------------------


def _copy_text(value) -> str:
    """A value in COPY's text format (None is NULL)."""
    if value is None:
        return NULL
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@dataclass
class Sample:
    """One real 311 complaint's text, already in COPY format: subject, description, address,
    zip, lat, lon."""

    subject: str
    description: str
    address: str
    zip: str
    lat: str
    lon: str


_FALLBACK_COMPLAINTS = (
    ("Noise - Residential", "Loud Music/Party"),
    ("Street Condition", "Pothole"),
    ("Blocked Driveway", "No Access"),
    ("Consumer Complaint", "False Advertising"),
    ("Taxi Complaint", "Driver Complaint"),
)


def load_samples(path: Path = SAMPLE_CSV) -> list[Sample]:
    """Complaint text from the NYC 311 sample (Complaint Type and Descriptor, with the
    incident address); a few built-in complaints when the file is not there."""
    samples = []
    if path.exists():
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                kind = (row.get("Complaint Type") or "").strip()
                what = (row.get("Descriptor") or "").strip()
                if not kind:
                    continue
                street = (row.get("Incident Address") or "").strip()
                city = (row.get("City") or "").strip()
                zip_code = (row.get("Incident Zip") or "").strip()[:10] or None
                address = ", ".join(p for p in (street.title(), city.title()) if p) or None
                description = f"{kind}: {what}." if what else f"{kind}."
                if address:
                    description += f" Reported at {address}"
                    description += f" {zip_code}." if zip_code else "."
                lat = (row.get("Latitude") or "").strip() or None
                lon = (row.get("Longitude") or "").strip() or None
                samples.append(
                    Sample(
                        _copy_text(kind[:300]),
                        _copy_text(description),
                        _copy_text(address),
                        _copy_text(zip_code),
                        _copy_text(lat),
                        _copy_text(lon),
                    )
                )
    if not samples:
        log(f"note: {path} not found; using {len(_FALLBACK_COMPLAINTS)} built-in complaints")
        for kind, what in _FALLBACK_COMPLAINTS:
            samples.append(
                Sample(_copy_text(kind), _copy_text(f"{kind}: {what}."), NULL, NULL, NULL, NULL)
            )
    return samples


@dataclass
class Profile:
    """Where a kind of case goes and which clocks it gets (one per category, plus triage)."""

    agency_id: int
    queue_id: int | None
    category_id: int | None
    calendar_id: int
    # (metric, standard_id, target, unit, nominal seconds until due), sorted by metric
    clocks: list[tuple[str, int, float, str, int]]
    assignees: list[int]
    routing_source: str
    routing_explanation: str  # COPY text
    weight: float
    fields: str = field(default="")  # "agency\tqueue\tcategory" in COPY text


def _nominal_seconds(target: float, unit: str) -> int:
    """Roughly how long a target lasts in calendar time (8 business hours a day, 5 days a
    week): only used to spread due times, never compared with the app's calendars."""
    if unit == "business_hours":
        return int(target * 4.2 * HOUR)
    if unit == "business_days":
        return int(target * 1.4 * DAY)
    return int(target * DAY)


def directory_profiles(conn: psycopg.Connection) -> list[Profile]:
    agencies = {
        row[0]: row
        for row in conn.execute("SELECT id, code, calendar_id FROM agencies ORDER BY id")
    }
    queues: dict[int, list[tuple[int, str, bool]]] = {}
    triage = None
    for qid, agency_id, code, is_triage in conn.execute(
        "SELECT id, agency_id, code, is_triage FROM queues ORDER BY id"
    ):
        queues.setdefault(agency_id, []).append((qid, code, is_triage))
        if is_triage:
            triage = (agency_id, qid)
    standards: dict[tuple[int, int | None], dict[str, tuple]] = {}
    for sid, agency_id, category_id, metric, target, unit in conn.execute(
        "SELECT id, agency_id, category_id, metric, target, unit FROM service_standards"
    ):
        standards.setdefault((agency_id, category_id), {})[metric] = (sid, float(target), unit)
    staff: dict[int, dict[str, list[int]]] = {}
    for sid, agency_id, role in conn.execute(
        "SELECT id, agency_id, role FROM staff_users"
        " WHERE active AND agency_id IS NOT NULL ORDER BY id"
    ):
        staff.setdefault(agency_id, {}).setdefault(role, []).append(sid)

    def clocks_for(agency_id: int, category_id: int | None):
        chosen = dict(standards.get((agency_id, None), {}))
        if category_id is not None:
            chosen.update(standards.get((agency_id, category_id), {}))
        return [
            (metric, sid, target, unit, _nominal_seconds(target, unit))
            for metric, (sid, target, unit) in sorted(chosen.items())
        ]

    def assignees(agency_id: int) -> list[int]:
        people = staff.get(agency_id, {})
        return people.get("caseworker") or people.get("supervisor") or []

    profiles = []
    categories = conn.execute(
        "SELECT id, code, agency_id, queue_id FROM categories WHERE active ORDER BY id"
    ).fetchall()
    for cid, code, agency_id, queue_id in categories:
        own = [q for q in queues.get(agency_id, []) if not q[2]] or queues.get(agency_id, [])
        queue_id = queue_id or (own[0][0] if own else None)
        code_name = agencies[agency_id][1]
        profiles.append(
            Profile(
                agency_id,
                queue_id,
                cid,
                agencies[agency_id][2],
                clocks_for(agency_id, cid),
                assignees(agency_id),
                "category",
                _copy_text(
                    f"No routing rule matched, so category {code!r} went to its default "
                    f"owner. Routed to {code_name}."
                ),
                1.0,
            )
        )
    if triage is None or not profiles:
        raise SystemExit("the demo directory has no categories or no triage queue")
    agency_id, queue_id = triage
    profiles.append(
        Profile(
            agency_id,
            queue_id,
            None,
            agencies[agency_id][2],
            clocks_for(agency_id, None),
            assignees(agency_id),
            "triage",
            _copy_text(
                "No routing rule matched and no category was given; sent to triage for "
                "a person to route."
            ),
            0.15 / 0.85 * len(profiles),  # 15 % of cases arrive without a category
        )
    )
    for p in profiles:
        if not p.clocks:
            raise SystemExit(f"agency {p.agency_id} posts no service standards")
        p.fields = "\t".join(
            NULL if v is None else str(v) for v in (p.agency_id, p.queue_id, p.category_id)
        )
    return profiles


# Public references: RX-XXXX-XXXX, seven Crockford base-32 symbols and the Luhn mod 32 check
# symbol of app.cases.reference, from a bijective scramble of the case id (unique, not random).
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MASK35 = (1 << 35) - 1


def _luhn_part(values: list[int], factors: list[int]) -> int:
    total = 0
    for v, f in zip(values, factors, strict=True):
        addend = f * v
        total += addend // 32 + addend % 32
    return total


def _reference_tables():
    # Symbols s0..s6 (s6 rightmost); Luhn doubles s6, s4, s2, s0.
    hi = [(a, b, c) for a in range(32) for b in range(32) for c in range(32)]  # s0 s1 s2
    hi_text = ["".join(_ALPHABET[v] for v in t) for t in hi]
    hi_sum = [_luhn_part(list(t), [2, 1, 2]) for t in hi]
    pairs = [(a, b) for a in range(32) for b in range(32)]
    mid_a = [_ALPHABET[a] for a, _ in pairs]  # s3
    mid_b = [_ALPHABET[b] for _, b in pairs]  # s4
    mid_sum = [_luhn_part([a, b], [1, 2]) for a, b in pairs]
    lo_text = [_ALPHABET[a] + _ALPHABET[b] for a, b in pairs]  # s5 s6
    lo_sum = [_luhn_part([a, b], [1, 2]) for a, b in pairs]
    check = [_ALPHABET[(32 - t % 32) % 32] for t in range(32 * 8)]
    return hi_text, hi_sum, mid_a, mid_b, mid_sum, lo_text, lo_sum, check


def _scramble(i: int) -> int:
    """A bijection on 35-bit integers (xorshift-multiply steps are each invertible)."""
    x = (i + 0x2545F491) & _MASK35
    x ^= x >> 17
    x = (x * 0x4F1BBCDCB) & _MASK35
    x ^= x >> 13
    x = (x * 0x2C1B3C6D5) & _MASK35
    x ^= x >> 16
    return x


def make_reference_function():
    hi_text, hi_sum, mid_a, mid_b, mid_sum, lo_text, lo_sum, check = _reference_tables()

    def reference(case_id: int) -> str:
        x = _scramble(case_id)
        h, m, lo = x >> 20, (x >> 10) & 1023, x & 1023
        c = check[hi_sum[h] + mid_sum[m] + lo_sum[lo]]
        return f"RX-{hi_text[h]}{mid_a[m]}-{mid_b[m]}{lo_text[lo]}{c}"

    return reference


def make_stamp_function():
    """Epoch seconds to a COPY timestamptz literal, fast (the hour prefix is cached)."""
    hours: dict[int, str] = {}
    mmss = [f"{m:02d}:{s:02d}+00" for m in range(60) for s in range(60)]

    def stamp(seconds: int) -> str:
        h, rest = divmod(seconds, HOUR)
        prefix = hours.get(h)
        if prefix is None:
            prefix = hours[h] = datetime.fromtimestamp(h * HOUR, UTC).strftime("%Y-%m-%d %H:")
        return prefix + mmss[rest]

    return stamp


_FIRST = (
    "Maria",
    "James",
    "Aisha",
    "Wei",
    "Jose",
    "Linda",
    "Mohammed",
    "Olga",
    "Kwame",
    "Sofia",
    "David",
    "Priya",
    "Luis",
    "Grace",
    "Tomasz",
    "Fatima",
    "John",
    "Mei",
)
_LAST = (
    "Garcia",
    "Smith",
    "Johnson",
    "Nguyen",
    "Rodriguez",
    "Brown",
    "Khan",
    "Williams",
    "Lopez",
    "Kim",
    "Jones",
    "Patel",
    "Davis",
    "Martinez",
    "Chen",
    "Okafor",
    "Miller",
)
_NAMES = [f"{f} {last}" for f in _FIRST for last in _LAST]


def _table(weights: dict[str, int]) -> list[str]:
    """A 100-slot lookup for a weighted choice by int(random() * 100)."""
    out = [value for value, w in weights.items() for _ in range(w)]
    assert len(out) == 100, weights
    return out


STATUS = _table({"new": 20, "assigned": 25, "in_progress": 55})
CHANNEL = _table({"web": 45, "email": 20, "phone": 14, "api": 8, "sms": 7, "mail": 4, "open311": 2})
PRIORITY = _table({"normal": 80, "high": 12, "low": 5, "urgent": 3})
PREFERRED = {
    "web": "email",
    "email": "email",
    "api": "email",
    "open311": "email",
    "sms": "sms",
    "mail": "mail",
    "phone": NULL,
}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = ("id", "name", "preferred_contact", "language", "created_at")
CASE_COLUMNS = (
    "id",
    "reference",
    "status",
    "channel",
    "priority",
    "agency_id",
    "queue_id",
    "category_id",
    "customer_id",
    "assignee_id",
    "subject",
    "description",
    "address",
    "zip",
    "lat",
    "lon",
    "language",
    "preferred_contact",
    "received_at",
    "created_at",
    "updated_at",
    "next_due_at",
    "routing_source",
    "routing_explanation",
)
CLOCK_COLUMNS = (
    "id",
    "case_id",
    "standard_id",
    "metric",
    "target",
    "unit",
    "calendar_id",
    "phase",
    "started_at",
    "due_at",
    "at_risk_at",
    "escalate_at",
    "paused_total",
    "met_at",
)


def generate_batch(first: int, last: int, gen: dict) -> tuple[str, str, str, int]:
    """COPY text for customers, cases and clocks of cases first..last-1; returns the next
    clock id too. All randomness comes from gen["rng"], so a load is reproducible."""
    rnd = gen["rng"].random
    profiles, picks = (
        gen["profiles"],
        gen["rng"].choices(range(len(gen["profiles"])), gen["weights"], k=last - first),
    )
    samples, n_samples = gen["samples"], len(gen["samples"])
    stamp, reference = gen["stamp"], gen["reference"]
    as_of = gen["as_of"]
    floor_due, floor_risk = as_of + int(1.5 * DAY), as_of + DAY
    clock_id = gen["clock_id"]
    customers, cases, clocks = [], [], []
    for case_id, pick in zip(range(first, last), picks, strict=True):
        p = profiles[pick]
        s = samples[int(rnd() * n_samples)]
        received = as_of - 60 - int(rnd() * 30 * DAY)
        created = received + int(rnd() * 3)
        channel = CHANNEL[int(rnd() * 100)]
        status = STATUS[int(rnd() * 100)]
        assignee = NULL
        if status != "new":
            if p.assignees:
                assignee = str(p.assignees[int(rnd() * len(p.assignees))])
            elif status == "assigned":
                status = "new"
        language = "es" if rnd() < 0.1 else "en"
        preferred = PREFERRED[channel]
        created_text = stamp(created)
        name = NULL if rnd() < 0.1 else _NAMES[int(rnd() * len(_NAMES))]
        customers.append(f"{case_id}\t{name}\t{preferred}\t{language}\t{created_text}\n")
        ack_met = status != "new" or rnd() < 0.6
        next_due = None
        for metric, standard_id, target, unit, nominal in p.clocks:
            due = received + nominal
            if metric == "acknowledge" and ack_met:
                phase, met = "met", stamp(received + 60 + int(rnd() * min(nominal, 20 * HOUR)))
                risk = received + int(0.75 * nominal)
            else:
                phase, met = "running", NULL
                if due < floor_due:  # would be due or breached by now: move it ahead
                    due = floor_due + int(rnd() * 9 * DAY)
                risk = max(received + int(0.75 * (due - received)), floor_risk)
                if next_due is None or due < next_due:
                    next_due = due
            clocks.append(
                f"{clock_id}\t{case_id}\t{standard_id}\t{metric}\t{target}\t{unit}\t"
                f"{p.calendar_id}\t{phase}\t{stamp(received)}\t{stamp(due)}\t{stamp(risk)}\t"
                f"{stamp(due + ESCALATE_AFTER)}\t0\t{met}\n"
            )
            clock_id += 1
        updated = created if status == "new" else created + int(rnd() * (as_of - created))
        cases.append(
            f"{case_id}\t{reference(case_id)}\t{status}\t{channel}\t"
            f"{PRIORITY[int(rnd() * 100)]}\t{p.fields}\t{case_id}\t{assignee}\t"
            f"{s.subject}\t{s.description}\t{s.address}\t{s.zip}\t{s.lat}\t{s.lon}\t"
            f"{language}\t{preferred}\t{stamp(received)}\t{created_text}\t{stamp(updated)}\t"
            f"{NULL if next_due is None else stamp(next_due)}\t{p.routing_source}\t"
            f"{p.routing_explanation}\n"
        )
    return "".join(customers), "".join(cases), "".join(clocks), clock_id


def _secondary_indexes(cur: psycopg.Cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of a table's indexes that back no constraint."""
    return cur.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass"
        "   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        " ORDER BY i.relname",
        (table,),
    ).fetchall()


def _copy(cur: psycopg.Cursor, table: str, columns: tuple[str, ...], data: str, freeze: bool):
    stmt = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(" WITH (FREEZE)") if freeze else sql.SQL(""),
    )
    with cur.copy(stmt) as copy:
        copy.write(data)


def load(url: str, cases: int, schema_revision: str | None = None) -> dict:
    """Replace the data set with `cases` open cases; returns its stored description."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    as_of_dt = datetime.now(UTC).replace(microsecond=0)
    as_of = int(as_of_dt.timestamp())
    with psycopg.connect(conninfo(url)) as conn:
        cur = conn.cursor()
        profiles = directory_profiles(conn)
        gen = {
            "rng": random.Random(SEED),
            "profiles": profiles,
            "weights": [p.weight for p in profiles],
            "samples": load_samples(),
            "stamp": make_stamp_function(),
            "reference": make_reference_function(),
            "as_of": as_of,
            "clock_id": 1,
        }
        conn.commit()
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        fk_checks = True
        try:
            with conn.transaction():  # a savepoint: not being superuser is not fatal
                cur.execute("SET LOCAL session_replication_role = replica")
            fk_checks = False
        except psycopg.errors.InsufficientPrivilege:
            log("note: not allowed to skip foreign-key checks; the COPY will be slower")
        cur.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(map(sql.Identifier, LOADED_TABLES + CLEARED_TABLES))
            )
        )
        indexes = [
            (t, name, ddl) for t in LOADED_TABLES for name, ddl in _secondary_indexes(cur, t)
        ]
        for _, name, _ in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        log(
            f"  truncated; dropped {len(indexes)} secondary indexes for the load"
            f"{'' if fk_checks else '; foreign-key triggers off for the COPY'}"
        )
        t0 = time.perf_counter()
        gen_seconds = copy_seconds = 0.0
        rows = {"customers": 0, "cases": 0, "sla_clocks": 0}
        for first in range(1, cases + 1, BATCH):
            last = min(first + BATCH, cases + 1)
            g0 = time.perf_counter()
            customers, case_rows, clocks, gen["clock_id"] = generate_batch(first, last, gen)
            g1 = time.perf_counter()
            for table, columns, data in (
                ("customers", CUSTOMER_COLUMNS, customers),
                ("cases", CASE_COLUMNS, case_rows),
                ("sla_clocks", CLOCK_COLUMNS, clocks),
            ):
                # FREEZE: the tables were truncated in this transaction, so the rows can be
                # written frozen and all-visible (no hint-bit rewrites or VACUUM later).
                _copy(cur, table, columns, data, freeze=True)
            gen_seconds += g1 - g0
            copy_seconds += time.perf_counter() - g1
            rows["customers"] += last - first
            rows["cases"] += last - first
            rows["sla_clocks"] = gen["clock_id"] - 1
            done = last - 1
            elapsed = time.perf_counter() - t0
            if done % 200_000 == 0 or done == cases:
                log(
                    f"  {done:>9,} cases, {rows['sla_clocks']:>9,} clocks copied"
                    f"  ({elapsed:.1f} s, {done / elapsed:,.0f} cases/s)"
                )
        timings["generate_seconds"] = gen_seconds
        timings["copy_seconds"] = copy_seconds
        t1 = time.perf_counter()
        for table, name, ddl in indexes:
            i0 = time.perf_counter()
            cur.execute(ddl)
            log(f"  index {name} on {table}: {time.perf_counter() - i0:.1f} s")
        timings["index_seconds"] = time.perf_counter() - t1
        for table in LOADED_TABLES + CLEARED_TABLES:
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                    " coalesce((SELECT max(id) FROM {}), 0) + 1, false)"
                ).format(sql.Identifier(table)),
                (table,),
            )
        if not fk_checks:
            cur.execute("SET LOCAL session_replication_role = origin")
        meta = {
            "version": DATASET_VERSION,
            "schema_revision": schema_revision,
            "cases": rows["cases"],
            "customers": rows["customers"],
            "clocks": rows["sla_clocks"],
            "as_of": as_of_dt.isoformat(),
            "loaded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "foreign_key_checks_during_copy": fk_checks,
            "sample_csv": str(SAMPLE_CSV),
            **{k: round(v, 2) for k, v in timings.items()},
        }
        write_meta(conn, "dataset", meta)
        c0 = time.perf_counter()
        conn.commit()
        timings["commit_seconds"] = time.perf_counter() - c0
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        a0 = time.perf_counter()
        for table in LOADED_TABLES:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        timings["analyze_seconds"] = time.perf_counter() - a0
        meta.update({k: round(v, 2) for k, v in timings.items()})
        meta["load_seconds"] = round(time.perf_counter() - started, 2)
        write_meta(conn, "dataset", meta)
    log(
        f"  loaded in {meta['load_seconds']:.1f} s (generate {gen_seconds:.1f} s, copy "
        f"{copy_seconds:.1f} s, indexes {timings['index_seconds']:.1f} s, analyze "
        f"{timings['analyze_seconds']:.1f} s)"
    )
    return meta
