"""Command-line doors of the email channel: `redress intake email`, `redress smtp`,
`redress imap poll`."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("email")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@with_appcontext
def intake_email(files: tuple[str, ...]) -> None:
    """Ingest raw RFC 5322 messages from FILES (`-` reads one from standard input) and
    print what became of each; exits non-zero if any could not be read or processed."""
    from app.email.intake import accept
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.jobs import run_ready

    problems = 0
    for name in files:
        try:
            if name == "-":
                raw = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as handle:
                    raw = handle.read()
        except OSError as exc:
            click.echo(f"{name}: cannot read it ({exc.strerror})", err=True)
            problems += 1
            continue
        if not raw.strip():
            click.echo(f"{name}: empty, nothing stored", err=True)
            problems += 1
            continue
        row, created = accept(raw, "file", {"file": name[-200:]})
        db.session.commit()
        run_ready()
        row = db.session.get(InboundMessage, row.id)
        db.session.refresh(row)
        what = row.outcome if created else f"{row.outcome} (already received)"
        case = f" {row.case.reference}" if row.case else ""
        reason = f": {row.reason}" if row.reason else ""
        click.echo(f"{name}: #{row.id} {what}{case}{reason}")
        if row.outcome == "failed":
            problems += 1
    if problems:
        raise click.ClickException(f"{problems} of {len(files)} message(s) failed.")


@click.command("smtp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@with_appcontext
def smtp(host: str, port: int) -> None:
    """Run the inbound SMTP server until interrupted."""
    from app.email.smtp import SmtpDoor

    door = SmtpDoor(current_app._get_current_object(), host, port)
    try:
        bound = door.start()
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"Accepting mail for {', '.join(sorted(door.handler.accepted))} on {host}:{bound}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        door.stop()


@click.group("imap")
def imap() -> None:
    """Fetch mail from the IMAP mailbox named by IMAP_URL."""


@imap.command("poll")
@with_appcontext
def imap_poll() -> None:
    """Fetch new messages once; each is stored before it is marked seen."""
    import imaplib

    from app.email.imap import poll

    url = current_app.config.get("IMAP_URL")
    if not url:
        raise click.ClickException("IMAP_URL is not set (imaps://user:pass@host/INBOX).")
    try:
        result = poll(url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except (imaplib.IMAP4.error, OSError) as exc:
        raise click.ClickException(f"IMAP failed: {exc}") from None
    click.echo(
        f"{result.mailbox}: {result.fetched} fetched, {result.stored} stored, "
        f"{result.duplicates} already received."
    )


def register(app, intake_group) -> None:
    """Add the email commands to the app's command line (`intake` is shared with mail)."""
    intake_group.add_command(intake_email)
    app.cli.add_command(smtp)
    app.cli.add_command(imap)
