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


def _routing_model(database: str) -> dict:
    """Which routing model this process routes with: "ok" (with its version), "none" (rules,
    then triage) or "unusable" (it could not be loaded: rules, then triage, and the log says
    why). Never an error of its own: routing works either way."""
    if database != "ok":
        return {"routing_model": "unknown", "routing_model_version": None}
    from app.routing.service import DirectoryNotLoaded, model_state

    try:
        state = model_state()
    except DirectoryNotLoaded:
        return {"routing_model": "none", "routing_model_version": None}
    except Exception:  # noqa: BLE001 - health must answer
        db.session.rollback()
        return {"routing_model": "unknown", "routing_model_version": None}
    return {"routing_model": state.status, "routing_model_version": state.version}


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
        **_routing_model(database),
    }
    return jsonify(body), 200 if database == "ok" else 503
