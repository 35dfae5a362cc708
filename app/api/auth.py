"""Bearer-token authentication for the staff API."""

from __future__ import annotations

from functools import wraps

from flask import jsonify, request

from app.staff.tokens import staff_for_token


def current_staff():
    """The staff member named by the request's bearer token, or None (cached per request)."""
    # Cached on the request itself: an app context (and its `g`) can outlive one request.
    key = "redress.staff"
    if key not in request.environ:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        staff = staff_for_token(token.strip()) if scheme.lower() == "bearer" else None
        request.environ[key] = staff
    return request.environ[key]


def staff_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_staff() is None:
            response = jsonify(
                {"errors": {"authorization": ["A valid staff bearer token is required."]}}
            )
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="redress"'
            return response
        return view(*args, **kwargs)

    wrapper.staff_required = True  # the OpenAPI document declares its bearer security
    return wrapper


def staff_optional(view):
    """Mark a view open to the public that staff may also call with their token."""
    view.staff_optional = True
    return view


def is_staff_request() -> bool:
    return current_staff() is not None
