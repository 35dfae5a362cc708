"""Public pages: home, the complaint form and its confirmation, tracking, posted standards.

Plain HTML forms that work without JavaScript, styled with the U.S. Web Design System.
Handlers stay thin: validate with the API's complaint schema, call one case service
function, and hand plain data to the templates, which hold every word the public reads.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from itertools import groupby

from flask import (
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from jinja2.ext import InternationalizationExtension
from marshmallow import ValidationError

from app.api.schemas import MAX_DESCRIPTION, load_complaint
from app.cases import presenters
from app.cases import service as cases
from app.cases.models import Case
from app.common.errors import Invalid, NotFound
from app.common.time import utcnow
from app.customers import access, proof
from app.directory import localized
from app.directory.models import Category
from app.extensions import db, limiter
from app.public import bp, tracking
from app.public.i18n import current_language

# The complaint form's fields, in page order (the error summary follows this order).
FORM_FIELDS = (
    "description",
    "category",
    "name",
    "address",
    "zip",
    "email",
    "phone",
    "preferred_contact",
    "language",
)
CONTACT_CHOICES = ("email", "sms", "mail", "none")
LANGUAGE_CHOICES = ("en", "es")
# What a browser may show of the form and tracking results: never from a shared cache.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# How many confirmations one browser session may revisit.
CONFIRMED_KEEP = 10
_LONGER_THAN = re.compile(r"Longer than maximum length (\d+)\.")


@bp.record_once
def _install_i18n(state) -> None:
    """Templates mark their words with _() and {% trans %}; until a translation catalogue is
    installed (Spanish is planned) they read as written."""
    env = state.app.jinja_env
    if "gettext" in env.globals:
        return  # a real translation layer (e.g. Flask-Babel) is already in place
    env.add_extension(InternationalizationExtension)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


@bp.context_processor
def _layout() -> dict:
    return {
        "uswds_version": _uswds_version(),
        "demo_notice": current_app.config.get("PUBLIC_DEMO_NOTICE", True),
    }


def _uswds_version() -> str | None:
    """The copied USWDS version (also a cache buster), or None when the files are missing."""
    # Imported here so that `python -m app.public.assets` does not import itself twice.
    from app.public import assets

    try:
        return assets.STAMP.read_text().strip() or None
    except OSError:
        return None


def _public_limit() -> str:
    return current_app.config["PUBLIC_RATE_LIMIT"]


def lookup_limit() -> str:
    """Pages that look a case up by what the visitor types or holds (tracking, survey
    links): per client address, so that nobody can try references or tokens in bulk."""
    return current_app.config["LOOKUP_RATE_LIMIT"]


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response


def _not_found() -> tuple[str, int]:
    # The other-language link goes home: the missing page's address is not repeated.
    return render_template("public/not_found.html", language_home=True), 404


@bp.get("/")
def home():
    return render_template(
        "public/home.html",
        intake_email=current_app.config.get("INTAKE_EMAIL_ADDRESS"),
        sms_number=current_app.config.get("TWILIO_FROM_NUMBER"),
    )


# --- The complaint form ------------------------------------------------------------------


def reading_order(text: str | None) -> str:
    """Alphabetical order as a reader expects it: case and accents ignored (Vivienda after
    Viajes, Á with A)."""
    decomposed = unicodedata.normalize("NFKD", (text or "").strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _category_groups(lang: str) -> list[tuple[str | None, list[dict[str, str]]]]:
    """Active categories by group, in the page's language: groups in name order, the
    ungrouped ones (and "Other") last."""
    rows = db.session.scalars(db.select(Category).where(Category.active.is_(True))).all()
    entries = [
        {
            "code": c.code,
            "name": localized(c, "name", lang),
            "group": localized(c, "group", lang),
            "last": reading_order(c.group) in ("", "other"),
        }
        for c in rows
    ]
    entries.sort(key=lambda e: (e["last"], reading_order(e["group"]), reading_order(e["name"])))
    return [
        (group, [{"code": e["code"], "name": e["name"]} for e in items])
        for group, items in groupby(entries, key=lambda e: e["group"])
    ]


_NEEDED_FOR_CONTACT = {
    "email": _l("Enter your email address, or choose another way for us to contact you."),
    "phone": _l(
        "Enter your phone number so we can text you, or choose another way to contact you."
    ),
    "address": _l("Enter your mailing address, or choose another way for us to contact you."),
}


# What to do about a field the schema turned down, whatever its (English, technical)
# reason: the address or number does not parse, the ZIP code has the wrong shape, the
# category is not one of ours, the choice is not on the list.
_FIX_FIELD = {
    "email": _l("Enter an email address in the correct format, like name@example.com."),
    "phone": _l("Enter a phone number, including the area code, like 202-555-0123."),
    "zip": _l("Enter a 5-digit ZIP code, like 20500."),
    "category": _l("Choose a category from the list, or choose “I’m not sure”."),
    "preferred_contact": _l("Choose how you would like us to contact you."),
    "language": _l("Choose English or Spanish."),
}


def _friendly(field: str, value: str, messages: list[str]) -> list[str]:
    """The form's own words for what the schema turned down, in the page's language.

    The schema speaks to API clients in English; a person on the web form reads only these,
    so nothing the schema says reaches the page as written.
    """
    if field in _NEEDED_FOR_CONTACT and any(m.startswith("Needed to reach you") for m in messages):
        return [str(_NEEDED_FOR_CONTACT[field])]
    if field == "description":
        if not value.strip():
            return [_("Describe your complaint.")]
        return [
            _(
                "Your description is too long. Use %(n)s characters or fewer.",
                n=f"{MAX_DESCRIPTION:,}",
            )
        ]
    too_long = [m for m in map(_LONGER_THAN.fullmatch, messages) if m]
    if too_long and field != "category":
        limit = int(too_long[0].group(1))
        return [_("This is too long. Use %(n)s characters or fewer.", n=f"{limit:,}")]
    if field in _FIX_FIELD:
        return [str(_FIX_FIELD[field])]
    if field == "_form":
        return [_("We could not accept your complaint. Check your answers and send them again.")]
    return [_("Check this answer and try again.")]


def _field_errors(messages: dict | list | str, form: dict[str, str]) -> dict[str, list[str]]:
    if not isinstance(messages, dict):
        messages = {"_form": messages}
    errors: dict[str, list[str]] = {}
    for field, value in messages.items():
        texts = value if isinstance(value, list) else [value]
        texts = [str(t) for t in texts]
        errors[field] = _friendly(field, form.get(field, ""), texts)
    return errors


def _all_errors(form: dict[str, str], first: ValidationError) -> dict[str, list[str]]:
    """Every problem with the form at once.

    The schema checks the fields one by one and only then the rules across fields (a
    valid email address, a phone number for text messages), so a form with a field error
    would reveal its other problems one submission at a time. Check again with the failing
    fields left out and add what that finds.
    """
    errors = _field_errors(first.messages, form)
    retry = {k: v for k, v in form.items() if k not in errors}
    retry["description"] = form["description"] if "description" not in errors else "-"
    try:
        load_complaint(retry, staff=False, channel="web", form=True)
    except ValidationError as exc:
        for field, messages in _field_errors(exc.messages, form).items():
            errors.setdefault(field, messages)
    return errors


def _ordered(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(field, message) pairs for the error summary, in the order of the form."""
    order = {name: i for i, name in enumerate(FORM_FIELDS)}
    fields = sorted(errors, key=lambda f: order.get(f, len(order)))
    return [(field, message) for field in fields for message in errors[field]]


