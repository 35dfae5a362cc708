"""Operations: migrations match the models, logs carry no personal data, rate limits,
gunicorn serving against the real database."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_create_exactly_the_schema_the_models_describe(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_opening_a_case_logs_no_personal_data(client, caplog):
    from app.ops.logging import JsonFormatter

    caplog.set_level(logging.INFO)
    r = client.post(
        "/api/v1/complaints",
        json={
            "description": "My neighbour Jane Roe owes me money",
            "email": "jane.private@example.org",
            "phone": "202-555-0143",
            "name": "Jane Roe",
        },
    )
    assert r.status_code == 201
    lines = [JsonFormatter().format(rec) for rec in caplog.records]
    assert any(r.json["reference"] in line for line in lines)  # the reference is logged
    text = "\n".join(lines)
    for secret in ("jane.private", "5550143", "Jane Roe", "owes me money"):
        assert secret not in text


def test_access_logs_hide_the_contact_in_tracking_urls():
    from app.ops.logging import RedactContacts

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '"%s" %s',
        ("GET /api/v1/track/RX-1?contact=ann%40example.org&x=1 HTTP/1.1", 404),
        None,
    )
    RedactContacts().filter(record)
    assert "ann" not in record.getMessage() and "contact=[redacted]&x=1" in record.getMessage()
    gunicorn = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s", None, None)
    gunicorn.args = {"r": "GET /track?reference=RX-1&contact=2025550143 HTTP/1.1"}
    RedactContacts().filter(gunicorn)
    assert "2025550143" not in gunicorn.getMessage()


def test_public_complaint_api_is_rate_limited_but_staff_are_not(app, staff_token):
    limited = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_ENABLED=True,
        PUBLIC_RATE_LIMIT="2 per minute",
    )
    client = limited.test_client()
    body = {"description": "x"}
    try:
        codes = [client.post("/api/v1/complaints", json=body).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        refused = client.post("/api/v1/complaints", json=body)
        assert "Too many requests" in refused.json["errors"]["_request"][0]
        headers = staff_token("triage@usagov.example")
        assert client.post("/api/v1/complaints", json=body, headers=headers).status_code == 201
    finally:
        from app.extensions import limiter

        limiter.init_app(app)  # the extension is shared: give the suite's app its settings back


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_the_app_against_the_real_database(app):
    """`gunicorn wsgi:app` in production mode, on the same database the tests use."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    port = _free_port()
    env = {
        **os.environ,
        "REDRESS_ENV": "production",
        "SECRET_KEY": "gunicorn-test-secret-" + "x" * 32,
        "DATABASE_URL": url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
        [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                    health = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"gunicorn did not come up:\n{out[-3000:]}")
                time.sleep(0.3)
        assert health == {
            "status": "ok",
            "database": "ok",
            "queue": "inline",
            "routing_model": "none",
            "routing_model_version": None,
        }
        request = urllib.request.Request(  # noqa: S310
            f"http://127.0.0.1:{port}/api/v1/complaints",
            data=json.dumps(
                {"description": "Robocalls every night", "email": "g@example.org"}
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            assert r.status == 201
            body = json.loads(r.read())
        assert body["reference"].startswith("RX-")
        assert body["tracking_url"].startswith(f"http://127.0.0.1:{port}/track")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_healthz_is_503_when_the_database_is_down():
    port = _free_port()  # nothing listens there
    down = create_app(
        "test", SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"
    )
    r = down.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json == {
        "status": "unavailable",
        "database": "down",
        "queue": "inline",
        "routing_model": "unknown",
        "routing_model_version": None,
    }


def test_partial_indexes_in_the_database_have_the_models_conditions(app):
    """compare_metadata ignores index predicates; a stale one is correct but slow."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("index predicates are read from PostgreSQL's catalog")
    import re

    from sqlalchemy import text

    checked = 0
    for table in db.metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["postgresql"].get("where")
            if where is None:
                continue
            actual = db.session.scalar(
                text(
                    "SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
                ),
                {"name": index.name},
            )
            assert actual is not None, f"{index.name} is missing"
            wanted = str(where)
            for clause in re.split(r"\s+AND\s+", wanted):
                column = clause.split()[0]
                negated = "NOT NULL" in clause
                assert column in actual, f"{index.name}: {column} not in {actual}"
                if "IS NULL" in clause or negated:
                    expect = f"{column} IS NOT NULL" if negated else f"{column} IS NULL"
                    assert expect in actual, f"{index.name}: wants {clause}, has {actual}"
            checked += 1
    assert checked >= 4
