"""JSON log lines with request ids and no personal data."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping

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
        line["msg"] = redact(line["msg"])
        for key in _SAFE_EXTRA:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if has_request_context():
            line["request_id"] = getattr(g, "request_id", None)
            line["path"] = redact(request.path)
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


_CONTACT_PARAM = re.compile(r"([?&]contact=)[^&\s\"]*", re.IGNORECASE)
# Capability tokens in paths: the survey link and Open311's request tokens.
_PATH_TOKEN = re.compile(r"(/survey/|/open311/v2/tokens/)[^/?\s\"]+")
# A database error's message can quote a row's values ("Key (email)=(ann@example.org)").
_KEY_DETAIL = re.compile(r"(Key \([^)]*\)=\()[^\n]*?(\) )")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Remove what must never reach a log: customers' contact details in tracking URLs and
    in error messages, and tokens that open a survey or a request."""
    text = _CONTACT_PARAM.sub(r"\1[redacted]", text)
    text = _PATH_TOKEN.sub(r"\1[redacted]", text)
    text = _KEY_DETAIL.sub(r"\1[redacted]\2", text)
    return _EMAIL.sub("[email]", text)


class RedactContacts(logging.Filter):
    """Access logs (werkzeug's, gunicorn's) print request lines: tracking URLs carry a
    customer's email or phone in `contact=`, survey links a token in the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        def clean(value):
            return redact(value) if isinstance(value, str) else value

        if isinstance(record.args, Mapping):  # gunicorn passes its access-log atoms as a dict
            record.args = {k: clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(clean(a) for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def configure(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        access = logging.getLogger(name)
        if not any(isinstance(f, RedactContacts) for f in access.filters):
            access.addFilter(RedactContacts())
    # aiosmtpd logs every SMTP command line at INFO, MAIL FROM and RCPT TO addresses
    # included: the SMTP door keeps only its warnings.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response
