"""Twilio's webhooks: inbound SMS/MMS (answered with TwiML) and delivery status callbacks.

Both check X-Twilio-Signature with twilio's RequestValidator against PUBLIC_BASE_URL plus
the path, so the check holds behind a proxy that rewrites host or scheme. The body is parsed
once, and the signature is checked over exactly the fields then read (never Flask's own form
parse, which a multipart body can make differ). Anything not form-encoded is refused with 415,
anything unsigned with 403, before a byte is stored.
"""

from __future__ import annotations

import logging

from flask import Response, abort, current_app, jsonify, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict

from app.common.time import utcnow
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import DONE, InboundMessage
from app.sms import bp, intake, service
from channels.contacts import mask_contact
from channels.sms import replies, webhook

log = logging.getLogger(__name__)


def _public_url() -> str:
    """The URL Twilio called, as the public sees it (not as the proxy forwarded it)."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _verified() -> tuple[bytes, dict[str, list[str]]]:
    """The raw body and the signed form fields read from it, or 403/415/400."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token:
        log.warning(
            "Twilio webhook refused: TWILIO_AUTH_TOKEN is not set", extra={"channel": "sms"}
        )
        abort(403)
    if request.mimetype != "application/x-www-form-urlencoded":
        log.warning("Twilio webhook refused: not form-encoded", extra={"channel": "sms"})
        abort(415)
    raw = request.get_data(cache=True)
    try:
        items = webhook.pairs(raw)
    except webhook.BadForm:
        log.warning("Twilio webhook refused: too many fields", extra={"channel": "sms"})
        abort(403)
    if not signature or not RequestValidator(token).validate(
        _public_url(), MultiDict(items), signature
    ):
        log.warning("Twilio webhook refused: bad signature", extra={"channel": "sms"})
        abort(403)
    twice = webhook.repeated(items)
    if twice:
        errors = {name: ["Given more than once; Twilio sends each field once."] for name in twice}
        abort(_errors(errors, 400))
    return raw, webhook.fields(items)


def _errors(errors: dict, status: int) -> Response:
    response = jsonify({"errors": errors})
    response.status_code = status
    return response


def _missing(fields: dict, required: tuple[str, ...]):
    lacking = webhook.missing(fields, required)
    if not lacking:
        return None
    return _errors({name: ["Missing; Twilio always sends it."] for name in lacking}, 400)


def _twiml(text: str | None) -> Response:
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), mimetype="application/xml")


@bp.post("/webhooks/twilio/sms")
def inbound_sms():
    """Store the form raw and commit, then process it here so the reply can carry the case
    reference. A retried MessageSid gets the first answer again, and nothing else."""
    raw, fields = _verified()
    problem = _missing(fields, webhook.INBOUND_REQUIRED)
    if problem:
        return problem
    sms = webhook.inbound(fields)
    row, _ = inbound.receive(
        "sms",
        "twilio",
        raw,
        dedupe_key=sms.sid,
        meta={"summary": f"SMS from {mask_contact(sms.sender)}", "media": len(sms.media)},
        process_later=False,
    )
    db.session.commit()
    row_id = row.id
    if row.outcome not in DONE:
        with intake.answering():
            inbound.process(row_id)
    db.session.expire_all()
    row = db.session.get(InboundMessage, row_id)
    reply = row.reply
    if row.outcome == "failed":
        # Kept and retryable; tell the person we have it rather than nothing at all.
        reply = replies.simple("trouble", "en")
    return _twiml(reply)


@bp.post("/webhooks/twilio/status")
def delivery_status():
    """Twilio's report on a text we sent: delivered, or failed with its error code."""
    _, fields = _verified()
    problem = _missing(fields, webhook.STATUS_REQUIRED)
    if problem:
        return problem
    report = webhook.status(fields)
    if report.status not in webhook.STATUS_STATES:
        errors = {"MessageStatus": [f"Unknown status {report.status[:40]!r}."]}
        return jsonify({"errors": errors}), 400
    done = service.delivery_status(report, utcnow())
    db.session.commit()
    if done == "unknown message":
        log.info("Twilio status for a message we did not send", extra={"channel": "sms"})
    return "", 204
