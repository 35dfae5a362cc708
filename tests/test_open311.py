"""Open311 GeoReport v2: responses shaped like the captured city responses, in XML and JSON;
a posted request is an ordinary case with channel open311; the spec's errors."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from app.cases.models import Case
from app.extensions import db
from app.open311.views import register_app
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA / "open311"
DC = DATA / "ruby_open311_gem_dc"
MOCKS = DATA / "open311status_mocks"
CURRENT = DATA / "open311status_current"


def parse(data: bytes | str) -> ET.Element:
    """Our own responses and the stored examples: trusted input."""
    return ET.fromstring(data)  # noqa: S314


def _xml_shape(path: Path) -> tuple[str, str | None, set[str], set[str]]:
    """(root tag, item tag, every child tag seen, child tags every item has) of an example."""
    root = parse(path.read_bytes())
    items = list(root)
    if not items:
        return root.tag, None, set(), set()
    seen = set().union(*({c.tag for c in i} for i in items))
    always = set.intersection(*({c.tag for c in i} for i in items))
    return root.tag, items[0].tag, seen, always


def _json_shape(*paths: Path) -> tuple[set[str], set[str], dict[str, set[type]]]:
    items = [i for p in paths for i in json.loads(p.read_text())]
    seen = set().union(*(i.keys() for i in items))
    always = set.intersection(*(set(i.keys()) for i in items))
    types: dict[str, set[type]] = {}
    for item in items:
        for k, v in item.items():
            types.setdefault(k, set()).add(type(v))
    return seen, always, types


SERVICES_XML = _xml_shape(DC / "services.xml")
REQUESTS_XML = _xml_shape(DC / "service_requests.xml")
POST_XML = _xml_shape(DC / "post_service_request.xml")
TOKEN_XML = _xml_shape(DC / "request_id_from_token.xml")
ERROR_XML = _xml_shape(DC / "get_service_request_not_found.xml")
SERVICES_JSON = _json_shape(MOCKS / "bloomington_services.json", CURRENT / "service_list.json")
REQUESTS_JSON = _json_shape(MOCKS / "bloomington_requests.json", CURRENT / "service_requests.json")


def assert_xml_like(body: bytes, example) -> list[ET.Element]:
    root_tag, item_tag, seen, always = example
    root = parse(body)
    assert root.tag == root_tag
    for item in root:
        assert item.tag == item_tag
        tags = {c.tag for c in item}
        assert always <= tags, always - tags
        assert tags <= seen, tags - seen  # nothing a client would not expect
    return list(root)


def assert_json_like(items: list, example, extra_known: set[str] = frozenset()) -> None:
    seen, always, types = example
    assert isinstance(items, list)
    for item in items:
        assert always <= item.keys(), always - item.keys()
        assert item.keys() <= seen | extra_known, item.keys() - seen - extra_known
        for key, value in item.items():
            if key in types and value is not None:
                allowed = types[key] - {type(None)}
                if float in allowed:
                    allowed |= {int}
                assert type(value) in allowed, (key, value)


@pytest.fixture
def api_key(app):
    return register_app("Neighborhood app", "apps@example.org")[1]


def post(client, key, fmt="xml", **fields):
    data = {
        "api_key": key,
        "service_code": "credit-report",
        "lat": "38.8977",
        "long": "-77.0365",
        "description": "My credit report lists an account that is not mine.",
        "email": "sam@example.org",
        "first_name": "Sam",
        "last_name": "Rivera",
        "media_url": "https://photos.example.org/report.jpg",
        **fields,
    }
    return client.post(
        f"/open311/v2/requests.{fmt}", data={k: v for k, v in data.items() if v is not None}
    )


def test_services_list_categories_in_xml_and_json(client):
    xml = client.get("/open311/v2/services.xml")
    assert xml.status_code == 200 and xml.mimetype == "text/xml"
    services = assert_xml_like(xml.data, SERVICES_XML)
    codes = {s.findtext("service_code") for s in services}
    assert {"credit-report", "scam", "robocalls"} <= codes
    assert {s.findtext("metadata") for s in services} == {"false"}
    body = client.get("/open311/v2/services.json").json
    assert_json_like(body, SERVICES_JSON)
    assert {s["service_code"] for s in body} == codes


def test_service_definition_and_unknown_service_code(client):
    xml = client.get("/open311/v2/services/credit-report.xml")
    root = parse(xml.data)
    assert root.tag == "service_definition" and root.findtext("service_code") == "credit-report"
    assert client.get("/open311/v2/services/credit-report.json").json == {
        "service_code": "credit-report",
        "attributes": [],
    }
    missing = client.get("/open311/v2/services/potholes.xml")
    assert missing.status_code == 404
    assert_xml_like(missing.data, ERROR_XML)
    assert parse(missing.data).findtext("error/code") == "404"
    missing_json = client.get("/open311/v2/services/potholes.json")
    assert missing_json.status_code == 404
    assert missing_json.json == [
        {"code": 404, "description": "Service code potholes was not found."}
    ]


def test_posted_request_opens_an_ordinary_open311_case(client, api_key):
    r = post(client, api_key)
    assert r.status_code == 201, r.data
    (item,) = assert_xml_like(r.data, POST_XML)
    reference = item.findtext("service_request_id")
    case = db.session.scalar(db.select(Case).where(Case.reference == reference))
    assert case.channel == "open311" and case.category.code == "credit-report"
    assert case.agency.code == "CFPB" and (case.lat, case.lon) == (38.8977, -77.0365)
    assert case.customer.name == "Sam Rivera"
    assert case.messages[0].meta["media_url"] == "https://photos.example.org/report.jpg"
    assert {c.metric for c in case.clocks} >= {"resolve"}

    one = client.get(f"/open311/v2/requests/{reference}.xml")
    (request_item,) = assert_xml_like(one.data, REQUESTS_XML)
    assert request_item.findtext("status") == "open"
    assert request_item.findtext("agency_responsible") == "Consumer Financial Protection Bureau"
    assert request_item.findtext("media_url") == "https://photos.example.org/report.jpg"
    as_json = client.get(f"/open311/v2/requests/{reference}.json").json
    assert_json_like(
        as_json, REQUESTS_JSON, {"status_notes", "service_notice", "expected_datetime"}
    )
    assert as_json[0]["lat"] == 38.8977 and as_json[0]["long"] == -77.0365
    # Never the filer's contact details.
    assert "sam@example.org" not in one.get_data(as_text=True)
    token = client.get(f"/open311/v2/tokens/{reference}.xml")
    (token_item,) = assert_xml_like(token.data, TOKEN_XML)
    assert token_item.findtext("service_request_id") == reference


def test_post_with_an_address_in_json(client, api_key):
    r = post(
        client, api_key, fmt="json", lat=None, long=None, address_string="1600 Pennsylvania Ave NW"
    )
    assert r.status_code == 201
    assert set(r.json[0]) == {"service_request_id", "service_notice", "account_id"}
    case = db.session.scalar(db.select(Case))
    assert case.address == "1600 Pennsylvania Ave NW" and case.lat is None


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"api_key": ""}, 403, "api_key"),
        ({"api_key": "not-a-registered-key"}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code was not provided"),
        ({"service_code": "potholes"}, 404, "potholes"),
        ({"lat": None, "long": None}, 400, "location is required"),
        ({"long": None}, 400, "both lat and long"),
        ({"lat": "north"}, 400, "lat must be a number"),
        ({"lat": "123"}, 400, "lat must be between"),
        ({"description": "x" * 4001}, 400, "4,000"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"email": "not an email"}, 400, "email"),
    ],
)
def test_bad_posts_get_the_spec_error_list_and_open_nothing(client, api_key, fields, status, words):
    for fmt in ("xml", "json"):
        r = post(client, api_key, fmt=fmt, **fields)
        assert r.status_code == status, r.data
        if fmt == "xml":
            assert_xml_like(r.data, ERROR_XML)
            error = parse(r.data).find("error")
            assert error.findtext("code") == str(status) and words in error.findtext("description")
        else:
            assert r.json[0]["code"] == status and words in r.json[0]["description"]
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_get_requests_with_filters(client, api_key, staff_token):
    credit = post(client, api_key, fmt="json").json[0]["service_request_id"]
    scam = post(
        client,
        api_key,
        fmt="json",
        service_code="scam",
        description="A caller asked for gift cards.",
    ).json[0]["service_request_id"]
    # A case from the web form is not an Open311 request.
    web = client.post(
        "/api/v1/complaints", json={"description": "Web complaint", "category": "scam"}
    ).json["reference"]
    client.post(
        f"/api/v1/cases/{credit}/actions",
        json={"action": "resolve", "resolution": "Removed."},
        headers=staff_token("caseworker@cfpb.example"),
    )

    def ids(query: str, fmt: str = "json") -> set[str]:
        r = client.get(f"/open311/v2/requests.{fmt}{query}")
        assert r.status_code == 200, r.data
        if fmt == "xml":
            return {i.findtext("service_request_id") for i in assert_xml_like(r.data, REQUESTS_XML)}
        assert_json_like(
            r.json, REQUESTS_JSON, {"status_notes", "service_notice", "expected_datetime"}
        )
        return {i["service_request_id"] for i in r.json}

    assert ids("") == ids("", "xml") == {credit, scam}
    assert ids("?service_code=scam") == {scam}
    assert ids("?status=closed") == {credit} and ids("?status=open") == {scam}
    assert ids(f"?service_request_id={scam},{web}") == {scam}
    assert ids("?start_date=2010-01-01T00:00:00Z&end_date=2010-12-31T00:00:00Z") == set()
    assert ids("?start_date=2020-01-01T00:00:00-05:00") == {credit, scam}
    assert client.get(f"/open311/v2/requests/{web}.json").status_code == 404
    for query, words in (
        ("?start_date=yesterday", "start_date"),
        ("?end_date=2026-01-01", "time zone"),
        ("?status=pending", "status"),
        ("?start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "before"),
    ):
        r = client.get(f"/open311/v2/requests.xml{query}")
        assert r.status_code == 400 and words in parse(r.data).findtext("error/description")
    unknown = client.get("/open311/v2/requests/RX-0000-0000.xml")
    assert unknown.status_code == 404
    assert "not found" in parse(unknown.data).findtext("error/description")


def test_discovery_names_the_endpoint_and_formats(client):
    root = parse(client.get("/open311/v2/discovery.xml").data)
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
    body = client.get("/open311/v2/discovery.json").json
    assert body["endpoints"][0]["url"].endswith("/open311/v2")


def test_cli_registers_an_app_whose_key_works(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["open311", "register", "Street reporter", "--contact", "dev@example.org"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert post(client, key).status_code == 201
    bad = runner.invoke(args=["open311", "register", " "])
    assert bad.exit_code != 0 and "name" in bad.output


def test_unknown_resources_and_formats_get_the_spec_404(client):
    xml = client.get("/open311/v2/services.csv")
    assert xml.status_code == 404 and xml.mimetype == "text/xml"
    assert_xml_like(xml.data, ERROR_XML)
    as_json = client.get("/open311/v2/service_list.json")
    assert as_json.status_code == 404 and as_json.json[0]["code"] == 404
    # A known resource still answers: the catch-all only takes what nothing else does.
    assert client.get("/open311/v2/services.json").status_code == 200
