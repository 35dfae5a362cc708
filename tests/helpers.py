"""Small helpers shared by tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def another_app(app, profile: str = "test", **settings):
    """A second app (on the suite's database unless told otherwise) with other settings. The
    Flask-Limiter extension is shared by every app: it is given back to the suite's app after."""
    from app import create_app
    from app.extensions import limiter

    settings.setdefault("SQLALCHEMY_DATABASE_URI", app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        yield create_app(profile, **settings)
    finally:
        limiter.init_app(app)


@contextmanager
def live_server(app, *, quiet: bool = False) -> Iterator[str]:
    """The app served from a thread of the test process on a free loopback port; `quiet`
    drops werkzeug's access-log line per request."""
    import logging
    import threading

    from werkzeug.serving import make_server

    access = logging.getLogger("werkzeug")
    level = access.level
    if quiet:
        access.setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        access.setLevel(level)
