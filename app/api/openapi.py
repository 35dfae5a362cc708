"""The OpenAPI document of /api/v1, generated from the view docstrings and marshmallow schemas."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import current_app, jsonify

from app.api import bp
from app.api import schemas as s

_SCHEMAS = {
    "ComplaintSchema": s.ComplaintSchema,
    "CaseSummarySchema": s.CaseSummarySchema,
    "CaseSchema": s.CaseSchema,
    "CaseListSchema": s.CaseListSchema,
    "ActionSchema": s.ActionSchema,
    "TrackSchema": s.TrackSchema,
    "CodeRequestSchema": s.CodeRequestSchema,
    "CodeVerifySchema": s.CodeVerifySchema,
    "CustomerSchema": s.CustomerSchema,
    "CustomerMergeSchema": s.CustomerMergeSchema,
    "ErrorSchema": s.ErrorSchema,
    "CategorySchema": s.CategorySchema,
    "StandardSchema": s.StandardSchema,
}


def _resolver(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def build_spec() -> dict:
    spec = APISpec(
        title="Redress API",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": "Complaints, tracking and case work for public agencies."},
        plugins=[FlaskPlugin(), MarshmallowPlugin(schema_name_resolver=_resolver)],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in _SCHEMAS.items():
        spec.components.schema(name.removesuffix("Schema"), schema=schema)
    for rule in current_app.url_map.iter_rules():
        # /api/v1 routes of other blueprints too (published performance, survey reports).
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            view = current_app.view_functions[rule.endpoint]
            spec.path(view=view, app=current_app)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec())
