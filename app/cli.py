"""The app's commands of the `redress` command line (see workers/cli.py for the rest)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from app.common.errors import DomainError


def register(app: Flask) -> None:
    for command in (
        demo,
        directory,
        users,
        tokens,
        route,
        sla,
        performance,
        outbox,
        inbound,
        intake,
    ):
        app.cli.add_command(command)
    from app.open311.cli import open311

    app.cli.add_command(open311)
    from app.email.cli import register as register_email

    register_email(app, intake)  # intake email, smtp, imap poll


@click.command()
@click.option("--if-empty", is_flag=True, help="Only when the directory has no agencies yet.")
@click.option("--no-model", is_flag=True, help="Do not train the demo routing model.")
@with_appcontext
def demo(if_empty: bool, no_model: bool) -> None:
    """Load the demo directory and demo staff (idempotent), and train the routing model on the
    directory's examples and the shipped training text when no model is in use yet."""
    from flask import current_app

    from app.directory.demo import DEMO_PASSWORD, DEMO_STAFF, load_demo
    from app.directory.models import Agency
    from app.extensions import db
    from app.staff.models import StaffUser

    if current_app.config.get("ENV_NAME") == "production":
        # The demo adds an administrator whose password is printed in the README.
        raise click.ClickException(
            "`redress demo` does not run in production (REDRESS_ENV=production): its staff "
            "use a published password. Load your directory with `redress directory load` "
            "and add staff with `redress users add`."
        )
    if if_empty and db.session.scalar(db.select(Agency.id).limit(1)) is not None:
        click.echo("The directory is already loaded; the demo was not reloaded.")
    else:
        counts = load_demo()
        click.echo(
            f"Demo directory: {counts['agencies']} agencies, {counts['categories']} categories, "
            f"{counts['routing_rules']} routing rules; {counts['staff_added']} staff added."
        )
        if not no_model:
            _demo_model()
    present = set(db.session.scalars(db.select(StaffUser.email)))
    shown = [row for row in DEMO_STAFF if row[0] in present]
    if shown:
        click.echo(f"Demo staff sign in with the password '{DEMO_PASSWORD}':")
        for email, role, agency in shown:
            click.echo(f"  {email:32} {role:11} {agency or 'all agencies'}")


def _demo_model() -> None:
    from flask import current_app

    from app.extensions import db
    from app.routing.models import RoutingModel

    if db.session.scalar(db.select(RoutingModel.id).where(RoutingModel.status == "active")):
        click.echo("A routing model is already in use; it was kept.")
        return
    from app.cases.queries import closed_for_learning
    from app.routing.training import TrainingRefused, train

    try:
        outcome = train(
            closed=closed_for_learning,
            threshold=current_app.config["ROUTING_MODEL_THRESHOLD"],
            min_examples=current_app.config["ROUTING_MIN_EXAMPLES"],
            corpora=["demo"],
        )
    except TrainingRefused as exc:
        click.echo(f"No routing model: {exc}", err=True)
        return
    f = outcome.figures
    click.echo(
        f"Routing model version {outcome.record.version} trained in {outcome.seconds:.1f} s: on "
        f"its held-back slice {f.right:.0%} right agency, {f.triage:.0%} triage, "
        f"{f.wrong:.0%} wrong."
    )


@click.group()
def directory() -> None:
    """Agencies, categories, standards, calendars and routing rules as YAML."""


