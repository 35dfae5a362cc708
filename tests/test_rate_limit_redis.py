"""Intake never depends on Redis being up (issue 15): the rate limiter keeps its counters in
Redis, and when Redis stops it counts in the process instead (with a log line) until Redis
answers again. A private redis-server on a free port is stopped in the middle of the test."""

from __future__ import annotations

import logging
import time

import pytest

from app.cases.models import Case
from app.extensions import db
from tests.helpers import another_app
from tests.redis_support import private_redis as redis_server  # noqa: F401 - a fixture
from tests.workspace_support import _reset_staff  # noqa: F401 - autouse: undo lockouts


@pytest.fixture
def limited_by_redis(app, redis_server):
    with another_app(
        app,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_server.url,
        PUBLIC_RATE_LIMIT="4 per minute",
    ) as application:
        yield application


def _file(client, n: int):
    return client.post("/api/v1/complaints", json={"description": f"Complaint number {n}."})


def test_public_complaints_keep_coming_in_while_redis_is_down(
    limited_by_redis, redis_server, caplog
):
    client = limited_by_redis.test_client()
    assert [_file(client, n).status_code for n in range(2)] == [201, 201]
    assert redis_server.keys() > 0  # the counters were in Redis
    redis_server.stop()
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    during = [_file(client, n).status_code for n in range(2, 7)]
    # Counted in the process now: complaints are accepted, and the limit still holds.
    assert during == [201, 201, 201, 201, 429]
    assert time.monotonic() - started < 10  # no waiting on a dead server per request
    assert any("falling back to in-memory" in r.getMessage() for r in caplog.records)
    # Every 201 is a case; the 429 opened nothing.
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 6


def test_staff_sign_in_still_works_and_still_locks_while_redis_is_down(app, redis_server):
    from tests.workspace_support import CFPB_WORKER, PASSWORD, sign_in, text_of

    with another_app(app, RATELIMIT_STORAGE_URI=redis_server.url) as application:
        browser = application.test_client()
        redis_server.stop()
        sign_in(browser, CFPB_WORKER, PASSWORD)
        answers = [
            text_of(
                browser.post(
                    "/staff/login", data={"email": "ghost-9@cfpb.example", "password": "x" * 12}
                )
            )
            for _ in range(5)
        ]
        assert "not right" in answers[3] and "locked until" in answers[4]