def _render_form(form: dict[str, str], errors: dict[str, list[str]], status: int = 200):
    response = make_response(
        render_template(
            "public/complaint_form.html",
            form=form,
            errors=errors,
            summary=_ordered(errors),
            category_groups=_category_groups(current_language()),
            max_description=MAX_DESCRIPTION,
        ),
        status,
    )
    return _private(response)


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError):
    """A form without a valid token: keep what the person wrote and ask them to send again."""
    if request.endpoint == "public.survey":
        from app.public.survey_views import survey_page

        return survey_page(request.view_args["token"], csrf_failed=True)
    if request.endpoint != "public.new_complaint":
        return exc
    form = {name: request.form.get(name, "") for name in FORM_FIELDS}
    message = _(
        "We could not accept the form, perhaps because your browser blocks cookies "
        "or the page was open for a long time. Check your answers and send them again."
    )
    return _render_form(form, {"_form": [message]}, 400)


@bp.route("/complaints/new", methods=["GET", "POST"])
@limiter.limit(_public_limit, methods=["POST"])
def new_complaint():
    if request.method == "GET":
        # The page's language is the complaint's, unless the person picks the other one.
        blank = {name: "" for name in FORM_FIELDS} | {"language": current_language()}
        return _render_form(blank, {})
    form = {name: request.form.get(name, "") for name in FORM_FIELDS}
    try:
        intake = load_complaint(dict(form), staff=False, channel="web", form=True)
        case, _created = cases.open_case(intake)
    except ValidationError as exc:
        return _render_form(form, _all_errors(form, exc), 422)
    except Invalid as exc:
        db.session.rollback()
        field = exc.field if exc.field in FORM_FIELDS else "_form"
        return _render_form(form, {field: _friendly(field, form.get(field, ""), [])}, 422)
    confirmed = [r for r in session.get("confirmed", []) if r != case.reference]
    session["confirmed"] = [*confirmed[-(CONFIRMED_KEEP - 1) :], case.reference]
    return redirect(url_for("public.confirmation", reference=case.reference), 303)


