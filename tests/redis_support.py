"""A private redis-server for tests that stop and start Redis: on 127.0.0.1, a free port,
no persistence. Import the `private_redis` fixture, or use PrivateRedis directly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from redis import Redis

REQUIRE_BINARY = "redis-server"


class PrivateRedis:
    def __init__(self, directory) -> None:
        self.binary = shutil.which(REQUIRE_BINARY)
        if not self.binary:
            if os.environ.get("REQUIRE_SERVICES") == "1":
                pytest.fail("redis-server is not installed (REQUIRE_SERVICES=1)")
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
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
