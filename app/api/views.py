"""Routes of /api/v1: complaints, tracking, cases and actions, directory lookups."""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import joinedload, selectinload

from app.api import bp
from app.api import cursor as cursors
from app.api.auth import current_staff, is_staff_request, staff_optional, staff_required
from app.api.schemas import (
    ActionSchema,
    CaseListQuerySchema,
    CaseSchema,
    CaseSummarySchema,
    CategorySchema,
    StandardSchema,
    TrackSchema,
    load_complaint,
)
from app.cases import presenters, queries
from app.cases import service as cases
from app.cases.models import Case
from app.common.errors import NotFound
from app.customers.service import customer_has_contact
from app.directory.models import Category, ServiceStandard
from app.extensions import db, limiter


def _public_limit() -> str:
    return current_app.config["PUBLIC_RATE_LIMIT"]


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(
            {"_body": ["Send a JSON object with Content-Type: application/json."]}
        )
    return data


@bp.post("/complaints")
@limiter.limit(_public_limit, exempt_when=is_staff_request)
@staff_optional
def create_complaint():
    """Open a case.
    ---
    post:
      summary: Open a case from a complaint
      description: >
        Public (rate-limited) or staff. An `Idempotency-Key` header makes a retry return the
        first case instead of opening a second one.
      parameters:
        - in: header
          name: Idempotency-Key
          schema: {type: string, maxLength: 200}
      requestBody:
        required: true
        content:
          application/json:
            schema: ComplaintSchema
      responses:
        201:
          content:
            application/json:
              schema: CaseSummarySchema
        409:
          description: The Idempotency-Key was used with a different body.
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    data = _json_body()
    staff = current_staff()
    intake = load_complaint(data, staff=staff is not None)
    key = request.headers.get("Idempotency-Key", "").strip()
    idempotency = None
    if key:
        if len(key) > 200 or not key.isascii() or not key.isprintable():
            raise ValidationError({"Idempotency-Key": ["At most 200 printable ASCII characters."]})
        fingerprint = cases.request_fingerprint(data)
        # A key belongs to its client: a staff member's token, or for the public (who have
        # no identity) the key together with the complaint itself, so that nobody else's
        # key can return, or block, another person's case.
        scope = f"staff:{staff.id}" if staff else f"public:{fingerprint}"
        idempotency = (scope, key, fingerprint)
    case, created = cases.open_case(intake, actor=staff, idempotency=idempotency)
    response = jsonify(CaseSummarySchema().dump(presenters.summary(case)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", reference=case.reference)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/track/<reference>")
@limiter.limit(_public_limit)
def track(reference: str):
    """Status for the person who filed the complaint.
    ---
    get:
      summary: Track a case with its reference and the filer's email or phone
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
        - in: query
          name: contact
          schema: {type: string}
          required: true
      responses:
        200:
          content:
            application/json:
              schema: TrackSchema
        404:
          description: No such case for that contact (the answer reveals nothing more).
    """
    contact = request.args.get("contact", "")
    try:
        case = cases.get_case(reference)
    except NotFound:
        case = None
    if case is None or not contact or not customer_has_contact(case.customer, contact):
        return jsonify(
            {"errors": {"reference": ["No case found for that reference and contact."]}}
        ), 404
    return jsonify(TrackSchema().dump(presenters.track(case)))


SUMMARY_LOAD = (
    selectinload(Case.clocks),
    joinedload(Case.agency),
    joinedload(Case.category),
)


@bp.get("/cases")
@staff_required
def list_cases():
    """List cases.
    ---
    get:
      summary: List and filter cases (staff; your agency's unless you are an admin)
      parameters:
        - in: query
          schema: CaseListQuerySchema
      responses:
        200:
          content:
            application/json:
              schema: CaseListSchema
    """
    args = CaseListQuerySchema().load(request.args.to_dict())
    kind = f"cases:{args['sort']}"  # a cursor pages only the order it was issued for
    if "cursor" in args:
        args["cursor_values"] = cursors.decode(args["cursor"], kind)
    # The summary shows each case's agency, category and clocks: read them with the page.
    rows, next_values = queries.list_cases(current_staff(), args, options=SUMMARY_LOAD)
    return jsonify(
        {
            "cases": CaseSummarySchema(many=True).dump([presenters.summary(c) for c in rows]),
            "next_cursor": cursors.encode(next_values, kind) if next_values else None,
        }
    )


@bp.get("/cases/<reference>")
@staff_required
def get_case(reference: str):
    """Read a whole case.
    ---
    get:
      summary: The whole case with messages, events and clocks
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
      responses:
        200:
          content:
            application/json:
              schema: CaseSchema
        404:
          description: No such case in your agency.
    """
    case = cases.get_case_for(current_staff(), reference)
    return jsonify(CaseSchema().dump(presenters.full(case, queries.merged_into(case))))


@bp.post("/cases/<reference>/actions")
@staff_required
def case_action(reference: str):
    """Act on a case.
    ---
    post:
      summary: assign, start, note, reply, request_info, resolve, close, reopen, transfer, merge
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
      requestBody:
        required: true
        content:
          application/json:
            schema: ActionSchema
      responses:
        200:
          content:
            application/json:
              schema: CaseSchema
        409:
          description: The case's status does not allow this action.
        422:
          content:
            application/json:
              schema: ErrorSchema
    """
    data = ActionSchema().load(_json_body())
    staff = current_staff()
    case = cases.get_case_for(staff, reference)
    case = cases.act(case, data.pop("action"), staff, data)
    if not cases.can_see(staff, case):  # transferred away: show what the actor may still see
        return jsonify(CaseSummarySchema().dump(presenters.summary(case)))
    return jsonify(CaseSchema().dump(presenters.full(case, queries.merged_into(case))))


@bp.get("/categories")
def list_categories():
    """Category codes.
    ---
    get:
      summary: The categories a complaint can name, with the agency that owns each
      responses:
        200:
          content:
            application/json:
              schema:
                type: object
                properties:
                  categories:
                    type: array
                    items: CategorySchema
    """
    rows = db.session.scalars(
        db.select(Category).where(Category.active.is_(True)).order_by(Category.group, Category.name)
    )
    data = [
        {
            "code": c.code,
            "name": c.name,
            "group": c.group,
            "description": c.description,
            "agency": c.agency.code,
        }
        for c in rows
    ]
    return jsonify({"categories": CategorySchema(many=True).dump(data)})


@bp.get("/standards")
def list_standards():
    """Posted service standards.
    ---
    get:
      summary: Every agency's posted service standards, with category-specific ones
      responses:
        200:
          content:
            application/json:
              schema:
                type: object
                properties:
                  standards:
                    type: array
                    items: StandardSchema
    """
    rows = db.session.scalars(
        db.select(ServiceStandard).order_by(ServiceStandard.agency_id, ServiceStandard.id)
    )
    data = [
        {
            "agency": {"code": s.agency.code, "name": s.agency.name},
            "category": s.category.code if s.category else None,
            "metric": s.metric,
            "target": s.target,
            "unit": s.unit,
            "goal": s.goal,
            "wording": s.wording,
        }
        for s in rows
    ]
    return jsonify({"standards": StandardSchema(many=True).dump(data)})
