"""Apply a directory file to the database in one transaction, and export it back."""

from __future__ import annotations

from sqlalchemy import select

from app.directory import spec as s
from app.directory.models import (
    Agency,
    Calendar,
    Category,
    Closure,
    Queue,
    RoutingRule,
    ServiceStandard,
)
from app.extensions import db
from app.routing import service as routing
from app.sla import service as sla


def _translations(value: s.Translations | None) -> s.Translations:
    """A copy the database row owns (JSON columns are compared by value on flush)."""
    return {lang: dict(words) for lang, words in (value or {}).items()}


def _by_code(model, session) -> dict:
    return {row.code: row for row in session.scalars(select(model))}


def _standards(session, agency: Agency, category: Category | None, specs) -> None:
    query = select(ServiceStandard).where(ServiceStandard.agency_id == agency.id)
    query = query.where(
        ServiceStandard.category_id == category.id
        if category is not None
        else ServiceStandard.category_id.is_(None)
    )
    existing = {row.metric: row for row in session.scalars(query)}
    for spec in specs:
        row = existing.pop(spec.metric, None) or ServiceStandard(
            agency=agency, category=category, metric=spec.metric
        )
        row.target, row.unit, row.goal, row.wording = (
            spec.target,
            spec.unit,
            spec.goal,
            spec.wording,
        )
        row.translations = _translations(spec.translations)
        session.add(row)
    for row in existing.values():
        session.delete(row)


def apply_directory(directory: s.DirectorySpec) -> dict[str, int]:
    """Make the database's directory match the file: add and update by code, retire the rest.

    Categories missing from the file are deactivated (cases keep pointing at them); routing
    rules are replaced as a whole, since their order is their meaning. Commits once: on any
    error nothing is half-loaded.
    """
    session = db.session
    try:
        calendars = _by_code(Calendar, session)
        for spec in directory.calendars:
            cal = calendars.get(spec.code) or Calendar(code=spec.code)
            cal.name, cal.timezone, cal.hours = spec.name, spec.timezone, dict(spec.hours)
            cal.holiday_country = spec.holidays
            existing = {c.date: c for c in cal.closures}
            kept = []
            for c in spec.closures:
                row = existing.pop(c.date, None) or Closure(date=c.date)
                row.name = c.name
                kept.append(row)
            # Closures no longer in the file leave the collection; delete-orphan removes
            # them (a session.delete() here left them in it, and the next add failed).
            cal.closures = kept
            session.add(cal)
            calendars[spec.code] = cal
        session.flush()

        agencies = _by_code(Agency, session)
        queues: dict[tuple[str, str], Queue] = {}
        for spec in directory.agencies:
            agency = agencies.get(spec.code) or Agency(code=spec.code)
            agency.name, agency.description, agency.website = (
                spec.name,
                spec.description,
                spec.website,
            )
            agency.translations = _translations(spec.translations)
            agency.calendar = calendars[spec.calendar]
            session.add(agency)
            current = {q.code: q for q in agency.queues}
            for qspec in spec.queues:
                queue = current.get(qspec.code) or Queue(code=qspec.code)
                queue.name, queue.is_triage = qspec.name, qspec.triage
                if queue not in agency.queues:
                    agency.queues.append(queue)
                queues[(spec.code, qspec.code)] = queue
            agencies[spec.code] = agency
        # Exactly one triage queue: the file's. Any other (even of an agency left out) stops.
        for queue in session.scalars(select(Queue).where(Queue.is_triage.is_(True))):
            if queues.get((queue.agency.code, queue.code)) is not queue:
                queue.is_triage = False
        session.flush()
        for spec in directory.agencies:
            _standards(session, agencies[spec.code], None, spec.standards)

        categories = _by_code(Category, session)
        listed = set()
        for spec in directory.categories:
            cat = categories.get(spec.code) or Category(code=spec.code)
            cat.name, cat.description, cat.group = spec.name, spec.description, spec.group
            cat.keywords = list(spec.keywords)
            cat.examples = list(spec.examples)
            cat.translations = _translations(spec.translations)
            cat.agency = agencies[spec.agency]
            cat.queue = queues[(spec.agency, spec.queue)] if spec.queue else None
            cat.active = True
            session.add(cat)
            session.flush()
            # A category's overrides belong to its owning agency; drop any for another agency.
            for row in session.scalars(
                select(ServiceStandard).where(
                    ServiceStandard.category_id == cat.id,
                    ServiceStandard.agency_id != cat.agency.id,
                )
            ):
                session.delete(row)
            _standards(session, cat.agency, cat, spec.standards)
            listed.add(spec.code)
        for code, cat in categories.items():
            if code not in listed:
                cat.active = False

        # Rules are updated in place, matched by name, so the cases they routed keep
        # pointing at them; only rules gone from the file are deleted.
        existing: dict[str, list[RoutingRule]] = {}
        for row in session.scalars(select(RoutingRule).order_by(RoutingRule.position)):
            existing.setdefault(row.name, []).append(row)
        for position, spec in enumerate(directory.routing_rules, start=1):
            same_name = existing.get(spec.name)
            row = same_name.pop(0) if same_name else RoutingRule(name=spec.name)
            row.position = position
            row.conditions = spec.when.as_dict()
            row.agency = agencies[spec.agency]
            row.queue = queues[(spec.agency, spec.queue)] if spec.queue else None
            row.priority = spec.priority
            row.active = spec.active
            row.after_model = spec.after_model
            session.add(row)
        for rows in existing.values():
            for row in rows:
                session.delete(row)
        session.commit()
    except Exception:
        session.rollback()
        raise
    routing.invalidate()
    sla.forget_clock_plans()
    return {
        "calendars": len(directory.calendars),
        "agencies": len(directory.agencies),
        "categories": len(directory.categories),
        "routing_rules": len(directory.routing_rules),
    }


