"""The staff workspace under /staff: sign-in, queues, the case page, supervisor, admin.

Server-rendered USWDS pages that work without JavaScript. Every view reads and acts through
the case services the API uses (list_cases, get_case_for, act), so scoping by agency is
enforced in one place.
"""

from flask import Blueprint

bp = Blueprint(
    "workspace",
    __name__,
    url_prefix="/staff",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.workspace import (  # noqa: E402,F401
    admin,
    auth,
    case_page,
    customers,
    inbound,
    queues,
    supervisor,
)
