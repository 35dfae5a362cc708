"""The bare stack for comparison: Flask + psycopg, one INSERT per POST, no ORM, no routing.

Served by the same gunicorn settings as the app (see bench/api.py). One connection per worker
thread, kept open, so the figure is the cost of Flask, JSON and one round trip to PostgreSQL.
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
_local = threading.local()
DSN = os.environ.get("BARE_DSN", "postgresql://postgres@127.0.0.1/redress_bench")


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


@app.post("/bare")
def bare():
    body = request.get_json(silent=True) or {}
    description = body.get("description")
    if not isinstance(description, str) or not description.strip():
        return jsonify({"errors": {"description": ["Required."]}}), 422
    row = (
        _conn()
        .execute(
            "INSERT INTO bench_bare (description, created_at) VALUES (%s, now()) RETURNING id",
            (description,),
        )
        .fetchone()
    )
    return jsonify({"id": row[0]}), 201
