"""Staff sign-in with Flask-Login: argon2 passwords, per-account lockout that reads the same
whether or not the account exists, server-side sessions that end (sign-out, idle, 12 hours,
deactivation, password change), roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from app.common.errors import DomainError
from app.common.time import utcnow
from app.extensions import db, limiter
from app.staff import sessions
from app.staff.models import StaffUser
from app.staff.service import is_published_password, set_password, verify_password
from app.workspace import bp
from app.workspace.throttle import failure_counter

login_manager = LoginManager()
login_manager.login_view = "workspace.login"
login_manager.login_message = "Sign in to use the staff workspace."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

# The cookie's key for the session record's id.
_SESSION = "staff_session"
_STATUS_ENDPOINTS = ("workspace.session_status",)  # asking how long is left is not activity


@bp.record_once
def _setup(state) -> None:
    login_manager.init_app(state.app)
    state.app.before_request(_forget_previous_request)


def _forget_previous_request() -> None:
    """Check the session record on every request: an app context (and its `g`, where
    Flask-Login keeps the user) may outlive one request, as it does under the test client."""
    for name in ("_login_user", "staff_session", "session_ended"):
        g.pop(name, None)


def _limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return (
        timedelta(minutes=float(cfg["STAFF_SESSION_IDLE_MINUTES"])),
        timedelta(hours=float(cfg["STAFF_SESSION_MAX_HOURS"])),
    )


@login_manager.user_loader
def _load(staff_id: str) -> StaffUser | None:
    """The signed-in member, only while their session record is good."""
    try:
        member_id = int(staff_id)
    except ValueError:
        return None
    now = utcnow()
    idle, max_age = _limits()
    record = sessions.find(session.get(_SESSION))
    reason = sessions.check(record, member_id, now, idle, max_age)
    staff = db.session.get(StaffUser, member_id) if reason is None else None
    if reason is None and (staff is None or not staff.active):
        sessions.end(session.get(_SESSION), now, "deactivated")
        reason = "deactivated"
    if reason is not None:
        g.session_ended = reason
        db.session.commit()  # an idle or expired session stays ended
        return None
    g.staff_session = record
    if request.endpoint not in _STATUS_ENDPOINTS and sessions.touch(record, now):
        db.session.commit()
    return staff


_ENDED = {
    "idle": "Your session ended after {minutes} minutes without activity. "
    "Sign in again to continue where you were.",
    "expired": "Your session reached its {hours}-hour limit. Sign in again to continue.",
}


def _ended_message() -> str:
    reason = g.get("session_ended")
    if reason in (None, "unknown"):
        return login_manager.login_message
    cfg = current_app.config
    return _ENDED.get(reason, "Your session has ended. Sign in again to continue.").format(
        minutes=f"{float(cfg['STAFF_SESSION_IDLE_MINUTES']):g}",
        hours=f"{float(cfg['STAFF_SESSION_MAX_HOURS']):g}",
    )


def _return_to() -> str | None:
    """Where sign-in should lead back to: this page for a GET; for a form sent after the
    session ended, the page the form was on (a POST-only address would answer 405)."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/staff/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return None


@login_manager.unauthorized_handler
def _unauthorized() -> ResponseReturnValue:
    flash(_ended_message(), "info")
    target = _return_to()
    return redirect(url_for("workspace.login", **({"next": target} if target else {})))


@bp.after_request
def _no_store(response):
    """Staff pages hold personal data: never kept by a shared cache or the back button."""
    response.headers.setdefault("Cache-Control", "no-store")
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


def _lockout() -> tuple[int, timedelta]:
    cfg = current_app.config
    return (
        int(cfg["STAFF_LOGIN_MAX_FAILURES"]),
        timedelta(minutes=float(cfg["STAFF_LOGIN_LOCKOUT_MINUTES"])),
    )


def _locked_message(until: datetime) -> str:
    return (
        "Too many failed sign-in attempts: this account is locked until "
        f"{until:%H:%M} UTC. Try again then, or ask an administrator to unlock it."
    )