@bp.get("/complaints/<reference>/confirmation")
def confirmation(reference: str):
    # Only the browser that filed the complaint sees this page: a guessed reference is 404.
    if reference not in session.get("confirmed", []):
        return _not_found()
    try:
        case = cases.get_case(reference)
    except NotFound:
        return _not_found()
    response = make_response(
        render_template(
            "public/confirmation.html",
            case=case,
            promises=presenters.promise_sentences(case, current_language()),
            received=presenters.plain_date(case, case.received_at, lang=current_language()),
        )
    )
    return _private(response)


# --- Tracking ------------------------------------------------------------------------------
#
# The form POSTs (the email address or phone number stays out of URLs, logs and history);
# a contact that may act on the case (app.customers.access) is remembered in the session for
# a short while (app.public.tracking) and the case is shown at /track/<reference>. A contact
# that is not on the case gets the same "not found" as a wrong reference, with the offer of
# a one-time code sent to the contact on file. Old links with ?contact= still work.


def _clock_rows(case: Case) -> list[dict]:
    lang = current_language()
    rows = []
    for clock in presenters.clocks(case):
        due = datetime.fromisoformat(clock["due_at"]) if clock["due_at"] else None
        met = datetime.fromisoformat(clock["met_at"]) if clock["met_at"] else None
        rows.append(
            {
                "metric": clock["metric"],
                "state": clock["state"],
                "due": presenters.plain_date(case, due, lang=lang) if due else None,
                "met": presenters.plain_date(case, met, lang=lang) if met else None,
            }
        )
    return rows


def _message_rows(case: Case, messages: list[dict]) -> list[dict]:
    return [
        {
            "direction": m["direction"],
            "channel": m["channel"],
            "body": m["body"],
            "date": presenters.plain_date(
                case, datetime.fromisoformat(m["created_at"]), lang=current_language()
            ),
        }
        for m in messages
    ]


def _track_page(context: dict, status: int = 200):
    errors = context.setdefault("errors", {})
    context.setdefault("case", None)
    context["summary"] = [
        (f, m) for f in ("reference", "contact", "code") for m in errors.get(f, [])
    ]
    response = make_response(render_template("public/track.html", **context), status)
    return _private(response)


