"""The OpenAPI 3.0.3 document of /api/v1, generated from the view docstrings and marshmallow
schemas, then completed from the routes themselves so that it cannot drift from them:

- every path parameter is declared with its type (ids: integers from 1 to the BIGINT range);
- every staff operation (`staff_required`) carries its bearer `security` requirement and the
  401/403 answers; public operations say they need none;
- every operation lists the error answers the app gives for any request (400, 404 for a
  path that names nothing, 413, 422, 429), each a shared response with the error body;
- every response has a description (OpenAPI requires one).

`tests/test_api_contract.py` validates the result with openapi-spec-validator and runs
schemathesis against it.
"""

from __future__ import annotations

import inspect

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import current_app, jsonify
from marshmallow import Schema, class_registry

from app.api import bp
from app.api import schemas as s
from app.hardening import BIGINT_MAX

# Shared error answers: (status, component name, description).
ERRORS = (
    ("400", "BadRequest", "The request could not be read (for example a malformed body)."),
    ("401", "Unauthorized", "No valid staff bearer token (`Authorization: Bearer rdx_...`)."),
    ("403", "Forbidden", "The token's staff member may not do this (role or agency)."),
    ("404", "NotFound", "Nothing by that name or id that you may see."),
    ("409", "Conflict", "The resource's state does not allow this now."),
    ("413", "TooLarge", "The request body is larger than the server accepts."),
    ("422", "Invalid", "A value is not valid; `errors` names each field with its messages."),
    ("429", "TooManyRequests", "Too many requests from this client; wait for Retry-After."),
)
_SUCCESS = {"200": "The result.", "201": "Created.", "202": "Accepted; work is queued."}
_DESCRIPTIONS = _SUCCESS | {code: description for code, _name, description in ERRORS}
_METHODS = ("get", "put", "post", "patch", "delete")


def _resolver(schema) -> str:
    if isinstance(schema, str):
        schema = class_registry.get_class(schema)
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def _published_schemas() -> dict[str, type[Schema]]:
    """Every schema of app.api.schemas (nested and referenced ones get their own name)."""
    return {
        name.removesuffix("Schema"): obj
        for name, obj in vars(s).items()
        if inspect.isclass(obj)
        and issubclass(obj, Schema)
        and obj.__module__ == s.__name__
        and not name.endswith("QuerySchema")
    }


def _path_parameter(rule, name: str) -> dict:
    if f"<int:{name}>" in rule.rule:  # the app's id converter: 1 .. BIGINT
        schema = {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}
    else:
        schema = {"type": "string", "minLength": 1}
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _complete(operation: dict, rule, view) -> None:
    """Add what the route itself says: path parameters, security, error answers."""
    params = operation.setdefault("parameters", [])
    by_name = {(p.get("in"), p.get("name")): p for p in params}
    for name in sorted(rule.arguments):
        declared = by_name.get(("path", name))
        full = _path_parameter(rule, name)
        if declared is None:
            params.append(full)
        else:
            declared["schema"] = full["schema"]
            declared["required"] = True
    if not params:
        operation.pop("parameters")
    responses = operation.setdefault("responses", {})
    for code, response in responses.items():
        response.setdefault("description", _DESCRIPTIONS.get(str(code), "See the operation."))
    staff = getattr(view, "staff_required", False)
    if staff:
        operation["security"] = [{"bearer": []}]
    elif getattr(view, "staff_optional", False):
        operation["security"] = [{}, {"bearer": []}]
    else:
        operation["security"] = []
    wanted = {"400", "413", "422", "429"}
    if rule.arguments:
        wanted.add("404")
    if staff:
        wanted |= {"401", "403"}
    for code, component, _description in ERRORS:
        if code in wanted:
            responses.setdefault(code, {"$ref": f"#/components/responses/{component}"})


def build_spec() -> dict:
    spec = APISpec(
        title="Redress API",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": "Complaints, tracking and case work for public agencies."},
        plugins=[FlaskPlugin(), MarshmallowPlugin(schema_name_resolver=_resolver)],
    )
    spec.components.security_scheme(
        "bearer",
        {"type": "http", "scheme": "bearer", "description": "`redress tokens issue EMAIL`"},
    )
    for name, schema in _published_schemas().items():
        spec.components.schema(name, schema=schema)
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for code, component, description in ERRORS:
        response = {"description": description, "content": error_body}
        if code == "429":
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        if code == "401":
            response["headers"] = {
                "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
            }
        spec.components.response(component, response)
    rules = {}
    for rule in current_app.url_map.iter_rules():
        # /api/v1 routes of other blueprints too (published performance, survey reports).
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            view = current_app.view_functions[rule.endpoint]
            spec.path(view=view, app=current_app)
            rules[rule.endpoint] = rule
    document = spec.to_dict()
    by_path = {}
    for endpoint, rule in rules.items():
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", f"{{{argument}}}")
            path = path.replace(f"<{argument}>", f"{{{argument}}}")
        by_path[path] = (rule, current_app.view_functions[endpoint])
    for path, item in document["paths"].items():
        rule, view = by_path[path]
        for method in _METHODS:
            if method in item:
                _complete(item[method], rule, view)
    return document


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3.0.3 document (not listed in itself)."""
    return jsonify(build_spec())
