"""Open311 GeoReport v2 under /open311/v2/: categories as services, cases as requests.

Every route answers in XML (required by the spec) or JSON, chosen by the extension.
Errors are the spec's list of {code, description} with 400, 403 or 404. A request posted
here opens an ordinary case with channel `open311` through the case service.

What GET returns is public: only requests filed through Open311, and never the filer's
name, email or phone.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from marshmallow import ValidationError

from app.api.schemas import load_complaint
from app.cases import service as cases
from app.cases.models import OPEN_STATUSES, Case
from app.cases.reference import normalize_reference
from app.common.errors import Invalid
from app.common.time import utcnow
from app.directory.models import Category
from app.extensions import db, limiter
from app.open311.models import Open311App

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_DESCRIPTION = 4000
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
FMT = "<any(json, xml):fmt>"
# Element names for list items in XML.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
_STATUS_NOTES = {
    "new": "Received; waiting to be assigned.",
    "assigned": "Assigned to a caseworker.",
    "in_progress": "Being worked on.",
    "waiting_on_customer": "Waiting for information from the person who reported it.",
    "resolved": "Resolved.",
    "closed": "Closed.",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def register_app(name: str, contact: str | None = None) -> tuple[Open311App, str]:
    """A registered Open311 app and its api_key (shown once; only its hash is kept)."""
    api_key = secrets.token_urlsafe(24)
    row = Open311App(name=name, contact=contact, key_hash=key_hash(api_key), active=True)
    db.session.add(row)
    db.session.commit()
    return row, api_key


# --- Serialization --------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _xml_value(node, _ITEM.get(name, "item"), item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(node, key, inner)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def render(fmt: str, root: str, data, status: int = 200) -> Response:
    """`data` as JSON, or as XML under `root` (a list becomes repeated item elements)."""
    if fmt == "json":
        response = jsonify(data)
        response.status_code = status
        return response
    tree = ET.Element(root)
    if isinstance(data, list):
        for item in data:
            _xml_value(tree, _ITEM.get(root, "item"), item)
    else:
        for key, value in data.items():
            _xml_value(tree, key, value)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(tree, encoding="utf-8")
    return Response(body, status=status, mimetype="text/xml")


def _error(fmt: str, status: int, description: str) -> Response:
    return render(fmt, "errors", [{"code": status, "description": description}], status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    fmt = (request.view_args or {}).get("fmt", "xml")
    return _error(fmt, exc.status, exc.description)


# --- Discovery and services -------------------------------------------------------------


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    data = {
        "changeset": "2026-11-29T00:00:00Z",
        "contact": current_app.config.get("OPEN311_CONTACT") or f"{base}/",
        "key_service": current_app.config.get("OPEN311_KEY_SERVICE")
        or "Ask the operators of this service for an api_key.",
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": base + "/open311/v2",
                "changeset": "2026-11-29T00:00:00Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", data)


def _service(c: Category) -> dict:
    return {
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description or "",
        # No category asks extra questions yet, so no service has a definition to fetch.
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(c.keywords or []),
        "group": c.group or "",
    }


def _active_categories():
    return db.session.scalars(
        db.select(Category).where(Category.active.is_(True)).order_by(Category.code)
    ).all()


@bp.get(f"/services.{FMT}")
def services(fmt: str):
    return render(fmt, "services", [_service(c) for c in _active_categories()])


def _category(code: str) -> Category:
    category = db.session.scalar(
        db.select(Category).where(Category.code == code, Category.active.is_(True))
    )
    if category is None:
        raise Open311Error(404, f"Service code {code} was not found.")
    return category


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str):
    category = _category(code)
    return render(fmt, "service_definition", {"service_code": category.code, "attributes": []})


# --- Service requests ------------------------------------------------------------------


def _w3c(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _request(case: Case) -> dict:
    first = case.messages[0] if case.messages else None
    media = ((first.meta or {}).get("media_url") if first else None) or ""
    return {
        "service_request_id": case.reference,
        "status": "open" if case.status in OPEN_STATUSES else "closed",
        "status_notes": _STATUS_NOTES.get(case.status, ""),
        "service_name": case.category.name if case.category else "",
        "service_code": case.category.code if case.category else "",
        "description": case.description,
        "agency_responsible": case.agency.name,
        "service_notice": "",
        "requested_datetime": _w3c(case.received_at),
        "updated_datetime": _w3c(case.updated_at),
        "expected_datetime": _w3c(case.next_due_at),
        "address": case.address,
        "address_id": None,
        "zipcode": case.zip,
        "lat": case.lat,
        "long": case.lon,
        "media_url": media,
    }


def _app_for(api_key: str) -> Open311App:
    row = None
    if api_key:
        row = db.session.scalar(
            db.select(Open311App).where(
                Open311App.key_hash == key_hash(api_key), Open311App.active.is_(True)
            )
        )
    if row is None:
        raise Open311Error(403, "Invalid api_key received: register your app for a key.")
    return row


def _float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.") from None
    if not low <= value <= high or value != value:
        raise Open311Error(400, f"{name} must be between {low:g} and {high:g}.")
    return value


def _media_url(raw: str) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(raw) > 2000:
        raise Open311Error(
            400, "media_url must be an http or https URL (2,000 characters at most)."
        )
    return raw


def _first_message(errors: dict) -> str:
    field, messages = next(iter(errors.items()))
    text = messages[0] if isinstance(messages, list) else str(messages)
    names = {"lon": "long", "address": "address_string", "category": "service_code"}
    return f"{names.get(field, field)}: {text}"


@bp.post(f"/requests.{FMT}")
@limiter.limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"])
def create_request(fmt: str):
    form = request.form
    app_row = _app_for(form.get("api_key", "").strip())
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided.")
    category = _category(code)
    lat, lon = form.get("lat", "").strip(), form.get("long", "").strip()
    address = form.get("address_string", "").strip()
    address_id = form.get("address_id", "").strip()
    if bool(lat) != bool(lon):
        raise Open311Error(400, "Give both lat and long, or neither.")
    if not (lat or address or address_id):
        raise Open311Error(
            400, "A location is required: lat and long, address_string or address_id."
        )
    description = form.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION:,} characters.")
    media_url = _media_url(form.get("media_url", "").strip())
    name = " ".join(
        p for p in (form.get("first_name", "").strip(), form.get("last_name", "").strip()) if p
    )
    body = {
        "description": description or f"{category.name} (reported through {app_row.name})",
        "category": category.code,
        "name": name or None,
        "email": form.get("email", "").strip() or None,
        "phone": form.get("phone", "").strip() or None,
        "address": address or (f"address_id {address_id}" if address_id else None),
        "lat": _float("lat", lat, -90, 90) if lat else None,
        "lon": _float("long", lon, -180, 180) if lon else None,
    }
    try:
        intake = load_complaint(
            {k: v for k, v in body.items() if v is not None}, staff=False, channel="open311"
        )
        meta = {"open311_app": app_row.name, **({"media_url": media_url} if media_url else {})}
        case, _ = cases.open_case(intake, message_meta=meta)
    except ValidationError as exc:
        db.session.rollback()
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        raise Open311Error(400, _first_message(messages)) from None
    except Invalid as exc:
        db.session.rollback()
        raise Open311Error(400, exc.message) from None
    notice = (
        f"Sent to {case.agency.name}. Your report's description and location are public "
        "through this API; your name and contact details are not."
    )
    data = [{"service_request_id": case.reference, "service_notice": notice, "account_id": None}]
    response = render(fmt, "service_requests", data, 201)
    response.headers["Location"] = url_for(
        "open311.get_request", request_id=case.reference, fmt=fmt, _external=False
    )
    return response


def _date(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C date and time, e.g. 2026-11-01T00:00:00Z."
        ) from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone offset, e.g. 2026-11-01T00:00:00-05:00.")
    return value


def _list(raw: str) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()]


@bp.get(f"/requests.{FMT}")
def list_requests(fmt: str):
    args = request.args
    query = db.select(Case).where(Case.channel == "open311", Case.merged_into_id.is_(None))
    ids = _list(args.get("service_request_id", ""))
    if ids:
        # Other filters are ignored when ids are given (the spec's rule).
        refs = [normalize_reference(i) for i in ids]
        query = query.where(Case.reference.in_([r for r in refs if r]))
    else:
        codes = _list(args.get("service_code", ""))
        if codes:
            query = query.join(Category, Category.id == Case.category_id).where(
                Category.code.in_(codes)
            )
        end = _date("end_date", args["end_date"]) if args.get("end_date") else None
        start = _date("start_date", args["start_date"]) if args.get("start_date") else None
        if start and end and start > end:
            raise Open311Error(400, "start_date must be before end_date.")
        if start is None and end is None:
            start = utcnow() - timedelta(days=DEFAULT_DAYS)
        if start:
            query = query.where(Case.received_at >= start)
        if end:
            query = query.where(Case.received_at <= end)
        statuses = _list(args.get("status", ""))
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, "status must be open or closed (or both, comma-separated).")
        if statuses == ["open"]:
            query = query.where(Case.status.in_(OPEN_STATUSES))
        elif statuses == ["closed"]:
            query = query.where(Case.status.not_in(OPEN_STATUSES))
    rows = db.session.scalars(query.order_by(Case.received_at.desc()).limit(MAX_RESULTS)).all()
    return render(fmt, "service_requests", [_request(c) for c in rows])


def _open311_case(request_id: str) -> Case:
    ref = normalize_reference(request_id)
    case = (
        db.session.scalar(db.select(Case).where(Case.reference == ref, Case.channel == "open311"))
        if ref
        else None
    )
    if case is None:
        raise Open311Error(404, f"Service request not found with id or token {request_id}.")
    return case


@bp.get(f"/requests/<request_id>.{FMT}")
def get_request(request_id: str, fmt: str):
    return render(fmt, "service_requests", [_request(_open311_case(request_id))])


@bp.get(f"/tokens/<token>.{FMT}")
def token(token: str, fmt: str):
    # Requests are opened at once, so a token is simply the request's own id.
    case = _open311_case(token)
    data = [{"service_request_id": case.reference, "token": case.reference}]
    return render(fmt, "service_requests", data)


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def unknown_resource(unknown: str):
    """Anything else under /open311/v2/ (an unknown resource or format): the spec's 404."""
    fmt = "json" if unknown.endswith(".json") else "xml"
    return _error(fmt, 404, "No such resource: use .xml or .json on a GeoReport v2 resource.")
