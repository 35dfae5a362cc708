"""Route an intake with the directory's routing rules and record the decision on the case."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import joinedload

from app.directory.models import Agency, Category, Queue, RoutingRule
from app.extensions import db
from app.routing.engine import Conditions, Decision, Router, RoutingInput, Rule, Target

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
    return Router(rules, defaults, Target(triage.agency.code, triage.code))


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
    """Forget the cached Router (after a directory change in this process)."""
    global _cached
    with _lock:
        _cached = None


@dataclass
class Routed:
    decision: Decision
    agency: Agency
    queue: Queue | None


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
