"""Route an intake with the directory's routing rules and the routing model, and record the
decision on the case."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy.orm import joinedload, selectinload

from app.directory.models import Agency, Category, Queue, RoutingRule
from app.extensions import db
from app.routing.classifier import Classifier, ModelCorrupt
from app.routing.engine import Conditions, Decision, Router, RoutingInput, Rule, Target
from app.routing.models import RoutingModel

log = logging.getLogger(__name__)

# Each process keeps its Router for a few seconds: routing runs on every intake, and a
# directory change made elsewhere (the CLI, another web process) is picked up soon after.
_ROUTER_TTL = 10.0
_lock = threading.Lock()
_cached: tuple[float, str, Router] | None = None


class DirectoryNotLoaded(RuntimeError):
    """There is no triage queue, so complaints could be dropped: refuse instead."""


def _build_router() -> Router:
    triage = db.session.scalar(db.select(Queue).where(Queue.is_triage.is_(True)))
    if triage is None:
        raise DirectoryNotLoaded(
            "The directory has no triage queue; load one with `redress directory load FILE` "
            "or `redress demo`."
        )
    rules = []
    # Each rule and category names its agency and queue: read them with the rows (one
    # statement each), not one lazy load per rule.
    rule_rows = db.session.scalars(
        db.select(RoutingRule)
        .options(joinedload(RoutingRule.agency), joinedload(RoutingRule.queue))
        .order_by(RoutingRule.position)
    )
    for row in rule_rows:
        cond = row.conditions or {}
        rules.append(
            Rule(
                id=row.id,
                name=row.name,
                position=row.position,
                conditions=Conditions(**{k: tuple(v) for k, v in cond.items() if v}),
                agency=row.agency.code,
                queue=row.queue.code if row.queue else None,
                priority=row.priority,
                active=row.active,
                after_model=bool(row.after_model),
            )
        )
    defaults = {
        c.code: Target(c.agency.code, c.queue.code if c.queue else None)
        for c in db.session.scalars(
            db.select(Category)
            .options(joinedload(Category.agency), joinedload(Category.queue))
            .where(Category.active.is_(True))
        )
    }
    agencies = {}
    for agency in db.session.scalars(db.select(Agency).options(selectinload(Agency.queues))):
        usual = next((q for q in agency.queues if not q.is_triage), None)
        agencies[agency.code] = Target(agency.code, usual.code if usual else None)
    return Router(
        rules,
        defaults,
        Target(triage.agency.code, triage.code),
        model=active_model(),
        threshold=threshold(),
        agency_targets=agencies,
    )


def threshold() -> float:
    value = current_app.config.get("ROUTING_MODEL_THRESHOLD", 0.55) if has_app_context() else 0.55
    return float(value)


# --- the routing model in use ------------------------------------------------------------------
#
# Each process keeps the active model it loaded; every router rebuild asks the database which
# version is active (one small query) and loads the numbers only when that changed. A model
# that cannot be loaded is no model: routing falls back to rules, then triage, the log says so
# once per version, and /healthz shows it.


@dataclass
class ModelState:
    status: str = "none"  # none, ok or unusable
    version: int | None = None
    reason: str | None = None
    model: Classifier | None = None


_model_lock = threading.Lock()
_model = ModelState()


def active_model() -> Classifier | None:
    global _model
    row = db.session.execute(
        db.select(RoutingModel.id, RoutingModel.version)
        .where(RoutingModel.status == "active")
        .order_by(RoutingModel.version.desc())
        .limit(1)
    ).first()
    current = _model
    if row is None:
        if current.status != "none":
            log.info("no routing model in use: rules, then triage")
        _model = ModelState()
        return None
    if current.version == row.version and current.status != "none":
        return current.model
    payload, meta = db.session.execute(
        db.select(RoutingModel.payload, RoutingModel.meta).where(RoutingModel.id == row.id)
    ).one()
    try:
        if not payload:
            raise ModelCorrupt("its numbers were not stored")
        model = Classifier.from_bytes(payload, meta, row.version)
    except Exception as exc:  # noqa: BLE001 - any failure to load is "no model"
        reason = str(exc) if isinstance(exc, ModelCorrupt) else exc.__class__.__name__
        log.error(
            "routing model unusable: routing by rules, then triage",
            extra={"model_version": row.version, "reason": reason},
        )
        state = ModelState("unusable", row.version, reason)
    else:
        log.info("routing model loaded", extra={"model_version": row.version})
        state = ModelState("ok", row.version, None, model)
    with _model_lock:
        _model = state
    return state.model


def model_state() -> ModelState:
    """The model this process routes with (for /healthz); refreshed with the router."""
    router()
    return _model


def router() -> Router:
    global _cached
    key = str(db.engine.url)
    now = time.monotonic()
    cached = _cached
    if cached is None or cached[1] != key or now - cached[0] > _ROUTER_TTL:
        built = _build_router()
        with _lock:
            _cached = (now, key, built)
        return built
    return cached[2]


def invalidate() -> None:
    """Forget the cached Router and model (after a directory change or a training run in this
    process): the next routing reads both again."""
    global _cached, _model
    with _lock:
        _cached = None
    with _model_lock:
        _model = ModelState()


@dataclass
class Routed:
    decision: Decision
    agency: Agency
    queue: Queue | None


def trace(decision: Decision) -> dict:
    """What a case's routing event keeps of the model's view: its version, how sure it was
    and the words that weighed most; and its suggestions (a person picks one in triage)."""
    prediction = decision.prediction
    if prediction is None:
        return {}
    top = prediction.top
    return {
        "model": {
            "version": prediction.version,
            "probability": round(top.probability, 4) if top else None,
            "words": list(prediction.words),
        },
        "suggestions": [
            {
                "agency": s.agency,
                "queue": s.queue,
                "category": s.category,
                "probability": round(s.probability, 4),
                "model_version": prediction.version,
            }
            for s in prediction.suggestions
        ],
    }


def resolve_decision(decision: Decision) -> Routed:
    agency = db.session.scalar(db.select(Agency).where(Agency.code == decision.agency))
    if agency is None:  # the directory changed under the cached router
        invalidate()
        raise DirectoryNotLoaded(f"Agency {decision.agency} is no longer in the directory")
    queue = None
    if decision.queue:
        queue = db.session.scalar(
            db.select(Queue).where(Queue.agency_id == agency.id, Queue.code == decision.queue)
        )
    if queue is None and agency.queues:
        queue = agency.queues[0]
    return Routed(decision, agency, queue)


def route(item: RoutingInput) -> Routed:
    return resolve_decision(router().route(item))
