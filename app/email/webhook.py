"""`POST /webhooks/email`: a mail relay posts one raw RFC 5322 message as the body.

Authenticated with `Authorization: Bearer INBOUND_EMAIL_TOKEN` (no cookies, so no CSRF); the
raw bytes are committed to the inbound store before we answer 202.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from app.email.intake import accept
from app.extensions import csrf, db
from app.jobs import run_ready

bp = Blueprint("email_webhook", __name__)
csrf.exempt(bp)


def _problem(status: int, message: str, field: str = "_request"):
    response = jsonify({"errors": {field: [message]}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="email webhook"'
    return response


@bp.post("/webhooks/email")
def inbound_email():
    token = current_app.config.get("INBOUND_EMAIL_TOKEN")
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _problem(401, "A bearer token is required (Authorization: Bearer ...).")
    given = header[len("Bearer ") :].strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return _problem(403, "This token may not post email here.")
    request.max_content_length = current_app.config.get("EMAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
    raw = request.get_data(cache=False)
    if not raw.strip():
        return _problem(422, "The body must be one raw RFC 5322 message.", "body")
    row, created = accept(raw, "webhook", {"remote_addr": request.remote_addr, "bytes": len(raw)})
    db.session.commit()
    run_ready()
    db.session.refresh(row)
    body = {"id": row.id, "duplicate": not created, "outcome": row.outcome}
    return jsonify(body), 202 if created else 200
