"""Domain errors that handlers turn into clear HTTP and CLI answers."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the domain refuses, with a message fit to show the user."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The case is not in a state that allows this action (HTTP 409)."""

    status = 409


class Invalid(DomainError):
    """Input that passed the schema but fails a domain rule (HTTP 422)."""

    status = 422


class Forbidden(DomainError):
    status = 403
