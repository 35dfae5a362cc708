"""The Redress application factory."""

from __future__ import annotations

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

import config as config_module
from app.common.errors import DomainError
from app.extensions import csrf, db, limiter, migrate


def create_app(profile: str | None = None, **overrides) -> Flask:
    """Build the app for a profile (development, test, production) plus explicit overrides."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR))
    app.config.from_object(config_module.load(profile))
    app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config_module.INSTANCE_DIR.mkdir(exist_ok=True)

    from app.ops import logging as ops_logging

    ops_logging.configure(app)
    from app import hardening

    hardening.init_app(app)  # before the blueprints: their `<int:...>` ids use its converter
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.BASE_DIR / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    from app import jobs

    jobs.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _sqlite_pragmas(app)

    from app import models  # noqa: F401  (register every table)
    from app.public.i18n import init_babel

    init_babel(app)
    from app.api import bp as api_bp
    from app.open311.views import bp as open311_bp
    from app.ops.health import bp as ops_bp
    from app.ops.metrics import bp as metrics_bp
    from app.public import bp as public_bp
    from app.public.performance_views import api_bp as performance_api_bp
    from app.sms import bp as sms_bp
    from app.surveys.api import bp as surveys_api_bp
    from app.workspace import bp as workspace_bp

    csrf.exempt(api_bp)
    csrf.exempt(sms_bp)  # Twilio signs its requests instead
    app.register_blueprint(api_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(workspace_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(performance_api_bp)
    app.register_blueprint(surveys_api_bp)
    csrf.exempt(open311_bp)  # form-encoded posts from apps, authenticated by api_key
    app.register_blueprint(open311_bp)
    from app.email.webhook import bp as email_webhook_bp

    app.register_blueprint(email_webhook_bp)  # bearer token, exempt from CSRF
    from app.mailroom.pages import bp as mailroom_pages_bp

    app.register_blueprint(mailroom_pages_bp)  # /staff/mailroom: scans in, letters out
    _error_handlers(app)

    from app.cli import register

    register(app)
    return app


def _sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event

    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/open311/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return jsonify({"errors": messages}), 422

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        db.session.rollback()
        return jsonify({"errors": {exc.field or "_case": [exc.message]}}), exc.status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not _wants_json():
            return exc
        messages = {
            413: "The request is too large.",
            404: "Not found.",
            405: "Method not allowed.",
            429: "Too many requests; please wait and try again.",
        }
        body = {"errors": {"_request": [messages.get(exc.code, exc.description or exc.name)]}}
        response = jsonify(body)
        response.status_code = exc.code or 500
        # Keep what the exception's own answer says besides its body: Allow on a 405,
        # Retry-After on a 429, WWW-Authenticate on a 401.
        for name, value in exc.get_response().headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
