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
    CodeRequestSchema,
    CodeVerifySchema,
    StandardSchema,
    TrackSchema,
    load_complaint,
)
from app.cases import presenters, queries
from app.cases import service as cases
from app.cases.models import Case
from app.common.time import utcnow
from app.customers import access, proof
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
      summary: Track a case with its reference and an email or phone that may act on it
      description: >
        The contact must be on the case (given with the complaint, or proven later with a
        one-time code) or proven for its customer; anything else is the same 404 as a
        reference that does not exist.
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
    case = proof.find_case(reference)
    if case is None or not access.may_act_typed(case, contact):
        proof.refused(case, "api", "track", contact, utcnow())
        db.session.commit()
        return _no_case()
    return jsonify(TrackSchema().dump(presenters.track(case)))


def _no_case():
    return jsonify(
        {"errors": {"reference": ["No case found for that reference and contact."]}}
    ), 404


CODE_SENT = (
    "If the reference is right and we have a contact of that kind on file for it, we sent "
    "a code there. It works once, for 10 minutes."
)
CODE_WRONG = "That code is not right, has expired or was already used. Ask for a new code."


@bp.post("/track/<reference>/code")
@limiter.limit(_public_limit)
def track_code(reference: str):
    """Ask for a one-time code to prove a new contact.
    ---
    post:
      summary: Send a one-time code to the case's contact on file, to prove a new contact
      description: >
        The code goes to the email address or phone number already on file for the case
        (`send_by`), never to the new contact. The answer is the same whether or not the
        reference, the contact or a contact on file exists, and when too many codes were
        asked for.
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
      requestBody:
        required: true
        content:
          application/json:
            schema: CodeRequestSchema
      responses:
        202:
          description: The request was taken (whether a code was sent is not said).
        422:
          description: Not valid (field messages).
          content:
            application/json:
              schema: ErrorSchema
    """
    data = CodeRequestSchema().load(_json_body())
    proof.request_code(
        reference, data["contact"], data["send_by"], data["language"], utcnow(), channel="api"
    )
    db.session.commit()
    return jsonify({"message": CODE_SENT}), 202


@bp.post("/track/<reference>/verify")
@limiter.limit(_public_limit)
def track_verify(reference: str):
    """Enter a one-time code.
    ---
    post:
      summary: Prove a new contact with the code; answers with the case as tracking does
      description: >
        A code works once, for 10 minutes, and is locked after 5 wrong tries. Every failure
        gets the same 422. Afterwards the contact tracks the case (and every case of the
        customer when the code went to one of their proven contacts); with `updates`, the
        case's updates go to it.
      parameters:
        - in: path
          name: reference
          schema: {type: string}
          required: true
      requestBody:
        required: true
        content:
          application/json:
            schema: CodeVerifySchema
      responses:
        200:
          description: The contact is proven; the case as tracking shows it.
          content:
            application/json:
              schema: TrackSchema
        422:
          description: Not valid (field messages), or a wrong code.
          content:
            application/json:
              schema: ErrorSchema
    """
    data = CodeVerifySchema().load(_json_body())
    case = proof.verify_code(
        reference, data["contact"], data["code"], utcnow(), updates=data["updates"]
    )
    db.session.commit()
    if case is None:
        return jsonify({"errors": {"code": [CODE_WRONG]}}), 422
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
