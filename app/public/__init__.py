"""The public site: complaint form, confirmation, tracking, posted standards."""

from flask import Blueprint

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/public",
)

from app.public import performance_views, survey_views, views  # noqa: E402,F401
