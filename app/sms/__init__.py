"""The SMS channel's glue: Twilio webhooks, the inbound processor, opt-outs, the sender."""

from flask import Blueprint

bp = Blueprint("sms", __name__)

from app.sms import views  # noqa: E402,F401  (routes register on the blueprint)
