"""Spam scoring with SpamAssassin's spamd, where one is configured (SPAMD_URL).

Spam is kept in the inbound store as `ignored` / `spam` with its score and rules, visible and
retryable ("not spam" processes it as a person's message), and never acknowledged. Intake never
depends on spamd: unset, down or slow, the message is processed unscored and the row says so.
"""

from __future__ import annotations

import logging

from flask import current_app

from app.inbound.models import InboundMessage
from channels.email import spamc

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 5.0  # SpamAssassin's own default required score


def spam_reason(row: InboundMessage) -> str | None:
    """Why this message is spam, or None (not spam, not scored, or released by an operator).
    What was checked is written to the row's meta (`spam_check`, `spam_score`)."""
    config = current_app.config
    meta = dict(row.meta or {})
    url = config.get("SPAMD_URL")
    reason = None
    if meta.get("released") == "spam":
        meta["spam_check"] = "not scored: an operator released it as not spam"
    elif not url:
        meta["spam_check"] = "not scored: no SPAMD_URL configured"
    elif len(row.raw) > int(config.get("SPAMD_MAX_BYTES") or spamc.MAX_BYTES):
        meta["spam_check"] = "not scored: larger than SPAMD_MAX_BYTES"
    else:
        try:
            verdict = spamc.check(url, row.raw, timeout=float(config.get("SPAMD_TIMEOUT") or 20))
        except spamc.SpamdUnavailable as exc:
            log.warning(
                "spamd unavailable; the message is processed unscored",
                extra={"inbound_id": row.id, "problem": str(exc)},
            )
            meta["spam_check"] = f"not scored: {exc}"
        else:
            threshold = float(config.get("SPAM_THRESHOLD") or DEFAULT_THRESHOLD)
            meta["spam_check"] = "scored"
            meta["spam_score"] = verdict.score
            if verdict.score >= threshold:
                rules = ", ".join(verdict.rules[:8]) or "no rule names"
                reason = (
                    f"spam: SpamAssassin score {verdict.score:.1f} is at or over the threshold "
                    f"{threshold:.1f} ({rules}); kept, not acted on"
                )
    row.meta = meta
    return reason
