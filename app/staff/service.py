"""Create staff members; passwords are hashed with argon2."""

from __future__ import annotations

from argon2 import PasswordHasher

from app.common.errors import Invalid
from app.directory.models import Agency
from app.extensions import db
from app.staff.models import ROLES, StaffUser
from channels.contacts import ContactError, normalize_email

_hasher = PasswordHasher()
MIN_PASSWORD = 12


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
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid(f"Passwords need at least {MIN_PASSWORD} characters.", field="password")
    staff = StaffUser(
        email=email,
        name=name or email.split("@")[0].replace(".", " ").title(),
        role=role,
        agency=agency,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(staff)
    return staff
