"""Failed sign-ins for addresses that have no account, counted like a real account's.

A real account counts its failures in `staff_users` (and an administrator can unlock it); an
address without one is counted here, in the rate-limit store (Redis in production), so that
after the same number of failures it answers with the same lockout words. Only a hash of the
address is kept, and the counts expire by themselves. When the store cannot be reached the
counting goes on in this process, with a log line, rather than failing the sign-in.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from limits.storage import MemoryStorage, Storage, storage_from_string

log = logging.getLogger(__name__)
_EXTENSION = "redress.signin_failures"
# Failures of an address are forgotten a day after the last one (a real account keeps its
# count until a successful sign-in; nobody signs in to an address without an account).
_REMEMBER = timedelta(days=1)


class FailureCounter:
    def __init__(self, uri: str, options: dict) -> None:
        self.memory = MemoryStorage()
        try:
            self.primary: Storage = storage_from_string(uri, **options)
        except Exception:  # noqa: BLE001 - a bad or unreachable store must not stop sign-in
            log.warning("sign-in failure store unavailable; counting in this process")
            self.primary = self.memory

    def _call(self, name: str, *args):
        try:
            return getattr(self.primary, name)(*args)
        except Exception:  # noqa: BLE001 - Redis down: count here until it is back
            log.warning("sign-in failure store unreachable; counting in this process")
            return getattr(self.memory, name)(*args)

    def fail(
        self, address: str, now: datetime, max_failures: int, lockout: timedelta
    ) -> datetime | None:
        """Count a failure for `address`; the time its lockout ends, if it is locked."""
        key = "redress:signin:" + hashlib.sha256(address.encode()).hexdigest()[:40]
        if self._call("get", key + ":locked"):
            until = self._call("get_expiry", key + ":locked")
            return datetime.fromtimestamp(until, UTC) if until else now + lockout
        failures = self._call("incr", key, int(_REMEMBER.total_seconds()))
        if failures < max_failures:
            return None
        self._call("clear", key)
        self._call("incr", key + ":locked", max(1, int(lockout.total_seconds())))
        return now + lockout


def failure_counter() -> FailureCounter:
    app = current_app
    counter = app.extensions.get(_EXTENSION)
    if counter is None:
        counter = FailureCounter(
            app.config["RATELIMIT_STORAGE_URI"], app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
        )
        app.extensions[_EXTENSION] = counter
    return counter
