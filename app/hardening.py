"""What every request and response goes through: security headers, and input that can be
stored (no NUL bytes, no unpaired surrogates, bounded JSON nesting, ids that fit a BIGINT).

One layer here instead of a check per field: PostgreSQL refuses NUL in text and Python cannot
encode a lone surrogate, so either would otherwise surface as a 500 wherever a string reaches
the database. The API answers 422 (404 for a path), pages answer 400.
"""

from __future__ import annotations

import re

from flask import Flask, abort, current_app, request
from flask import Request as FlaskRequest
from marshmallow import ValidationError
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

# NUL, and UTF-16 surrogates that are not part of a pair (a str holding one cannot be encoded).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = (
    "Contains a character that cannot be stored (a NUL byte or an unpaired surrogate)."
)
MAX_JSON_DEPTH = 32
BIGINT_MAX = 2**63 - 1

# Every page and answer: scripts and styles only from our own files (no inline script, no
# inline style), never framed, no plugins, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), magnetometer=(), gyroscope=(), accelerometer=(), interest-cohort=()"
)


def unstorable(text: str) -> bool:
    return bool(_UNSTORABLE.search(text))


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))  # Open311 answers 400s its way


def _refuse(field: str):
    """422 with the field's name on the API, a 400 page elsewhere."""
    if _is_api():
        raise ValidationError({field: [UNSTORABLE_MESSAGE]})
    raise BadRequest(
        "The form or address contains a character that cannot be accepted (a NUL byte or an "
        "unpaired surrogate). Remove it and send it again."
    )


def _json_problem(value) -> tuple[str, str] | None:
    """(field path, message) for the first string (key or value) that cannot be stored, or
    for nesting deeper than MAX_JSON_DEPTH; walked without recursion."""
    stack = [(value, "_body", 1)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return "_body", f"Nested more than {MAX_JSON_DEPTH} levels deep."
        if isinstance(item, str):
            if unstorable(item):
                return where, UNSTORABLE_MESSAGE
        elif isinstance(item, dict):
            for key, child in item.items():
                if unstorable(key):
                    return where, UNSTORABLE_MESSAGE
                stack.append((child, key if where == "_body" else f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def _bad_key(values: MultiDict) -> str | None:
    for key, value in values.items(multi=True):
        if unstorable(key) or (isinstance(value, str) and unstorable(value)):
            return key
    return None


class Request(FlaskRequest):
    """Flask's request, refusing JSON and form input that cannot be stored."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            data = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:  # thousands of nested brackets: the parser gives up
            if silent:
                return None
            return self.on_json_loading_failed(ValueError("nested too deeply"))
        problem = _json_problem(data)
        if problem:
            raise ValidationError({problem[0]: [problem[1]]})
        return data

    def _load_form_data(self) -> None:
        super()._load_form_data()
        bad = _bad_key(self.__dict__["form"])
        if bad is None:
            bad = next(
                (
                    name
                    for name, f in self.__dict__["files"].items(multi=True)
                    if f.filename and unstorable(f.filename)
                ),
                None,
            )
        if bad is not None:
            # What is read after the refusal (an error page showing the form) is clean.
            self.__dict__["form"] = ImmutableMultiDict(
                [(_clean(k), _clean(v)) for k, v in self.__dict__["form"].items(multi=True)]
            )
            _refuse(bad)


def _clean(text: str) -> str:
    return _UNSTORABLE.sub("", text)


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a positive number that fits a BIGINT, else no match (404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", BIGINT_MAX)
        super().__init__(map, *args, **kwargs)


def _check_address() -> None:
    """Path values and query strings are checked before any view reads them."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and unstorable(value):
            abort(404)
    bad = _bad_key(request.args)
    if bad is not None:
        _refuse(bad)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    hsts = current_app.config.get("HSTS_SECONDS") or 0
    if hsts:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    """Before any blueprint registers its routes (the id converter applies to them)."""
    app.request_class = Request
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_address)
    app.after_request(_security_headers)
