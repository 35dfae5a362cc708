"""Issue and check API bearer tokens; only a hash of each token is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import joinedload

from app.extensions import db
from app.staff.models import ApiToken, StaffUser

PREFIX = "rdx_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(staff: StaffUser) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(staff=staff, token_hash=_digest(token)))
    db.session.commit()
    return token


def staff_for_token(token: str) -> StaffUser | None:
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    # The staff member with the token: one statement on every API request.
    row = db.session.scalar(
        db.select(ApiToken)
        .options(joinedload(ApiToken.staff))
        .where(ApiToken.token_hash == _digest(token))
    )
    if row is None or row.revoked_at is not None or not row.staff.active:
        return None
    return row.staff
