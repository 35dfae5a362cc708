"""Customer records for staff: a customer's contacts and history, and the explicit merge of
two records that are one person (app.customers.merge)."""

from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.api.auth import current_staff, staff_required
from app.api.schemas import CustomerMergeSchema, CustomerSchema
from app.common.time import utcnow
from app.customers import merge
from app.extensions import db


@bp.get("/customers/<int:customer_id>")
@staff_required
def get_customer(customer_id: int):
    """A customer's contacts and history.
    ---
    get:
      summary: A customer's contact points (proven or only claimed) and the cases you see
      security:
        - bearer: []
      parameters:
        - in: path
          name: customer_id
          schema: {type: integer}
          required: true
      responses:
        200:
          description: The customer.
          content:
            application/json:
              schema: CustomerSchema
        401:
          description: No valid staff bearer token.
        404:
          description: No such customer among your agency's cases.
    """
    staff = current_staff()
    customer = merge.visible_customer(staff, customer_id)
    return jsonify(CustomerSchema().dump(merge.history(staff, customer)))


@bp.post("/customers/<int:customer_id>/merge")
@staff_required
def merge_customer(customer_id: int):
    """Merge one customer into another.
    ---
    post:
      summary: Move this customer's contacts and cases to another customer (supervisors, admins)
      description: >
        Read both histories first (GET /customers/{id}). Every case of both records the
        merge as an event; the merge is audited (who, when, from, to, what moved). A
        supervisor merges only customers whose every case is with their agency.
      security:
        - bearer: []
      parameters:
        - in: path
          name: customer_id
          schema: {type: integer}
          required: true
      requestBody:
        required: true
        content:
          application/json:
            schema: CustomerMergeSchema
      responses:
        200:
          description: The customer merged into, with both histories.
          content:
            application/json:
              schema: CustomerSchema
        401:
          description: No valid staff bearer token.
        403:
          description: Not a supervisor or administrator, or cases with other agencies.
        404:
          description: No such customer among your agency's cases.
        409:
          description: One of the customers was already merged.
        422:
          description: Not valid (field messages), or a customer merged into themselves.
          content:
            application/json:
              schema: ErrorSchema
    """
    data = CustomerMergeSchema().load(request.get_json(silent=True) or {})
    staff = current_staff()
    source = merge.visible_customer(staff, customer_id)
    into = merge.visible_customer(staff, data["into"])
    merge.merge(staff, source, into, data["reason"], utcnow())
    db.session.commit()
    return jsonify(CustomerSchema().dump(merge.history(staff, into)))
