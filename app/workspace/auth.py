"""Staff sign-in with Flask-Login: argon2 passwords, lockout, expiring sessions, roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from app.common.time import utcnow
from app.extensions import db
from app.staff.models import StaffUser
from app.staff.service import verify_password
from app.workspace import bp

login_manager = LoginManager()
login_manager.login_view = "workspace.login"
login_manager.login_message = "Sign in to use the staff workspace."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

# Consecutive failed sign-ins that lock an account, and for how long.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# A session ends after this long without a request, and in any case after MAX_AGE.
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=12)
_SIGNED_IN, _SEEN = "staff_signed_in", "staff_seen"


@bp.record_once
def _setup(state) -> None:
    login_manager.init_app(state.app)


@login_manager.user_loader
def _load(staff_id: str) -> StaffUser | None:
    try:
        return db.session.get(StaffUser, int(staff_id))
    except ValueError:
        return None


def _limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    idle = cfg.get("STAFF_SESSION_IDLE_MINUTES")
    age = cfg.get("STAFF_SESSION_MAX_HOURS")
    return (
        timedelta(minutes=float(idle)) if idle else IDLE_TIMEOUT,
        timedelta(hours=float(age)) if age else MAX_AGE,
    )


@bp.before_request
def _expire_session():
    """Sign out a session that sat idle too long or is too old; otherwise note activity."""
    if not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    idle, age = _limits()
    signed_in, seen = session.get(_SIGNED_IN, 0), session.get(_SEEN, 0)
    if now - seen > idle.total_seconds() or now - signed_in > age.total_seconds():
        logout_user()
        session.pop(_SIGNED_IN, None)
        session.pop(_SEEN, None)
        flash("Your session expired. Sign in again to continue.", "info")
        return redirect(url_for("workspace.login", next=request.full_path))
    session[_SEEN] = now
    return None


@bp.after_request
def _no_store(response):
    """Staff pages hold personal data: never kept by a shared cache or the back button."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def staff_page(*roles: str):
    """Require a signed-in, active staff member (with one of `roles`, when given)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                return render_template("workspace/forbidden.html"), 403
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site under /staff: never an open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/staff/"):
            return target
    return url_for("workspace.home")


def _locked_message(until: datetime) -> str:
    return (
        "Too many failed sign-in attempts: this account is locked until "
        f"{until:%H:%M} UTC. Try again then, or ask an administrator to unlock it."
    )


def attempt_sign_in(email: str, password: str, now: datetime) -> tuple[StaffUser | None, str]:
    """Check a sign-in; count failures and lock after MAX_FAILURES. Returns (staff, error)."""
    wrong = "The email address or password is not right."
    staff = db.session.scalar(
        db.select(StaffUser).where(db.func.lower(StaffUser.email) == email.strip().lower())
    )
    if staff is not None and staff.locked_until and staff.locked_until > now:
        verify_password(None, password)  # same work as any other attempt
        return None, _locked_message(staff.locked_until)
    if not verify_password(staff, password) or staff is None or not staff.active:
        if staff is not None:
            staff.failed_logins = (staff.failed_logins or 0) + 1
            if staff.failed_logins >= MAX_FAILURES:
                staff.locked_until = now + LOCKOUT
                staff.failed_logins = 0
                db.session.commit()
                return None, _locked_message(staff.locked_until)
            db.session.commit()
        return None, wrong
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    db.session.commit()
    return staff, ""


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("workspace.home"))
    email, error = "", None
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        password = request.form.get("password", "")[:1024]
        if not email.strip() or not password:
            error = "Enter your email address and your password."
        else:
            now = utcnow()
            staff, error = attempt_sign_in(email, password, now)
            if staff is not None:
                session.clear()  # a fresh session: nothing carried over from before sign-in
                g.pop("csrf_token", None)  # nor a form token cached for this request
                login_user(staff)
                session[_SIGNED_IN] = session[_SEEN] = now.timestamp()
                return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("workspace/login.html", email=email, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("workspace.login"))


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> ResponseReturnValue:
    """A staff form sent without a valid token is refused and changes nothing."""
    return render_template("workspace/csrf.html"), 400
