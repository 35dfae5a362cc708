"""GET /healthz: is the database reachable, and the job queue if one is configured."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import db

bp = Blueprint("ops", __name__)


def _queue_status() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "inline"
    from redis.exceptions import RedisError

    from app.queueing import connection

    try:
        connection().ping()
    except (RedisError, OSError):
        return "down"
    return "ok"


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001
        db.session.rollback()
        database = "down"
    body = {
        "status": "ok" if database == "ok" else "unavailable",
        "database": database,
        "queue": _queue_status(),
    }
    return jsonify(body), 200 if database == "ok" else 503