@directory.command("load")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@with_appcontext
def directory_load(file: str) -> None:
    """Load a directory file (all or nothing)."""
    from app.directory.loader import apply_directory
    from app.directory.spec import DirectoryError, parse_directory

    try:
        with click.open_file(file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text.") from None
    try:
        spec = parse_directory(text, file)
    except DirectoryError as exc:
        click.echo(str(exc), err=True)
        raise click.ClickException(f"{file} was not loaded; nothing changed.") from None
    counts = apply_directory(spec)
    click.echo(
        f"Loaded {file}: {counts['calendars']} calendars, {counts['agencies']} agencies, "
        f"{counts['categories']} categories, {counts['routing_rules']} routing rules."
    )


@directory.command("export")
@with_appcontext
def directory_export() -> None:
    """Print the directory as YAML (it loads back unchanged)."""
    from app.directory.loader import export_directory
    from app.directory.spec import dump_directory

    click.echo(dump_directory(export_directory()), nl=False)


@click.group()
def users() -> None:
    """Staff members."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["caseworker", "supervisor", "admin"]), required=True)
@click.option("--agency", help="Agency code (required except for admins).")
@click.option("--name", help="Display name.")
@click.option("--password", help="Password (prompted for when omitted).")
@with_appcontext
def users_add(email: str, role: str, agency: str | None, name: str | None, password: str | None):
    """Create a staff member."""
    from app.extensions import db
    from app.staff.service import add_staff

    if password is None:
        if not sys.stdin.isatty():
            raise click.ClickException("Give --password, or run in a terminal to be prompted.")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = add_staff(email, role=role, agency_code=agency, password=password, name=name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Added {staff.email} ({staff.role}, {agency.upper() if agency else 'all agencies'})."
    )


@users.command("password")
@click.argument("email")
@click.option("--password", help="The new password (prompted for when omitted).")
@with_appcontext
def users_password(email: str, password: str | None) -> None:
    """Set a staff member's password; every session they have ends."""
    from app.common.time import utcnow
    from app.extensions import db
    from app.staff.models import StaffUser
    from app.staff.service import set_password

    staff = db.session.scalar(
        db.select(StaffUser).where(db.func.lower(StaffUser.email) == email.strip().lower())
    )
    if staff is None:
        raise click.ClickException(f"No staff member {email}.")
    if password is None:
        if not sys.stdin.isatty():
            raise click.ClickException("Give --password, or run in a terminal to be prompted.")
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        ended = set_password(staff, password, utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"Password changed for {staff.email}; {ended} session(s) signed out.")


@click.group()
def tokens() -> None:
    """API bearer tokens."""


@tokens.command("issue")
@click.argument("email")
@with_appcontext
def tokens_issue(email: str) -> None:
    """Print a new API bearer token for a staff member."""
    from app.extensions import db
    from app.staff.models import StaffUser
    from app.staff.tokens import issue_token

    staff = db.session.scalar(
        db.select(StaffUser).where(db.func.lower(StaffUser.email) == email.strip().lower())
    )
    if staff is None or not staff.active:
        raise click.ClickException(f"No active staff member {email}.")
    click.echo(issue_token(staff))


@click.group()
def route() -> None:
    """Routing rules and the routing model."""


@route.command("explain")
@click.argument("text")
@click.option("--category", help="Category code.")
@click.option("--channel", help="web, api, email, sms, mail, phone, open311.")
@click.option("--zip", "zip_code", help="ZIP code.")
@click.option("--language", help="Language code, e.g. es.")
@with_appcontext
def route_explain(text, category, channel, zip_code, language) -> None:
    """Dry-run routing: which rule would match this complaint, what the model thinks, and why."""
    from app.routing.engine import RoutingInput
    from app.routing.service import DirectoryNotLoaded, model_state, router

    try:
        engine = router()
    except DirectoryNotLoaded as exc:
        raise click.ClickException(str(exc)) from None
    item = RoutingInput(
        text=text, category=category, channel=channel, zip=zip_code, language=language
    )
    decision = engine.route(item)
    queue = f" / {decision.queue}" if decision.queue else ""
    click.echo(
        f"Decision: {decision.agency}{queue}, priority {decision.priority} ({decision.source})"
    )
    click.echo(f"Why: {decision.explanation}")
    click.echo("Rules in order:")
    for rule, matched, reasons in engine.explain(item):
        mark = "MATCH" if matched else "  -  "
        why = "; ".join(reasons)
        later = " [after the model]" if rule.after_model and engine.model is not None else ""
        click.echo(f"  {mark} #{rule.position} {rule.name} -> {rule.agency}{later}: {why}")
    state = model_state()
    if state.status == "none":
        click.echo("Model: none in use (train one with `redress route train`).")
        return
    if state.status != "ok":
        click.echo(
            f"Model: version {state.version} is unusable ({state.reason}); rules, then triage."
        )
        return
    prediction = engine.predict(text)
    if prediction is None or not prediction.suggestions:
        click.echo(f"Model version {state.version}: nothing to go on in this text.")
        return
    shown = ", ".join(
        f"{s.agency} {s.probability:.0%}" + (f" ({s.category})" if s.category else "")
        for s in prediction.suggestions
    )
    asked = "" if not category else " (not asked: a category was given)"
    click.echo(
        f"Model version {state.version}{asked}, routes at {engine.threshold:.0%} or more: {shown}"
    )
    if prediction.words:
        click.echo("  words that weighed most: " + ", ".join(prediction.words))


@route.command("train")
@click.option(
    "--corpus",
    "corpora",
    multiple=True,
    help="Also learn from this shipped training text (demo). Default: what the model in use "
    "learned from.",
)
@click.option("--min-examples", type=click.IntRange(2), help="Examples an agency needs.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Evaluate at this threshold.")
@click.option("--force", is_flag=True, help="Use the new model even if it scores worse.")
@with_appcontext
def route_train(corpora, min_examples, threshold, force) -> None:
    """Train the routing model from the directory's examples and closed cases, evaluate it on
    a held-back slice beside the model in use, and keep it only if it scores at least as well."""
    from flask import current_app

    from app.cases.queries import closed_for_learning
    from app.routing.figures import lines
    from app.routing.training import TrainingRefused, train

    config = current_app.config
    try:
        outcome = train(
            closed=closed_for_learning,
            threshold=threshold if threshold is not None else config["ROUTING_MODEL_THRESHOLD"],
            min_examples=min_examples or config["ROUTING_MIN_EXAMPLES"],
            corpora=list(corpora) if corpora else None,
            force=force,
        )
    except TrainingRefused as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{n:,} from {origin}" for origin, n in sorted(outcome.counts.items()))
    click.echo(f"Examples: {counts}; trained in {outcome.seconds:.1f} s.")
    for agency, n in outcome.left_out.items():
        click.echo(f"  {agency} left out: {n} examples, fewer than the minimum.")
    click.echo(f"Version {outcome.record.version} on the held-back slice:")
    for line in lines(outcome.figures, confusion=False):
        click.echo(f"  {line}")
    if outcome.current is not None:
        c = outcome.current
        click.echo(
            f"The model in use on the same slice: {c.right:.1%} right, {c.triage:.1%} triage, "
            f"{c.wrong:.1%} wrong."
        )
    click.echo(outcome.message)


@route.command("evaluate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--text", "text_column", required=True, help="The column with the complaint.")
@click.option("--label", "label_column", required=True, help="The column with the right owner.")
@click.option(
    "--label-map",
    type=click.Path(dir_okay=False, path_type=str),
    help="YAML or two-column CSV: label -> agency code.",
)
@click.option("--channel", help="Route as if it came on this channel (default: none given).")
@click.option("--skip-unknown", is_flag=True, help="Leave out rows whose label is no agency.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@with_appcontext
def route_evaluate(file, text_column, label_column, label_map, channel, skip_unknown, as_json):
    """Route every row of a labelled CSV with no category, as email, SMS and letters arrive,
    and print accuracy, triage share, misroute share, per-agency precision and recall and the
    confusion matrix."""
    from pathlib import Path

    from app.directory.models import Agency
    from app.extensions import db
    from app.routing import labelled
    from app.routing.figures import lines
    from app.routing.service import DirectoryNotLoaded, model_state, router

    try:
        engine = router()
    except DirectoryNotLoaded as exc:
        raise click.ClickException(str(exc)) from None
    agencies = set(db.session.scalars(db.select(Agency.code)))
    try:
        mapping = labelled.read_label_map(Path(label_map), agencies) if label_map else None
        rows, skipped = labelled.read_labelled(
            Path(file), text_column, label_column, agencies, mapping, skip_unknown=skip_unknown
        )
    except labelled.LabelledFileError as exc:
        raise click.ClickException(str(exc)) from None
    result = labelled.route_all(engine, rows, channel)
    if as_json:
        click.echo(labelled.as_json(result))
        return
    state = model_state()
    using = f"rules and model version {state.version}" if state.status == "ok" else "rules only"
    click.echo(f"Routed {len(rows):,} complaints from {file} with no category ({using}).")
    if skipped:
        click.echo(f"Left out {sum(skipped.values()):,} rows whose label is no agency.")
    for line in lines(result):
        click.echo(line)


def _now_option(now_text: str | None):
    """A --now option's time, or None for now; a clear error for a bad one."""
    from app.common.time import parse_iso

    try:
        return parse_iso(now_text) if now_text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


@click.group()
def sla() -> None:
    """SLA clocks."""


@sla.command("sweep")
@click.option("--now", "now_text", help="Sweep as of this time (ISO 8601 with offset).")
@with_appcontext
def sla_sweep(now_text: str | None) -> None:
    """Run one SLA sweep: warn at risk, record breaches, escalate."""
    from app.jobs import run_ready
    from app.sla.sweep import sweep

    now = _now_option(now_text)
    counts = sweep(now)
    run_ready()
    click.echo(
        f"At risk: {counts['at_risk']}, breached: {counts['breached']}, "
        f"escalated: {counts['escalated']}."
    )


@click.group()
def performance() -> None:
    """Published performance figures (/standards, GET /api/v1/performance)."""


@performance.command("publish")
@click.option("--now", "now_text", help="Compute as of this time (ISO 8601 with offset).")
@with_appcontext
def performance_publish(now_text: str | None) -> None:
    """Compute the figures and publish them now (the hourly job does this too)."""
    from app.performance import publish

    now = _now_option(now_text)
    snapshot = publish(now)
    standards = snapshot.figures["standards"]
    click.echo(f"Published the figures of {len(standards)} standards as of {snapshot.computed_at}.")


@performance.command("demo-history")
@click.option("--cases", "count", type=click.IntRange(1, 100_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=20261201, show_default=True)
@with_appcontext
def performance_demo_history(count: int, seed: int) -> None:
    """Work COUNT demo complaints through Sep-Dec 2026 (the same every time for a seed) and
    publish the figures as of 2027-01-01. Only into a database without cases."""
    from app.cases.demo_history import DEMO_END, generate
    from app.cases.models import Case
    from app.extensions import db
    from app.performance import publish

    if db.session.scalar(db.select(Case.id).limit(1)) is not None:
        raise click.ClickException("The database already has cases; the demo history needs none.")
    try:
        done = generate(count, seed=seed)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    publish(DEMO_END)
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(done.items())))
    click.echo(f"Figures published as of {DEMO_END.isoformat()}: see /standards.")


@click.group()
def outbox() -> None:
    """Notifications to customers and staff."""


@outbox.command("failed")
@with_appcontext
def outbox_failed() -> None:
    """List deliveries that failed for good, with why."""
    from app.extensions import db
    from app.notify.models import OutboxItem

    rows = db.session.scalars(
        db.select(OutboxItem).where(OutboxItem.state == "failed").order_by(OutboxItem.id)
    ).all()
    for row in rows:
        ref = row.case.reference if row.case else "-"
        click.echo(f"{row.id:>8}  {ref:12}  {row.kind:15} {row.channel:5}  {row.last_error}")
    click.echo(f"{len(rows)} failed deliver{'y' if len(rows) == 1 else 'ies'}.")


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_appcontext
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Try failed deliveries again."""
    from app.jobs import run_ready
    from app.notify.delivery import retry_failed

    missing = [i for i in ids if not retry_failed(i)]
    run_ready()
    if missing:
        raise click.ClickException(f"Not failed deliveries: {', '.join(map(str, missing))}.")
    click.echo(f"Retrying {len(ids)} deliver{'y' if len(ids) == 1 else 'ies'}.")


@click.group()
def inbound() -> None:
    """The raw inbound store: every email, SMS and scan as received, with its outcome."""


@inbound.command("failed")
@click.option("--channel", type=click.Choice(["email", "sms", "mail"]))
@with_appcontext
def inbound_failed(channel: str | None) -> None:
    """List inbound messages that could not be processed, with why."""
    from app.extensions import db
    from app.inbound.service import query

    rows = db.session.scalars(query(channel, "failed")).all()
    for row in rows:
        click.echo(f"{row.id:>8}  {row.channel:5} {row.source:8} {row.attempts}x  {row.reason}")
    click.echo(f"{len(rows)} failed inbound message{'' if len(rows) == 1 else 's'}.")


@inbound.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_appcontext
def inbound_retry(ids: tuple[int, ...]) -> None:
    """Process failed inbound messages again (after a fix) and print each outcome."""
    from app.common.errors import NotFound
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.inbound.service import retry
    from app.jobs import run_ready

    try:
        for inbound_id in ids:
            retry(inbound_id)
    except NotFound as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    run_ready()
    for inbound_id in ids:
        row = db.session.get(InboundMessage, inbound_id)
        db.session.refresh(row)
        click.echo(f"{row.id:>8}  {row.outcome}  {row.reason or ''}".rstrip())


@inbound.command("pending")
@click.option(
    "--requeue", is_flag=True, help="Queue again the ones pending for more than a minute now."
)
@with_appcontext
def inbound_pending(requeue: bool) -> None:
    """How many inbound messages wait to be processed, and how long the oldest has waited.
    The reconciler (`redress cron`, every minute) requeues the stale ones by itself."""
    from app.inbound.service import pending, reconcile
    from app.jobs import run_ready

    if requeue:
        count = reconcile()
        run_ready()
        click.echo(f"Queued {count} stale inbound message{'' if count == 1 else 's'} again.")
    state = pending()
    channels = ", ".join(f"{n} {c}" for c, n in state["by_channel"].items() if n)
    click.echo(
        f"{state['total']} pending inbound message{'' if state['total'] == 1 else 's'}"
        + (f" ({channels})" if channels else "")
        + (f"; the oldest has waited {_waited(state['oldest_seconds'])}" if state["total"] else "")
        + (f"; {state['stale']} waited more than a minute" if state["stale"] else "")
        + "."
    )


def _waited(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


@click.group()
def intake() -> None:
    """Feed raw input in from files: mailroom scans (and raw email messages)."""


@intake.command("scans")
@click.argument("folder", type=click.Path(file_okay=False, path_type=str))
@with_appcontext
def intake_scans(folder: str) -> None:
    """Turn a mailroom drop folder into cases: each file moves to done/ or failed/ (with a
    .reason.txt beside it); a JSON manifest gives received dates and return addresses."""
    from pathlib import Path

    from app.mailroom.drop import process_folder

    if not Path(folder).is_dir():
        raise click.ClickException(f"{folder} is not a folder.")
    report = process_folder(Path(folder))
    for line in report.lines:
        click.echo(line)
    click.echo(
        f"{report.opened} case(s) opened, {report.review} to review, "
        f"{report.duplicates} duplicate(s), {report.failed} failed."
    )
    if report.failed:
        raise SystemExit(1)
