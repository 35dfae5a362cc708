"""Directory administration: the directory as a validated YAML document, business calendar
closures (which move running clocks' due times), routing dry runs, staff, saved replies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.common.errors import DomainError
from app.common.time import utcnow
from app.directory.loader import apply_directory, export_directory
from app.directory.models import Agency, Calendar, Category, Closure
from app.directory.spec import DirectoryError, dump_directory, parse_directory
from app.extensions import db
from app.routing.engine import RoutingInput
from app.routing.service import DirectoryNotLoaded, router
from app.sla.service import reschedule_calendar
from app.staff import sessions
from app.staff.models import ROLES, StaffUser
from app.staff.service import add_staff
from app.workspace import bp
from app.workspace.auth import staff_page
from app.workspace.models import SavedReply


@bp.route("/admin", methods=["GET", "POST"])
@staff_page("admin")
def admin_home() -> ResponseReturnValue:
    """Edit agencies, queues, categories, standards, calendars and routing rules as one
    directory document, checked by the same validator as `redress directory load`."""
    problems, status = [], 200
    if request.method == "POST":
        text = request.form.get("directory", "")
        try:
            spec = parse_directory(text, "directory")
        except DirectoryError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            try:
                counts = apply_directory(spec)
            except Exception as exc:  # noqa: BLE001 - shown to the admin; nothing was saved
                db.session.rollback()
                problems = [f"The directory could not be saved: {exc.__class__.__name__}: {exc}"]
            else:
                flash(
                    "Directory saved: {calendars} calendars, {agencies} agencies, "
                    "{categories} categories, {routing_rules} routing rules.".format(**counts),
                    "success",
                )
                return redirect(url_for("workspace.admin_home"))
        status = 422
    else:
        text = dump_directory(export_directory())
    return render_template("workspace/admin.html", text=text, problems=problems), status


# --- calendars -------------------------------------------------------------------------------


@bp.get("/admin/calendars")
@staff_page("admin")
def admin_calendars(
    errors: dict | None = None, form: dict | None = None, status: int = 200
) -> ResponseReturnValue:
    calendars = db.session.scalars(select(Calendar).order_by(Calendar.code)).all()
    return render_template(
        "workspace/admin_calendars.html",
        calendars=calendars,
        errors=errors or {},
        form=form or {},
    ), status


@bp.post("/admin/calendars/closures")
@staff_page("admin")
def add_closure() -> ResponseReturnValue:
    """Add a holiday or closure; running clocks on the calendar move past it at once."""
    form = {k: request.form.get(k, "").strip() for k in ("calendar", "date", "name")}
    errors = {}
    calendar = db.session.scalar(select(Calendar).where(Calendar.code == form["calendar"]))
    if calendar is None:
        errors["calendar"] = "Choose a calendar."
    try:
        day = date.fromisoformat(form["date"])
    except ValueError:
        errors["date"] = "Enter the date as YYYY-MM-DD, for example 2026-12-26."
        day = None
    if not form["name"]:
        errors["name"] = "Say why the offices are closed, for example 'Snow closure'."
    elif len(form["name"]) > 200:
        errors["name"] = "Keep the name to 200 characters."
    if calendar and day and any(c.date == day for c in calendar.closures):
        errors["date"] = f"{calendar.name} already has a closure on {day.isoformat()}."
    if errors:
        return admin_calendars(errors, form, 422)
    calendar.closures.append(Closure(date=day, name=form["name"]))
    db.session.flush()
    moved = reschedule_calendar(calendar, datetime.combine(day, time(0), tzinfo=UTC))
    db.session.commit()
    flash(
        f"Added {form['name']} on {day.isoformat()} to {calendar.name}; "
        f"{moved} running clock(s) now fall due later.",
        "success",
    )
    return redirect(url_for("workspace.admin_calendars"))


@bp.post("/admin/calendars/closures/<int:closure_id>/delete")
@staff_page("admin")
def delete_closure(closure_id: int) -> ResponseReturnValue:
    closure = db.session.get(Closure, closure_id)
    if closure is None:
        flash("That closure was already removed.", "error")
        return redirect(url_for("workspace.admin_calendars"))
    calendar, day = closure.calendar, closure.date
    calendar.closures.remove(closure)
    db.session.flush()
    moved = reschedule_calendar(calendar, datetime.combine(day, time(0), tzinfo=UTC))
    db.session.commit()
    flash(f"Removed the closure on {day.isoformat()}; {moved} running clock(s) moved.", "success")
    return redirect(url_for("workspace.admin_calendars"))


# --- routing dry run -------------------------------------------------------------------------


@bp.get("/admin/routing")
@staff_page("admin")
def admin_routing() -> ResponseReturnValue:
    """Which rule would match a sample complaint, and why each rule did or did not."""
    form = {k: request.args.get(k, "").strip() for k in ("text", "category", "channel", "zip")}
    decision, rules, error = None, [], None
    if form["text"]:
        try:
            engine = router()
            item = RoutingInput(
                text=form["text"][:20000],
                category=form["category"] or None,
                channel=form["channel"] or None,
                zip=form["zip"] or None,
            )
            decision = engine.route(item)
            rules = engine.explain(item)
        except DirectoryNotLoaded as exc:
            error = str(exc)
    elif request.args:
        error = "Type a sample complaint to see where it would go."
    categories = db.session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.name)
    ).all()
    return render_template(
        "workspace/admin_routing.html",
        form=form,
        decision=decision,
        rules=rules,
        error=error,
        categories=categories,
    ), (422 if error else 200)


# --- staff -----------------------------------------------------------------------------------


@bp.route("/admin/staff", methods=["GET", "POST"])
@staff_page("admin")
def admin_staff() -> ResponseReturnValue:
    form, errors, status = {}, {}, 200
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("email", "name", "role", "agency")}
        password = request.form.get("password", "")
        try:
            staff = add_staff(
                form["email"],
                role=form["role"],
                agency_code=form["agency"] or None,
                password=password or None,
                name=form["name"] or None,
            )
            if not password:
                raise DomainError("Give the new staff member a password.", field="password")
            db.session.commit()
            flash(f"Added {staff.email} as {staff.role}.", "success")
            return redirect(url_for("workspace.admin_staff"))
        except DomainError as exc:
            db.session.rollback()
            errors[exc.field or "email"] = exc.message
            status = 422
    staff = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    agencies = db.session.scalars(select(Agency).order_by(Agency.code)).all()
    return render_template(
        "workspace/admin_staff.html",
        staff=staff,
        agencies=agencies,
        roles=ROLES,
        form=form,
        errors=errors,
    ), status


@bp.post("/admin/staff/<int:staff_id>")
@staff_page("admin")
def admin_staff_update(staff_id: int) -> ResponseReturnValue:
    """Deactivate, reactivate or unlock a staff member."""
    staff = db.session.get(StaffUser, staff_id)
    change = request.form.get("change")
    if staff is None or change not in ("deactivate", "activate", "unlock"):
        flash("Nothing was changed.", "error")
        return redirect(url_for("workspace.admin_staff"))
    if change == "deactivate" and staff.id == current_user.id:
        flash("You cannot deactivate yourself.", "error")
        return redirect(url_for("workspace.admin_staff"))
    if change == "unlock":
        staff.locked_until, staff.failed_logins = None, 0
    else:
        staff.active = change == "activate"
        if not staff.active:  # signed out everywhere, at once
            sessions.end_all(staff, utcnow(), "deactivated")
    db.session.commit()
    flash(f"{staff.email}: {change}d.", "success")
    return redirect(url_for("workspace.admin_staff"))


# --- saved replies ---------------------------------------------------------------------------


@bp.route("/saved-replies", methods=["GET", "POST"])
@staff_page("supervisor", "admin")
def saved_replies() -> ResponseReturnValue:
    """Supervisors keep their agency's saved replies; admins may add ones for everyone."""
    form, errors, status = {}, {}, 200
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("title", "body")}
        if not form["title"]:
            errors["title"] = "Give the reply a short title."
        elif len(form["title"]) > 120:
            errors["title"] = "Keep the title to 120 characters."
        if not form["body"]:
            errors["body"] = "Write the reply."
        elif len(form["body"]) > 20000:
            errors["body"] = "Keep the reply to 20,000 characters."
        if not errors:
            db.session.add(
                SavedReply(
                    agency_id=current_user.agency_id,
                    title=form["title"],
                    body=form["body"],
                    created_by_id=current_user.id,
                )
            )
            db.session.commit()
            flash(f"Saved reply '{form['title']}' added.", "success")
            return redirect(url_for("workspace.saved_replies"))
        status = 422
    query = select(SavedReply).order_by(SavedReply.title)
    if not current_user.sees_all_agencies:
        query = query.where(
            (SavedReply.agency_id == current_user.agency_id) | SavedReply.agency_id.is_(None)
        )
    return render_template(
        "workspace/saved_replies.html",
        replies=db.session.scalars(query).all(),
        form=form,
        errors=errors,
    ), status


@bp.post("/saved-replies/<int:reply_id>/delete")
@staff_page("supervisor", "admin")
def delete_saved_reply(reply_id: int) -> ResponseReturnValue:
    reply = db.session.get(SavedReply, reply_id)
    mine = reply is not None and (
        current_user.sees_all_agencies or reply.agency_id == current_user.agency_id
    )
    if not mine:
        flash("No such saved reply.", "error")
    else:
        db.session.delete(reply)
        db.session.commit()
        flash(f"Saved reply '{reply.title}' deleted.", "success")
    return redirect(url_for("workspace.saved_replies"))
