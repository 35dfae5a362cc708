"""Create staff members and set their passwords: argon2 hashes, a policy against common and
breached passwords, and a password change that ends every session."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from flask import current_app

from app.common.errors import Invalid
from app.directory.models import Agency
from app.extensions import db
from app.staff import sessions
from app.staff.models import ROLES, StaffUser
from channels.contacts import ContactError, normalize_email

_hasher = PasswordHasher()
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
# zxcvbn's score from 0 (guessable in a few tries) to 4; 3 and up resists offline attacks on
# a slow hash (argon2) for years.
MIN_STRENGTH = 3
# The demo staff's password is printed in the README and by `make run`: anyone may know it.
DEMO_PASSWORD = "redress-demo-password"  # noqa: S105 - a published demo login, not a secret


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the breach corpora zxcvbn ships (lower-cased)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_published_password(password: str) -> bool:
    return password == DEMO_PASSWORD


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a new password cannot be used, or None. No composition rules (NIST 800-63B,
    ASVS V2.1): long enough, not common or breached, not guessable from who the member is;
    in production, never the published demo password."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD:
        return f"Passwords need at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Passwords can have at most {MAX_PASSWORD} characters."
    if current_app.config.get("ENV_NAME") == "production" and is_published_password(password):
        return "That is the published demo password: choose one nobody else knows."
    if password.lower() in _common_passwords():
        return "That password is on a list of common and breached passwords: choose another."
    words = (*email.lower().replace("@", ".").split("."), name, "redress")
    hints = [word for word in words if word]
    # zxcvbn's time grows with length; past 100 characters a password is strong anyway.
    if zxcvbn(password[:100], user_inputs=hints)["score"] < MIN_STRENGTH:
        return (
            "That password is too easy to guess (common words, names, dates, keyboard "
            "patterns or your email address): a few unrelated words make a strong one."
        )
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Verified against when no such staff member exists, so a wrong email takes as long as a
# wrong password and timing reveals nothing about who has an account.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


def verify_password(staff: StaffUser | None, password: str) -> bool:
    """Whether the password is this staff member's (argon2; rehashes an outdated hash)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    stored = staff.password_hash if staff is not None and staff.password_hash else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if stored is None:
        return False
    if _hasher.check_needs_rehash(stored):
        staff.password_hash = _hasher.hash(password)
    return True


def add_staff(
    email: str, *, role: str, agency_code: str | None, password: str | None, name: str | None = None
) -> StaffUser:
    """Validate and create a staff member (not committed)."""
    try:
        email = normalize_email(email).lower()
    except ContactError as exc:
        raise Invalid(str(exc), field="email") from None
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}.", field="role")
    agency = None
    if agency_code:
        agency = db.session.scalar(db.select(Agency).where(Agency.code == agency_code.upper()))
        if agency is None:
            raise Invalid(f"No agency {agency_code} in the directory.", field="agency")
    elif role != "admin":
        raise Invalid(
            "Caseworkers and supervisors belong to an agency: give --agency.", field="agency"
        )
    if db.session.scalar(db.select(StaffUser).where(StaffUser.email == email)):
        raise Invalid(f"{email} is already a staff member.", field="email")
    problem = password_problem(password, email=email, name=name or "") if password else None
    if problem:
        raise Invalid(problem, field="password")
    staff = StaffUser(
        email=email,
        name=name or email.split("@")[0].replace(".", " ").title(),
        role=role,
        agency=agency,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(staff)
    return staff


def set_password(staff: StaffUser, password: str, now: datetime) -> int:
    """Give `staff` a new password (checked by the policy) and end every one of their
    sessions, wherever they are signed in; returns how many ended. Not committed."""
    problem = password_problem(password, email=staff.email, name=staff.name or "")
    if problem:
        raise Invalid(problem, field="password")
    staff.password_hash = hash_password(password)
    staff.failed_logins, staff.locked_until = 0, None
    return sessions.end_all(staff, now, "password_changed")
