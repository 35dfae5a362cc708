"""The `redress` command line: directory load/export, demo, users, tokens, route explain."""

from __future__ import annotations

import re

import pytest

from app.directory.models import Agency, Category, RoutingRule
from app.extensions import db
from app.staff.models import StaffUser


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, **kwargs):
        return runner.invoke(args=list(args), catch_exceptions=False, **kwargs)

    return run


def test_directory_export_loads_back_unchanged(cli, tmp_path, fresh_directory):
    first = cli("directory", "export")
    assert first.exit_code == 0
    assert "agencies:" in first.output and "CFPB" in first.output
    path = tmp_path / "directory.yaml"
    path.write_text(first.output)
    loaded = cli("directory", "load", str(path))
    assert loaded.exit_code == 0, loaded.output
    assert "16 agencies" in loaded.output
    again = cli("directory", "load", str(path))  # idempotent
    assert again.exit_code == 0, again.output
    assert cli("directory", "export").output == first.output


def test_malformed_directory_names_file_line_and_field_and_changes_nothing(
    cli, tmp_path, fresh_directory
):
    before = cli("directory", "export").output
    text = before.replace("unit: business_days", "unit: bizdays", 1)
    bad_line = next(i for i, line in enumerate(text.splitlines(), 1) if "bizdays" in line)
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = cli("directory", "load", str(path))
    assert result.exit_code != 0
    assert f"broken.yaml:{bad_line}:" in result.output
    assert ".unit" in result.output and "bizdays" in result.output
    assert "nothing changed" in result.output
    assert cli("directory", "export").output == before


def test_directory_load_is_all_or_nothing_when_it_fails_midway(app, fresh_directory):
    """A failure after some rows changed (here a rule naming an agency the loader cannot
    find, which the parser would normally refuse) leaves the directory as it was."""
    from dataclasses import replace

    from app.directory.loader import apply_directory
    from app.directory.spec import load_demo_text, parse_directory

    spec = parse_directory(load_demo_text())
    renamed = replace(spec.agencies[0], name="Renamed in a load that fails")
    bad_rule = replace(spec.routing_rules[0], agency="NOPE")
    broken = replace(
        spec,
        agencies=(renamed, *spec.agencies[1:]),
        routing_rules=(*spec.routing_rules, bad_rule),
    )
    original = db.session.scalar(db.select(Agency.name).where(Agency.code == renamed.code))
    with pytest.raises(KeyError):
        apply_directory(broken)
    assert db.session.scalar(db.select(Agency.name).where(Agency.code == renamed.code)) == original
    assert db.session.scalar(db.select(db.func.count(RoutingRule.id))) == len(spec.routing_rules)


def test_directory_load_reports_missing_file(cli):
    result = cli("directory", "load", "/nonexistent/dir.yaml")
    assert result.exit_code != 0
    assert "Cannot read /nonexistent/dir.yaml" in result.output


def test_a_category_left_out_of_the_file_is_retired_not_deleted(cli, tmp_path, fresh_directory):
    text = cli("directory", "export").output
    start = text.index("- code: credit-report")
    end = text.index("- code:", start + 5)
    path = tmp_path / "d.yaml"
    path.write_text(text[:start] + text[end:])
    result = cli("directory", "load", str(path))
    if result.exit_code != 0:  # a rule still names the category: the loader says so
        assert "credit-report" in result.output
        return
    cat = db.session.scalar(db.select(Category).where(Category.code == "credit-report"))
    assert cat is not None and cat.active is False


def test_demo_is_idempotent_prints_the_logins_and_trains_the_routing_model(cli):
    from app.routing import service as routing
    from app.routing.models import RoutingModel

    agencies = db.session.scalar(db.select(db.func.count(Agency.id)))
    result = cli("demo")
    assert result.exit_code == 0
    assert "admin@redress.example" in result.output and "password" in result.output
    assert db.session.scalar(db.select(db.func.count(Agency.id))) == agencies
    # The routing model, from the directory's examples and the shipped narratives.
    assert re.search(r"Routing model version 1 trained in [\d.]+ s", result.output)
    model = db.session.scalar(db.select(RoutingModel).where(RoutingModel.status == "active"))
    assert model.corpora == ["demo"] and model.figures["examples"]["corpus:demo"] > 3000
    again = cli("demo")
    assert again.exit_code == 0 and "A routing model is already in use" in again.output
    assert db.session.scalar(db.select(db.func.count(RoutingModel.id))) == 1
    once = cli("demo", "--if-empty")
    assert once.exit_code == 0 and "admin@redress.example" in once.output
    routing.invalidate()


def test_users_add_and_tokens_issue(cli, client):
    result = cli(
        "users",
        "add",
        "New.Worker@Agency.gov",
        "--role",
        "caseworker",
        "--agency",
        "ftc",
        "--password",
        "correct horse battery",
    )
    assert result.exit_code == 0, result.output
    staff = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == "new.worker@agency.gov")
    )
    assert staff.agency.code == "FTC" and staff.password_hash.startswith("$argon2")
    token = cli("tokens", "issue", "new.worker@agency.gov").output.strip()
    r = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    db.session.delete(staff)
    db.session.commit()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "users",
                "add",
                "x@agency.gov",
                "--role",
                "caseworker",
                "--password",
                "long enough pw",
            ],
            "--agency",
        ),
        (
            [
                "users",
                "add",
                "x@agency.gov",
                "--role",
                "caseworker",
                "--agency",
                "NOPE",
                "--password",
                "long enough pw",
            ],
            "No agency NOPE",
        ),
        (
            ["users", "add", "not-an-email", "--role", "admin", "--password", "long enough pw"],
            "email",
        ),
        (["users", "add", "x@agency.gov", "--role", "admin", "--password", "short"], "at least 12"),
        (
            [
                "users",
                "add",
                "admin@redress.example",
                "--role",
                "admin",
                "--password",
                "long enough pw",
            ],
            "already",
        ),
        (["tokens", "issue", "nobody@agency.gov"], "No active staff member"),
    ],
)
def test_cli_refuses_bad_input_with_a_message_and_non_zero_exit(app, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


def test_route_explain_shows_the_decision_and_why(cli):
    result = cli("route", "explain", "My landlord refused to rent to me because I use a wheelchair")
    assert result.exit_code == 0
    assert "Decision: HUD-FHEO" in result.output
    assert "MATCH" in result.output
    triage = cli("route", "explain", "Hello there")
    assert "Decision: USAGOV / triage" in triage.output
    assert "triage" in triage.output.lower()
    by_category = cli("route", "explain", "wrong report", "--category", "credit-report")
    assert "Decision: CFPB" in by_category.output


def test_reloading_the_directory_keeps_the_routing_record_of_existing_cases(
    cli, client, tmp_path, fresh_directory
):
    from app.cases.models import Case

    r = client.post("/api/v1/complaints", json={"description": "Robocalls every night."})
    case = db.session.scalar(db.select(Case).where(Case.reference == r.json["reference"]))
    rule_id = case.routing_rule_id
    assert rule_id is not None
    path = tmp_path / "d.yaml"
    path.write_text(cli("directory", "export").output)
    assert cli("directory", "load", str(path)).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Case, case.id).routing_rule_id == rule_id
