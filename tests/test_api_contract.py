"""The API's published contract (issue 14, attacks 8 and 10): a valid OpenAPI 3.0.3 document
in which every staff operation declares its bearer security and its error answers, and
schemathesis, with every check, finding nothing on either database, with and without a token."""

from __future__ import annotations

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator

from tests.api_fuzz import run_schemathesis
from tests.helpers import live_server

ADMIN = "admin@redress.example"
STAFF_ONLY = {
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{reference}"),
    ("post", "/api/v1/cases/{reference}/actions"),
    ("get", "/api/v1/cases/{reference}/attachments/{attachment_id}"),
    ("get", "/api/v1/inbound"),
    ("post", "/api/v1/inbound/{inbound_id}/retry"),
    ("get", "/api/v1/customers/{customer_id}"),
    ("post", "/api/v1/customers/{customer_id}/merge"),
    ("post", "/api/v1/mailroom/scans"),
    ("get", "/api/v1/mailroom/review"),
    ("post", "/api/v1/mailroom/review/{reference}"),
    ("get", "/api/v1/mailroom/letters"),
    ("get", "/api/v1/mailroom/batches"),
    ("post", "/api/v1/mailroom/batches"),
    ("get", "/api/v1/mailroom/batches/{batch_id}/pdf"),
    ("post", "/api/v1/mailroom/batches/{batch_id}/mailed"),
    ("get", "/api/v1/surveys/summary"),
    ("get", "/api/v1/surveys/export"),
}


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path, operation


def test_the_openapi_document_is_valid_3_0_3(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"] == "3.0.3"
    errors = [
        f"{list(e.path)}: {e.message[:200]}" for e in OpenAPIV30SpecValidator(spec).iter_errors()
    ]
    assert errors == []
    for method, path, operation in _operations(spec):
        for code, response in operation["responses"].items():
            assert "description" in response or "$ref" in response, (method, path, code)
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(path.replace("}", "{").split("{")[1::2]), (method, path)
    inbound_list = spec["paths"]["/api/v1/inbound"]["get"]["responses"]["200"]
    assert inbound_list["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InboundList"
    }


def test_every_staff_operation_declares_bearer_security_and_its_errors(client):
    spec = client.get("/api/v1/openapi.json").json
    staff = set()
    for method, path, operation in _operations(spec):
        codes = set(operation["responses"])
        assert {"400", "413", "422", "429"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if operation["security"] == [{"bearer": []}]:
            staff.add((method, path))
            assert {"401", "403"} <= codes, (method, path)
        if operation.get("requestBody"):
            assert operation["requestBody"]["content"], (method, path)
    assert staff == STAFF_ONLY
    complaints = spec["paths"]["/api/v1/complaints"]["post"]
    assert complaints["security"] == [{}, {"bearer": []}]  # public, or staff with a token
    assert spec["paths"]["/api/v1/track/{reference}"]["get"]["security"] == []
    for path in ("/api/v1/mailroom/scans", "/api/v1/mailroom/review/{reference}"):
        assert spec["paths"][path]["post"]["requestBody"]["required"] is True
    batch = spec["paths"]["/api/v1/mailroom/batches/{batch_id}/mailed"]["post"]
    [batch_id] = batch["parameters"]
    assert batch_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def test_405_answers_name_the_allowed_methods(client):
    r = client.delete("/api/v1/complaints")
    assert r.status_code == 405 and r.headers["Allow"] and "POST" in r.headers["Allow"]
    assert r.is_json
    r = client.open("/api/v1/categories", method="TRACE")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_values_outside_the_published_schema_are_refused(client, staff_token):
    assert client.get("/api/v1/performance?format=XLS").status_code == 422
    assert client.get("/api/v1/performance?format=JSON").status_code == 422
    assert client.get("/api/v1/performance?format=").status_code == 422
    assert client.get("/api/v1/performance?format=csv").status_code == 200
    staff = staff_token("triage@usagov.example")
    for field in ("received_at", "zip"):
        r = client.post(
            "/api/v1/complaints", json={"description": "Loud trucks.", field: ""}, headers=staff
        )
        assert r.status_code == 422 and field in r.json["errors"], field
    scans = client.post(
        "/api/v1/mailroom/scans",
        data={"received": ""},
        headers=staff_token(ADMIN),
        content_type="multipart/form-data",
    )
    assert scans.status_code == 422 and "received" in scans.json["errors"]


@pytest.fixture
def served(app):
    from app.extensions import db

    db.session.commit()
    with live_server(app, quiet=True) as base:
        yield base


def served_spec(base: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/api/v1/openapi.json") as answer:  # noqa: S310 - loopback
        return json.load(answer)


def test_schemathesis_finds_nothing_with_and_without_a_token(app, served, staff_token):
    """Every check schemathesis has, over every operation of the published document: no
    5xx, every status and content type and response body as documented, schema-valid input
    accepted, schema-violating input refused, 401 without a token, Allow on 405."""
    from app.extensions import db

    # PostgreSQL is where NUL bytes and BIGINT overflows used to turn into 500s: more
    # examples there; SQLite checks the same contract with fewer.
    examples = 8 if "postgresql" in app.config["SQLALCHEMY_DATABASE_URI"] else 4
    token = staff_token(ADMIN)
    published = sum(
        method in ("get", "post", "put", "patch", "delete")
        for item in served_spec(served)["paths"].values()
        for method in item
    )
    db.session.commit()
    anonymous = run_schemathesis(served, max_examples=examples)
    with_token = run_schemathesis(served, headers=token, max_examples=examples)
    print(f"anonymous: {anonymous}\nadmin token: {with_token}")
    for report in (anonymous, with_token):
        assert report.failures == [] and report.errors == [], str(report)
        assert len(report.operations) == published and report.cases > 300
