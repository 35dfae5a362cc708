"""Small helpers shared by tests."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def _shared_data() -> Path:
    """The third-party test data (../shared/data beside the checkout, as the developers'
    guide lays it out), wherever this checkout is; SHARED_DATA_DIR overrides."""
    if os.environ.get("SHARED_DATA_DIR"):
        return Path(os.environ["SHARED_DATA_DIR"])
    beside = Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


SHARED_DATA = _shared_data()


def ny(*args) -> datetime:
    """A New York wall-clock time, aware."""
    return datetime(*args, tzinfo=NY)


def act(client, headers: dict, reference: str, **body) -> dict:
    """A staff action on a case through the API (assign, reply, resolve, ...); it must succeed."""
    r = client.post(f"/api/v1/cases/{reference}/actions", json=body, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()
