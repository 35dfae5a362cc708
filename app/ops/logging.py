"""JSON log lines with request ids and no personal data."""

from __future__ import annotations

import json
import logging
import sys
import uuid

from flask import Flask, g, has_request_context, request

# Extra fields that may appear in a log line. Anything else passed in `extra=` is dropped,
# so a careless call cannot leak a customer's email or complaint text into the logs.
_SAFE_EXTRA = ("reference", "agency", "channel", "action", "status", "job", "duration_ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in _SAFE_EXTRA:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if has_request_context():
            line["request_id"] = getattr(g, "request_id", None)
            line["path"] = request.path
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response
