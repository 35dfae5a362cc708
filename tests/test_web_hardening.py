"""Web hardening (issue 14, attacks 7 and 8): security headers and a CSP the pages live with,
abuse limits, passwords, production refusals, logs without personal data or tokens,
Idempotency-Key per client, and 4xx (never 500) for input that cannot be stored."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

import config as config_module
from app import create_app
from app.cases.models import Case
from app.extensions import db
from app.inbound.models import InboundMessage
from app.ops.logging import JsonFormatter, RedactContacts
from tests.helpers import another_app
from tests.test_open311 import api_key as _open311_key  # noqa: F401 - a fixture
from tests.test_open311 import post as open311_post
from tests.test_surveys import file_and_resolve, survey_link
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    ADMIN,
    CFPB_WORKER,
    PASSWORD,
    _reset_staff,
    sign_in,
    staff,
    text_of,
)

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "admin@redress.example"
LONG_SECRET = "k" * 48


def _cases() -> int:
    return db.session.scalar(db.select(db.func.count(Case.id)))


# --- headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/complaints/new", "/track", "/standards", "/staff/login", "/api/v1/categories"]
)
def test_every_answer_carries_the_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] in ("same-origin", "no-referrer")  # never cross-origin
    assert "camera=()" in r.headers["Permissions-Policy"]
    assert "geolocation=()" in r.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in r.headers  # tests run over plain HTTP


def test_production_sends_hsts_and_refuses_a_short_secret_key(app, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", "x")
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        create_app("production", SQLALCHEMY_DATABASE_URI=url)
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="must be set"):
        create_app("production", SQLALCHEMY_DATABASE_URI=url)
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", LONG_SECRET)
    with another_app(app, "production", SQLALCHEMY_DATABASE_URI=url) as production:
        r = production.test_client().get("/healthz")
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_or_style_the_csp_would_block():
    problems = []
    for template in sorted(ROOT.glob("app/**/templates/**/*.html")):
        text = template.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert problems == []


# --- rate limits -----------------------------------------------------------------------


def limited(app, **settings):
    """A second app on the same database with rate limiting on (the suite's app has it off)."""
    return another_app(app, RATELIMIT_ENABLED=True, **settings)


def test_tracking_and_survey_pages_are_rate_limited_per_client(app, client, staff_token):
    ref = file_and_resolve(client, staff_token(CFPB_WORKER))
    link = survey_link(ref)
    with limited(app, LOOKUP_RATE_LIMIT="3 per minute") as application:
        visitor = application.test_client()
        tracks = [
            visitor.get(f"/track?reference=RX-0000-000{i}&contact=a@example.org").status_code
            for i in range(4)
        ]
        assert tracks == [404, 404, 404, 429]
        surveys = [visitor.get(f"{link}x{i}").status_code for i in range(3)]
        surveys.append(visitor.get(link).status_code)  # even the right token, once over
        assert surveys == [404, 404, 404, 429]


def test_sign_in_lockout_reads_the_same_whether_or_not_the_account_exists(client):
    def five_wrong(email: str) -> list[str]:
        answers = []
        for _ in range(6):
            r = client.post("/staff/login", data={"email": email, "password": "wrong-password"})
            assert r.status_code == 401
            words = text_of(r)
            answers.append(re.sub(r"\d\d:\d\d", "HH:MM", words))
        return answers

    real = five_wrong(CFPB_WORKER)
    made_up = five_wrong("nobody-here-7@cfpb.example")
    assert real == made_up
    assert "locked until HH:MM UTC" in real[4] and "locked until HH:MM UTC" in real[5]
    assert "not right" in real[3]
    # The right password does not get past the lockout either.
    right = client.post("/staff/login", data={"email": CFPB_WORKER, "password": PASSWORD})
    assert "locked until" in text_of(right)


def test_the_sign_in_form_is_rate_limited_per_client_address(app):
    with limited(app, STAFF_LOGIN_RATE_LIMIT="3 per minute") as application:
        browser = application.test_client()
        codes = [
            browser.post(
                "/staff/login", data={"email": f"x{i}@nowhere.example", "password": "p" * 12}
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        assert browser.get("/staff/login").status_code == 200  # reading the page is not limited


def test_behind_a_proxy_limits_count_the_forwarded_client_address(app):
    with limited(app, PROXY_HOPS=1, LOOKUP_RATE_LIMIT="2 per minute") as application:
        browser = application.test_client()
        alice = {"X-Forwarded-For": "198.51.100.7"}
        bob = {"X-Forwarded-For": "203.0.113.9"}
        assert [browser.get("/track", headers=alice).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert browser.get("/track", headers=bob).status_code == 200


# --- passwords, the demo, production ---------------------------------------------------


def test_common_breached_and_guessable_passwords_are_refused(client, app):
    sign_in(client, ADMIN)
    for weak in ("password1234", "qwertyuiop12", "iloveyou2024", "Redress-2024"):
        r = client.post(
            "/staff/admin/staff",
            data={
                "email": "new.hire@cfpb.example",
                "role": "caseworker",
                "agency": "CFPB",
                "password": weak,
            },
        )
        assert r.status_code == 422, weak
    assert staff("new.hire@cfpb.example") is None
    cli = app.test_cli_runner().invoke(
        args=["users", "add", "x@agency.gov", "--role", "admin", "--password", "password1234"]
    )
    assert cli.exit_code != 0 and "common and breached" in cli.output


def test_production_refuses_the_demo_and_its_published_password(app, monkeypatch, tmp_path):
    from flask_migrate import upgrade

    from app.common.errors import Invalid
    from app.directory.demo import load_demo
    from app.staff.models import StaffUser
    from app.staff.service import DEMO_PASSWORD, hash_password, password_problem

    assert password_problem(DEMO_PASSWORD) is None  # development and tests keep the demo login
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", LONG_SECRET)
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    with (
        another_app(
            app, "production", SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False
        ) as production,
        production.app_context(),
    ):
        upgrade()
        result = production.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code != 0 and "does not run in production" in result.output
        assert db.session.scalar(db.select(db.func.count(StaffUser.id))) == 0
        assert "published demo password" in password_problem(DEMO_PASSWORD)
        # The demo cannot be loaded around the command either...
        with pytest.raises(Invalid, match="published demo password"):
            load_demo()
        db.session.rollback()
        # ...and where it was loaded before, its published password signs nobody in.
        db.session.add(
            StaffUser(
                email=ADMIN,
                name="Admin",
                role="admin",
                password_hash=hash_password(DEMO_PASSWORD),
            )
        )
        db.session.commit()
        refused = production.test_client().post(
            "/staff/login", data={"email": ADMIN, "password": DEMO_PASSWORD}
        )
        assert refused.status_code == 401
        db.session.remove()


# --- logs --------------------------------------------------------------------------------


def test_the_smtp_door_logs_no_sender_address(app, caplog):
    import smtplib

    from app.email.smtp import SmtpDoor

    door = SmtpDoor(app, port=0)
    port = door.start()
    caplog.set_level(logging.DEBUG)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail(
                "victim.person@example.org",
                [app.config["INTAKE_EMAIL_ADDRESS"]],
                b"From: victim.person@example.org\r\nSubject: help\r\n\r\nMy landlord.\r\n",
            )
    finally:
        door.stop()
    assert db.session.scalar(db.select(db.func.count(InboundMessage.id))) == 1
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "victim.person" not in logged


def test_survey_tokens_and_contacts_never_reach_a_log_line(app):
    access = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '"%s" %s',
        ("GET /survey/Zq9-secret HTTP/1.1", 200),
        None,
    )
    RedactContacts().filter(access)
    assert "Zq9-secret" not in access.getMessage() and "/survey/[redacted]" in access.getMessage()
    with app.test_request_context("/survey/Zq9-secret"):
        record = logging.LogRecord(
            "app", logging.ERROR, __file__, 1, "Key (email)=(ann@example.org) exists", None, None
        )
        line = json.loads(JsonFormatter().format(record))
    assert "Zq9-secret" not in line["path"] and "ann@example.org" not in line["msg"]


def test_a_database_error_does_not_carry_the_values_into_the_log(app):
    from sqlalchemy.exc import IntegrityError

    from app.staff.models import StaffUser

    db.session.add(StaffUser(email=CFPB_WORKER, name="Copy", role="caseworker"))
    with pytest.raises(IntegrityError) as raised:
        db.session.flush()
    db.session.rollback()
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", None, None)
    record.exc_info = (raised.type, raised.value, raised.tb)
    assert CFPB_WORKER not in JsonFormatter().format(record)


# --- Idempotency-Key ---------------------------------------------------------------------


def test_anonymous_clients_do_not_share_an_idempotency_key_scope(client):
    key = {"Idempotency-Key": "retry-1"}
    victim = client.post(
        "/api/v1/complaints",
        json={"description": "My landlord kept my deposit.", "email": "victim@example.org"},
        headers=key,
    )
    attacker = client.post(
        "/api/v1/complaints",
        json={"description": "anything", "email": "a@example.net"},
        headers=key,
    )
    assert victim.status_code == attacker.status_code == 201
    assert attacker.json["reference"] != victim.json["reference"]
    assert "Idempotent-Replayed" not in attacker.headers
    bad = client.post(
        "/api/v1/complaints", json={"description": "x"}, headers={"Idempotency-Key": "a\tb"}
    )
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json["errors"]


# --- input that cannot be stored: 4xx, never 500 -----------------------------------------


def _raw_json(client, path, text: str, headers=None):
    return client.post(
        path,
        data=text.encode("utf-8", "surrogatepass"),
        headers=headers or {},
        content_type="application/json",
    )


def test_nul_and_lone_surrogates_in_json_are_refused_with_the_field_named(client, staff_token):
    nul = client.post("/api/v1/complaints", json={"description": "a\u0000b"})
    assert nul.status_code == 422 and "NUL" in nul.json["errors"]["description"][0]
    surrogate = _raw_json(client, "/api/v1/complaints", '{"description": "x\\ud800y"}')
    assert surrogate.status_code == 422 and "description" in surrogate.json["errors"]
    key = _raw_json(client, "/api/v1/complaints", '{"descr\\u0000iption": "x"}')
    assert key.status_code == 422
    ref = client.post("/api/v1/complaints", json={"description": "Fine text."}).json["reference"]
    headers = staff_token(ADMIN)
    action = client.post(
        f"/api/v1/cases/{ref}/actions", json={"action": "note", "body": "x\u0000"}, headers=headers
    )
    assert action.status_code == 422 and "body" in action.json["errors"]
    assert _cases() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases?agency=CF%00PB",
        "/api/v1/cases?assignee=a%00b",
        "/api/v1/inbound?cursor=%00",
        "/api/v1/surveys/summary?quarter=2026Q1%00",
        "/api/v1/surveys/export?quarter=%00",
        "/api/v1/performance?agency=CF%00PB",
    ],
)
def test_nul_in_a_query_string_is_422_on_the_api(client, staff_token, path):
    r = client.get(path, headers=staff_token(ADMIN))
    assert r.status_code == 422, r.get_data(as_text=True)


def test_nul_in_a_path_is_404(client, staff_token):
    headers = staff_token(ADMIN)
    assert client.get("/api/v1/cases/RX-%00", headers=headers).status_code == 404
    assert client.get("/api/v1/track/RX%00?contact=a@b.org").status_code == 404
    assert client.get("/staff/cases/RX-%00").status_code in (302, 404)


def test_json_nested_fifty_thousand_deep_is_refused(client):
    deep = "[" * 50000 + "]" * 50000
    r = _raw_json(client, "/api/v1/complaints", deep)
    assert r.status_code == 422
    r = _raw_json(client, "/api/v1/complaints", '{"description": ' + "[" * 40 + "]" * 40 + "}")
    assert r.status_code == 422 and "Nested more than 32" in r.json["errors"]["_body"][0]
    assert _cases() == 0


def test_ids_past_the_bigint_range_are_404_not_500(client, staff_token):
    headers = staff_token(ADMIN)
    for path in (
        "/api/v1/inbound/118030128839636353024/retry",
        "/api/v1/mailroom/batches/9223372036854775808/mailed",
        "/api/v1/inbound/0/retry",
    ):
        assert client.post(path, headers=headers).status_code == 404, path
    assert (
        client.get("/api/v1/mailroom/batches/99999999999999999999/pdf", headers=headers).status_code
        == 404
    )
    ref = client.post("/api/v1/complaints", json={"description": "x"}).json["reference"]
    big = f"/api/v1/cases/{ref}/attachments/118030128839636353024"
    assert client.get(big, headers=headers).status_code == 404


def test_cursors_the_api_did_not_issue_are_422(client, staff_token):
    from app.api import cursor as cursors

    headers = staff_token(ADMIN)
    for _ in range(3):
        client.post("/api/v1/complaints", json={"description": "Loud neighbors."})
    first = client.get("/api/v1/cases?limit=1", headers=headers).json
    received_cursor = first["next_cursor"]
    assert (
        client.get(f"/api/v1/cases?limit=1&cursor={received_cursor}", headers=headers).status_code
        == 200
    )
    with client.application.test_request_context():
        forged_due = cursors.encode(["not a date", "9" * 30], "forged-key")
    for cursor, sort in (
        ("W3RydWVd", "received"),  # base64 of [true]
        (forged_due, "due"),
        (received_cursor, "due"),  # a real cursor, for another order
        ("", "received"),
        ("." * 600, "received"),
    ):
        r = client.get(f"/api/v1/cases?sort={sort}&cursor={cursor}", headers=headers)
        assert r.status_code == 422, (cursor, r.get_data(as_text=True))
    assert client.get("/api/v1/inbound?cursor=W3RydWVd", headers=headers).status_code == 422


def test_public_html_forms_answer_nul_with_a_4xx_and_store_nothing(client):
    r = client.post(
        "/complaints/new", data={"description": "my landlord\u0000", "email": "p@example.org"}
    )
    assert r.status_code == 400
    assert client.get("/track?reference=RX%00&contact=a@example.org").status_code == 400
    assert _cases() == 0


def test_open311_form_posts_with_nul_get_a_4xx(client, _open311_key):
    r = open311_post(client, _open311_key, fmt="json", description="pothole\u0000 here")
    assert r.status_code == 400
    assert _cases() == 0


def test_a_body_past_the_size_limit_is_413(client):
    r = client.post(
        "/api/v1/complaints", data=b"x" * (3 * 1024 * 1024), content_type="application/json"
    )
    assert r.status_code == 413 and r.is_json