def _standard_specs(rows) -> tuple:
    order = {"acknowledge": 0, "first_response": 1, "resolve": 2}
    return tuple(
        s.StandardSpec(
            metric=r.metric,
            target=int(r.target) if float(r.target).is_integer() else float(r.target),
            unit=r.unit,
            goal=int(r.goal) if float(r.goal).is_integer() else float(r.goal),
            wording=r.wording,
            translations=_translations(r.translations),
        )
        for r in sorted(rows, key=lambda r: order.get(r.metric, 9))
    )


def export_directory() -> s.DirectorySpec:
    """The directory as it is now, in the file format (loads back unchanged)."""
    session = db.session
    standards = list(session.scalars(select(ServiceStandard)))
    calendars = tuple(
        s.CalendarSpec(
            code=c.code,
            name=c.name,
            timezone=c.timezone,
            hours=dict(c.hours),
            holidays=c.holiday_country,
            closures=tuple(s.ClosureSpec(date=x.date, name=x.name) for x in c.closures),
        )
        for c in session.scalars(select(Calendar).order_by(Calendar.id))
    )
    agencies = tuple(
        s.AgencySpec(
            code=a.code,
            name=a.name,
            calendar=a.calendar.code,
            description=a.description,
            website=a.website,
            queues=tuple(
                s.QueueSpec(code=q.code, name=q.name, triage=q.is_triage) for q in a.queues
            ),
            standards=_standard_specs(
                [x for x in standards if x.agency_id == a.id and x.category_id is None]
            ),
            translations=_translations(a.translations),
        )
        for a in session.scalars(select(Agency).order_by(Agency.id))
    )
    categories = tuple(
        s.CategorySpec(
            code=c.code,
            name=c.name,
            description=c.description,
            group=c.group,
            agency=c.agency.code,
            queue=c.queue.code if c.queue else None,
            keywords=tuple(c.keywords or ()),
            examples=tuple(c.examples or ()),
            standards=_standard_specs([x for x in standards if x.category_id == c.id]),
            translations=_translations(c.translations),
        )
        for c in session.scalars(
            select(Category).where(Category.active.is_(True)).order_by(Category.id)
        )
    )
    rules = tuple(
        s.RuleSpec(
            name=r.name,
            when=s.ConditionsSpec(**{k: tuple(v) for k, v in (r.conditions or {}).items()}),
            agency=r.agency.code,
            queue=r.queue.code if r.queue else None,
            priority=r.priority,
            active=r.active,
            after_model=bool(r.after_model),
        )
        for r in session.scalars(select(RoutingRule).order_by(RoutingRule.position))
    )
    return s.DirectorySpec(
        calendars=calendars, agencies=agencies, categories=categories, routing_rules=rules
    )