def _case_page(case: Case):
    view = presenters.track(case)
    return _track_page(
        {
            "case": case,
            "received": presenters.plain_date(case, case.received_at, lang=current_language()),
            "clocks": _clock_rows(case),
            "messages": _message_rows(case, view["messages"]),
        }
    )


def _asked() -> tuple[str, str]:
    values = request.form if request.method == "POST" else request.args
    return values.get("reference", "").strip()[:40], values.get("contact", "").strip()[:254]


def _missing(reference: str, contact: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not reference:
        errors["reference"] = [_("Enter the reference of your complaint.")]
    if not contact:
        errors["contact"] = [_("Enter the email address or phone number you gave us.")]
    return errors


def _no_such_case(reference: str, contact: str, channel: str):
    """The same page whether the reference or the contact is wrong (recorded on the case
    when there is one), with the offer of a code sent to the contact on file."""
    proof.refused(proof.find_case(reference), channel, "track", contact, utcnow())
    db.session.commit()
    context = {"reference": reference, "contact": contact, "not_found": True}
    return _track_page(context, 404)


def _proven(reference: str, contact: str) -> tuple[Case | None, Response | None]:
    """(the case, None) when the contact may act on it, remembered for this browser;
    otherwise (None, the page that says what is missing or that nothing was found)."""
    errors = _missing(reference, contact)
    if errors:
        context = {"reference": reference, "contact": contact, "errors": errors}
        return None, _track_page(context, 422)
    case = proof.find_case(reference)
    if case is None or not access.may_act_typed(case, contact):
        return None, _no_such_case(reference, contact, "web")
    tracking.remember(case, contact)
    return case, None


@bp.get("/track")
@limiter.limit(lookup_limit)
def track():
    reference, contact = _asked()
    if "contact" not in request.args:  # the form, perhaps with a bookmarked reference
        return _track_page({"reference": reference, "contact": ""})
    case, refused = _proven(reference, contact)
    return refused or _case_page(case)


@bp.post("/track")
@limiter.limit(lookup_limit)
def track_submit():
    case, refused = _proven(*_asked())
    return refused or redirect(url_for("public.tracked", reference=case.reference), 303)


@bp.get("/track/<reference>")
@limiter.limit(lookup_limit)
def tracked(reference: str):
    """The case for the browser that proved a contact for it a little while ago."""
    case = tracking.proven_case(reference)
    if case is None:
        return redirect(url_for("public.track", reference=reference[:40]), 303)
    return _case_page(case)


def _code_page(reference: str, contact: str, errors: dict | None = None, status: int = 200):
    context = {
        "reference": reference,
        "contact": contact,
        "errors": errors or {},
        "send_by": request.form.get("send_by", ""),
    }
    context["summary"] = [(f, m) for f, ms in context["errors"].items() for m in ms]
    response = make_response(render_template("public/track_code.html", **context), status)
    return _private(response)


@bp.post("/track/code")
@limiter.limit(lookup_limit)
def track_code():
    """Send a one-time code to the contact on file; the page says the same words whether
    or not anything was sent."""
    reference, contact = _asked()
    errors = _missing(reference, contact)
    if errors:
        return _track_page({"reference": reference, "contact": contact, "errors": errors}, 422)
    send_by = request.form.get("send_by", "")
    if send_by in ("email", "sms"):
        proof.request_code(reference, contact, send_by, current_language(), utcnow())
        db.session.commit()
    return _code_page(reference, contact)


@bp.post("/track/verify")
@limiter.limit(lookup_limit)
def track_verify():
    reference, contact = _asked()
    code = request.form.get("code", "")
    if not code.strip():
        return _code_page(reference, contact, {"code": [_("Enter the code we sent you.")]}, 422)
    case = proof.verify_code(
        reference, contact, code, utcnow(), updates=request.form.get("updates") == "yes"
    )
    db.session.commit()
    if case is None:
        wrong = _("That code is not right, has expired or was already used. Ask for a new code.")
        return _code_page(reference, contact, {"code": [wrong]}, 422)
    tracking.remember(case, contact)
    return redirect(url_for("public.tracked", reference=case.reference), 303)
