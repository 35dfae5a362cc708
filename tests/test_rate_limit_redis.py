"""Intake never depends on Redis being up (issue 15): the rate limiter keeps its counters in
Redis, and when Redis stops it counts in the process instead (with a log line) until Redis
answers again. A private redis-server on a free port is stopped in the middle of the test."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time

import pytest
from redis import Redis

from app import create_app
from app.cases.models import Case
from app.extensions import db, limiter
from tests.workspace_support import _reset_staff  # noqa: F401 - autouse: undo lockouts

REQUIRE_BINARY = "redis-server"


class PrivateRedis:
    def __init__(self, directory) -> None:
        self.binary = shutil.which(REQUIRE_BINARY)
        if not self.binary:
            pytest.skip("redis-server is not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - the system's redis-server
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def keys(self) -> int:
        return len(Redis.from_url(self.url).keys("*"))


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def limited_by_redis(app, redis_server):
    application = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_server.url,
        PUBLIC_RATE_LIMIT="4 per minute",
    )
    yield application
    limiter.init_app(app)  # the extension is shared: give the suite's app its settings back


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
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 6
    # Every 201 is a case; the 429 opened nothing.
    redis_server.start()


def test_staff_sign_in_still_works_and_still_locks_while_redis_is_down(app, redis_server):
    from tests.workspace_support import CFPB_WORKER, PASSWORD, sign_in, text_of

    application = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_STORAGE_URI=redis_server.url,
    )
    try:
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
    finally:
        limiter.init_app(app)
