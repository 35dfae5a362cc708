"""A customer's record in the workspace: contacts (proven or only claimed), the cases staff
may see, and the merge of two records that are one person, after reading both histories."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.cases import service as cases
from app.common.errors import DomainError, NotFound
from app.common.time import utcnow
from app.customers import merge
from app.customers.models import Customer
from app.extensions import db
from app.workspace import bp
from app.workspace.auth import staff_page


def _not_found(status: int = 404) -> ResponseReturnValue:
    return render_template("workspace/customer_not_found.html"), status


def _visible(customer_id: int) -> Customer | None:
    try:
        return merge.visible_customer(current_user, customer_id)
    except NotFound:
        return None


@bp.get("/customers/<int:customer_id>")
@staff_page()
def customer_detail(customer_id: int) -> ResponseReturnValue:
    customer = _visible(customer_id)
    if customer is None:
        return _not_found()
    return render_template(
        "workspace/customer.html",
        customer=merge.history(current_user, customer),
        can_merge=current_user.role in ("supervisor", "admin"),
        error=None,
    )


@bp.route("/customers/<int:customer_id>/merge", methods=["GET", "POST"])
@staff_page("supervisor", "admin")
def customer_merge(customer_id: int) -> ResponseReturnValue:
    """GET: both histories side by side for the customer of the case named; POST: merge
    that customer into this one."""
    into = _visible(customer_id)
    if into is None:
        return _not_found()
    other = None
    error = None
    if request.method == "GET":
        reference = request.args.get("case", "").strip()[:40]
        try:
            other = cases.get_case_for(current_user, reference).customer
        except NotFound:
            error = (
                f"There is no case {reference} in your agency."
                if reference
                else ("Enter the reference of one of the other customer's cases.")
            )
        if other is not None and other.id == into.id:
            error, other = f"{reference} is already this customer's case.", None
        if other is None:
            return render_template(
                "workspace/customer.html",
                customer=merge.history(current_user, into),
                can_merge=True,
                error=error,
            ), 422
        return render_template(
            "workspace/customer_merge.html",
            into=merge.history(current_user, into),
            source=merge.history(current_user, other),
        )
    source = _visible(request.form.get("from", type=int) or 0)
    if source is None:
        return _not_found()
    try:
        merge.merge(current_user, source, into, request.form.get("reason"), utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return render_template(
            "workspace/customer_merge.html",
            into=merge.history(current_user, into),
            source=merge.history(current_user, source),
            error=exc.message,
        ), exc.status
    flash(f"Customer {source.id} was merged into this customer.", "success")
    return redirect(url_for("workspace.customer_detail", customer_id=into.id))
