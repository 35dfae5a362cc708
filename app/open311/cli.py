"""`redress open311 register NAME`: give an Open311 app its api_key."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group()
def open311() -> None:
    """Open311 GeoReport v2 apps."""


@open311.command("register")
@click.argument("name")
@click.option("--contact", help="Who to write to about this app (an email address).")
@with_appcontext
def register(name: str, contact: str | None) -> None:
    """Register an app and print its api_key (shown once; only its hash is stored)."""
    from app.open311.views import register_app

    name = name.strip()
    if not name or len(name) > 200:
        raise click.UsageError("Give the app a name of 1 to 200 characters.")
    _row, api_key = register_app(name, contact)
    click.echo(api_key)
