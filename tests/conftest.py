"""Fixtures: the app on SQLite and on the real PostgreSQL, demo directory, staff, tokens."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from tests.smtp_support import smtp_server

REQUIRE = os.environ.get("REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"

# Tables holding case work; the directory and staff survive between tests.
_WORK_TABLES = (
    "routing_models",
    "sms_conversations",
    "saved_replies",
    "survey_responses",
    "survey_invitations",
    "performance_snapshots",
    "open311_apps",
    "email_sender_windows",
    "email_mailboxes",
    "inbound_messages",
    "attachments",
    "outbox",
    "contact_codes",
    "case_contacts",
    "message_versions",
    "print_batches",
    "performance_daily",
    "idempotency_keys",
    "sla_clocks",
    "events",
    "messages",
    "cases",
    "contact_points",
    "customer_merges",
    "customers",
    "api_tokens",
    "staff_sessions",
)


def _pg_available() -> str | None:
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return None


def _reset_pg() -> None:
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory):
    """The database URL for each backend. PostgreSQL is skipped only when it is not there
    and REQUIRE_SERVICES is not set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    problem = _pg_available()
    if problem:
        if REQUIRE:
            pytest.fail(problem + " (REQUIRE_SERVICES=1)")
        pytest.skip(problem)
    return PG_URL


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    from config import _database_url

    application = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=_database_url(backend),
        ATTACHMENT_DIR=str(tmp_path_factory.mktemp("attachments")),
    )
    with application.app_context():
        if backend.startswith("postgresql"):
            db.engine.dispose()
            _reset_pg()
        from flask_migrate import upgrade

        upgrade()  # the real migrations, on both backends
        from app.directory.demo import load_demo

        load_demo()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(request):
    """Each test starts with the demo directory and staff and no case work."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        yield
        db.session.rollback()
        for table in _WORK_TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        db.session.commit()
        db.session.remove()
        from app.routing import service as routing

        routing.invalidate()  # the router and routing model this process cached


@pytest.fixture
def redis_url():
    """The real Redis for tests (database 15, emptied first)."""
    import redis

    try:
        conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        conn.ping()
    except redis.exceptions.RedisError as exc:
        if REQUIRE:
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc} (REQUIRE_SERVICES=1)")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    conn.flushdb()
    yield REDIS_URL
    conn.flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def staff_token(app):
    """Bearer tokens for demo staff, by email."""
    from app.staff.models import StaffUser
    from app.staff.tokens import issue_token

    def make(email: str) -> dict:
        staff = db.session.scalar(db.select(StaffUser).where(StaffUser.email == email))
        return {"Authorization": f"Bearer {issue_token(staff)}"}

    return make


@pytest.fixture
def fresh_directory(app):
    """For tests that change the directory: put the demo back afterwards."""
    yield
    from app.directory.demo import load_demo

    db.session.rollback()
    load_demo()


# --- a real SMTP server on loopback for mail we send -----------------------------------


@pytest.fixture
def smtp_sink():
    with smtp_server() as (url, received, _sessions):
        yield url, received


@pytest.fixture
def smtp_door(app):
    """Our inbound SMTP server (`redress smtp`) on a free loopback port; yields the port."""
    from app.email.smtp import SmtpDoor

    door = SmtpDoor(app, "127.0.0.1", 0)
    port = door.start()
    yield port
    door.stop()


@pytest.fixture
def counting_sink():
    """The sink, counting SMTP sessions as well as messages."""
    with smtp_server() as sink:
        yield sink
