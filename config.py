"""Configuration from the environment only: development, test and production profiles."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _database_url(url: str | None) -> str:
    """Normalize DATABASE_URL so that plain postgresql:// uses psycopg 3."""
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'redress.db'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Settings shared by every profile; each value may be overridden by the environment."""

    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(_env("DATABASE_URL"))
    # hide_parameters: a database error's message (and so a log line) never carries the
    # values of the statement, which may be a customer's email or complaint text.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL = _env("REDIS_URL")
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
    TWILIO_FROM_NUMBER = _env("TWILIO_FROM_NUMBER")
    # SMS: more numbers complaints may be texted to (comma-separated), Twilio's API base
    # (a regional edge), texts per number per window before we ask them to slow down, and
    # the largest MMS photo we fetch.
    SMS_NUMBERS = _env("SMS_NUMBERS")
    TWILIO_API_BASE = _env("TWILIO_API_BASE")
    SMS_RATE_LIMIT = int(_env("SMS_RATE_LIMIT", "10"))
    SMS_RATE_WINDOW = int(_env("SMS_RATE_WINDOW", "600"))
    SMS_MEDIA_MAX_BYTES = int(_env("SMS_MEDIA_MAX_BYTES", str(5 * 1024 * 1024)))
    SMTP_URL = _env("SMTP_URL")
    INTAKE_EMAIL_ADDRESS = _env("INTAKE_EMAIL_ADDRESS", "complaints@redress.localhost")
    INBOUND_EMAIL_TOKEN = _env("INBOUND_EMAIL_TOKEN")
    IMAP_URL = _env("IMAP_URL")
    # Email channel: more addresses we take mail for (comma-separated), size limits, and how
    # many messages one sender may send per hour before the rest are kept but not acted on.
    INTAKE_EMAIL_ALIASES = _env("INTAKE_EMAIL_ALIASES", "")
    EMAIL_MAX_MESSAGE_BYTES = int(_env("EMAIL_MAX_MESSAGE_BYTES", str(25 * 1024 * 1024)))
    EMAIL_MAX_ATTACHMENT_BYTES = int(_env("EMAIL_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024)))
    EMAIL_SENDER_LIMIT = int(_env("EMAIL_SENDER_LIMIT", "20"))
    # Channel authentication: the authserv-id(s) of our own relay, whose Authentication-Results
    # header (DMARC) we believe; the HMAC key of bounce tokens (default: from SECRET_KEY).
    EMAIL_AUTHSERV_IDS = _env("EMAIL_AUTHSERV_IDS", "")
    EMAIL_BOUNCE_SECRET = _env("EMAIL_BOUNCE_SECRET")
    # Spam: SpamAssassin's spamd (spamd://host:port); unset, mail is processed unscored.
    SPAMD_URL = _env("SPAMD_URL")
    SPAM_THRESHOLD = float(_env("SPAM_THRESHOLD", "5.0"))
    SPAMD_TIMEOUT = float(_env("SPAMD_TIMEOUT", "20"))
    SPAMD_MAX_BYTES = int(_env("SPAMD_MAX_BYTES", str(500 * 1024)))
    SCAN_DROP_DIR = _env("SCAN_DROP_DIR")
    # Each scan is read in a child process, so one bad file fails alone: the most pixels a
    # page may hold (checked before decoding), the child's memory (MB, per process of the
    # reader) and its time for the whole file (docs/paper-mail.md).
    SCAN_MAX_PIXELS = int(_env("SCAN_MAX_PIXELS", "50000000"))
    SCAN_MEMORY_MB = int(_env("SCAN_MEMORY_MB", "1024"))
    SCAN_TIMEOUT_SECONDS = float(_env("SCAN_TIMEOUT_SECONDS", "300"))
    ATTACHMENT_DIR = _env("ATTACHMENT_DIR", str(INSTANCE_DIR / "attachments"))
    # Paper mail: the return address printed on letters (shows in the envelope's upper
    # window), where rendered letters wait to be printed, and the mailroom's time zone (a
    # manifest's received date starts that day there).
    MAIL_RETURN_ADDRESS = _env(
        "MAIL_RETURN_ADDRESS", "Complaints Mailroom\nPO Box 0000\nWashington, DC 20000"
    )
    LETTER_SPOOL_DIR = _env("LETTER_SPOOL_DIR")
    MAILROOM_TIME_ZONE = _env("MAILROOM_TIME_ZONE", "America/New_York")
    # Largest request body accepted anywhere; a bigger one is answered 413 before parsing.
    MAX_CONTENT_LENGTH = int(_env("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024)))
    # Public complaint API: per client address.
    PUBLIC_RATE_LIMIT = _env("PUBLIC_RATE_LIMIT", "30 per minute;500 per day")
    # How long a post-resolution survey link stays open (days).
    SURVEY_TTL_DAYS = int(_env("SURVEY_TTL_DAYS", "30"))
    # Tracking pages and survey links: per client address (GET and POST alike).
    LOOKUP_RATE_LIMIT = _env("LOOKUP_RATE_LIMIT", "60 per minute;1000 per day")
    # The staff sign-in form: per client address; each account also locks after
    # STAFF_LOGIN_MAX_FAILURES failed attempts in a row for STAFF_LOGIN_LOCKOUT_MINUTES.
    STAFF_LOGIN_RATE_LIMIT = _env("STAFF_LOGIN_RATE_LIMIT", "30 per minute")
    STAFF_LOGIN_MAX_FAILURES = int(_env("STAFF_LOGIN_MAX_FAILURES", "5"))
    STAFF_LOGIN_LOCKOUT_MINUTES = float(_env("STAFF_LOGIN_LOCKOUT_MINUTES", "15"))
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", _env("REDIS_URL", "memory://"))
    RATELIMIT_HEADERS_ENABLED = True
    # Intake never waits on Redis: when the limiter's store cannot be reached, counting goes
    # on in this process (and a log line says so) until it answers again; any other storage
    # error lets the request through with a log line rather than failing it.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    # Email deliverability (DNS) checks are for production only.
    EMAIL_CHECK_DELIVERABILITY = _env("EMAIL_CHECK_DELIVERABILITY", "0") == "1"
    DEFAULT_PHONE_REGION = _env("DEFAULT_PHONE_REGION", "US")
    # Share of allowed business time after which a running clock is "at risk".
    SLA_AT_RISK_FRACTION = float(_env("SLA_AT_RISK_FRACTION", "0.75"))
    # Business hours a breach may stay unmet before it escalates to the agency's leads.
    SLA_ESCALATE_AFTER_BUSINESS_HOURS = float(_env("SLA_ESCALATE_AFTER_BUSINESS_HOURS", "8"))
    # The routing model routes a complaint with no category that no rule placed when its best
    # agency is at least this sure (0 to 1); below, the case goes to triage with its
    # suggestions. Training needs this many examples for an agency to learn it; the nightly job
    # retrains when this many cases have closed since the model in use was trained.
    ROUTING_MODEL_THRESHOLD = float(_env("ROUTING_MODEL_THRESHOLD", "0.55"))
    ROUTING_MIN_EXAMPLES = int(_env("ROUTING_MIN_EXAMPLES", "10"))
    ROUTING_RETRAIN_AFTER = int(_env("ROUTING_RETRAIN_AFTER", "200"))
    # Bearer token for GET /metrics; without one, only loopback may scrape.
    METRICS_TOKEN = _env("METRICS_TOKEN")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Staff sessions (server-side records): end after this many idle minutes (a warning
    # shows STAFF_SESSION_WARN_MINUTES before) and in any case after STAFF_SESSION_MAX_HOURS.
    STAFF_SESSION_IDLE_MINUTES = float(_env("STAFF_SESSION_IDLE_MINUTES", "30"))
    STAFF_SESSION_WARN_MINUTES = float(_env("STAFF_SESSION_WARN_MINUTES", "2"))
    STAFF_SESSION_MAX_HOURS = float(_env("STAFF_SESSION_MAX_HOURS", "12"))
    # Proxies in front of the app that set X-Forwarded-For/-Proto (0: none). Rate limits count
    # per client address: behind a load balancer, without this, every client is the balancer.
    PROXY_HOPS = int(_env("PROXY_HOPS", "0"))
    # Strict-Transport-Security max-age in seconds (0: no header); production sends a year.
    HSTS_SECONDS = int(_env("HSTS_SECONDS", "0"))


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # A stable per-checkout key so that sessions survive restarts on a laptop.
    SECRET_KEY = Config.SECRET_KEY or "dev-only-not-secret"  # noqa: S105 - laptop only


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = _database_url(_env("TEST_DATABASE_URL", "sqlite://"))
    REDIS_URL = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = False
    WTF_CSRF_ENABLED = False
    PUBLIC_BASE_URL = "http://redress.test"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    HSTS_SECONDS = int(_env("HSTS_SECONDS", "31536000"))

    def __init__(self) -> None:
        check_secret_key(self.SECRET_KEY)


# Sessions, CSRF tokens and API cursors are signed with SECRET_KEY: in production it must
# be long enough that it cannot be guessed.
MIN_SECRET_KEY_BYTES = 32


def check_secret_key(key: str | None) -> None:
    if not key:
        raise RuntimeError("SECRET_KEY must be set in production")
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production "
            f"(got {len(key.encode())}); generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


PROFILES = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load(name: str | None = None) -> Config:
    """Pick the profile named by REDRESS_ENV (default: development)."""
    name = name or _env("REDRESS_ENV", "development")
    try:
        return PROFILES[name]()
    except KeyError:
        raise RuntimeError(
            f"REDRESS_ENV must be one of {', '.join(PROFILES)}; got {name!r}"
        ) from None


def random_secret() -> str:
    return secrets.token_urlsafe(32)
