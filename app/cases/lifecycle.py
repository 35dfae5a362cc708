"""The case status lifecycle: which action may move a case from which status to which."""

from __future__ import annotations

from app.common.errors import Conflict

ACTIONS = (
    "assign",
    "start",
    "note",
    "reply",
    "request_info",
    "resolve",
    "close",
    "reopen",
    "transfer",
    "merge",
)

_OPEN = frozenset({"new", "assigned", "in_progress", "waiting_on_customer"})
_ANY = _OPEN | {"resolved", "closed"}

# action -> statuses it may be taken from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "assign": _OPEN,
    "start": frozenset({"new", "assigned", "waiting_on_customer"}),
    "note": _ANY,
    "reply": _OPEN | {"resolved"},
    "request_info": frozenset({"new", "assigned", "in_progress"}),
    "resolve": _OPEN,
    "close": _OPEN | {"resolved"},
    "reopen": frozenset({"resolved", "closed"}),
    "transfer": _OPEN,
    "merge": _OPEN,
}


def next_status(action: str, current: str, *, has_assignee: bool) -> str:
    """The status after `action`, or raise Conflict with a message saying why not."""
    allowed = ALLOWED_FROM[action]
    if current not in allowed:
        choices = ", ".join(sorted(allowed))
        raise Conflict(
            f"Cannot {action.replace('_', ' ')} a case that is {current.replace('_', ' ')}; "
            f"this action is allowed when the case is {choices}."
        )
    if action == "assign":
        return "assigned" if current == "new" else current
    if action == "start":
        return "in_progress"
    if action == "reply":
        return "in_progress" if current in ("new", "assigned") else current
    if action == "request_info":
        return "waiting_on_customer"
    if action == "resolve":
        return "resolved"
    if action in ("close", "merge"):
        return "closed"
    if action == "reopen":
        return "in_progress" if has_assignee else "new"
    if action == "transfer":
        return "new"
    return current  # note
