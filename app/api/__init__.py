"""The JSON API under /api/v1."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import customers, inbound, openapi, views  # noqa: E402,F401  (routes register on import)
from app.mailroom import api as _mailroom_api  # noqa: E402,F401
