"""The routing model for tests: trained once per session on the demo directory's examples
(as `redress route train` would), then put back as the active model wherever a test needs it."""

from __future__ import annotations

from app.cases.queries import closed_for_learning
from app.extensions import db
from app.routing import service as routing
from app.routing.models import RoutingModel
from app.routing.training import train

_trained: dict = {}


def use_model() -> RoutingModel:
    """The model trained on the demo directory's examples (trained once per test session, as
    `redress route train` would; put back as the active model for each test that needs it)."""
    if "row" not in _trained:
        outcome = train(closed=closed_for_learning, threshold=0.5)
        row = outcome.record
        _trained["row"] = {
            "meta": row.meta,
            "figures": row.figures,
            "payload": row.payload,
            "corpora": row.corpora,
        }
        model = row
    else:
        model = RoutingModel(version=1, status="active", **_trained["row"])
        db.session.add(model)
        db.session.commit()
    routing.invalidate()
    return model