WRONG = "The email address or password is not right."


def attempt_sign_in(email: str, password: str, now: datetime) -> tuple[StaffUser | None, str]:
    """Check a sign-in; count failures per account and lock it after too many. An address
    with no account is counted and locked the same way (in the rate-limit store), so the
    answers never tell whether an account exists. Returns (staff, error)."""
    max_failures, lockout = _lockout()
    address = email.strip().lower()
    staff = db.session.scalar(db.select(StaffUser).where(db.func.lower(StaffUser.email) == address))
    if staff is None:
        verify_password(None, password)  # same work as a real account's check
        locked_until = failure_counter().fail(address, now, max_failures, lockout)
        return None, _locked_message(locked_until) if locked_until else WRONG
    if staff.locked_until and staff.locked_until > now:
        verify_password(None, password)  # same work as any other attempt
        return None, _locked_message(staff.locked_until)
    right = verify_password(staff, password)
    if current_app.config.get("ENV_NAME") == "production" and is_published_password(password):
        right = False  # the demo's published password never signs anyone in in production
    if not right or not staff.active:
        staff.failed_logins = (staff.failed_logins or 0) + 1
        if staff.failed_logins >= max_failures:
            staff.locked_until = now + lockout
            staff.failed_logins = 0
            db.session.commit()
            return None, _locked_message(staff.locked_until)
        db.session.commit()
        return None, WRONG
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    db.session.commit()
    return staff, ""


def _start_session(staff: StaffUser, now: datetime) -> None:
    """A fresh cookie (nothing carried over from before) naming a new session record."""
    session.clear()
    g.pop("csrf_token", None)  # nor a form token cached for this request
    token = sessions.begin(staff, now)
    db.session.commit()
    login_user(staff)
    session[_SESSION] = token


def _login_limit() -> str:
    return current_app.config["STAFF_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
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
                _start_session(staff, now)
                return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("workspace/login.html", email=email, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    sessions.end(session.get(_SESSION), utcnow(), "signed_out")
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("workspace.login"))


def _session_answer(status: int = 200):
    if not current_user.is_authenticated:
        return jsonify({"signed_in": False, "seconds_left": 0}), 401
    idle, max_age = _limits()
    left = sessions.remaining(g.staff_session, utcnow(), idle, max_age)
    return jsonify({"signed_in": True, "seconds_left": round(left)}), status


@bp.get("/session")
def session_status() -> ResponseReturnValue:
    """How long this session has left (for the warning before it ends); not activity."""
    return _session_answer()


@bp.post("/session")
def session_extend() -> ResponseReturnValue:
    """ "Stay signed in": counts as activity, so the idle time starts again."""
    if current_user.is_authenticated:
        g.staff_session.last_seen_at = utcnow()
        db.session.commit()
    return _session_answer()


@bp.route("/account/password", methods=["GET", "POST"])
@staff_page()
def change_password() -> ResponseReturnValue:
    """Change one's own password; every other session of the member ends."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        current = request.form.get("current_password", "")[:1024]
        new = request.form.get("new_password", "")[:1024]
        if not verify_password(current_user, current):
            errors["current_password"] = "That is not your current password."  # noqa: S105
        elif new != request.form.get("confirm_password", "")[:1024]:
            errors["confirm_password"] = "The two new passwords are not the same."  # noqa: S105
        else:
            try:
                now = utcnow()
                staff = current_user._get_current_object()
                set_password(staff, new, now)
                _start_session(staff, now)  # this browser goes on in a new session
                flash("Your password was changed; your other sessions were signed out.", "success")
                return redirect(url_for("workspace.home"))
            except DomainError as exc:
                db.session.rollback()
                errors["new_password"] = exc.message
    return render_template("workspace/password.html", errors=errors), (422 if errors else 200)


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> ResponseReturnValue:
    """A staff form sent without a valid token is refused and changes nothing."""
    return render_template("workspace/csrf.html"), 400
