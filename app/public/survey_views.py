"""The A-11 §280 survey page: `GET+POST /survey/<token>`, no sign-in, in the case's language.

A token that is forged, expired or already used gets a plain page and records nothing.
"""

from __future__ import annotations

from flask import make_response, render_template, request
from flask_babel import force_locale, gettext

from app.directory import localized
from app.extensions import limiter
from app.public import bp
from app.public.views import PRIVATE_HEADERS, lookup_limit
from app.surveys import service as surveys

_STATUS = {"forged": 404, "expired": 410, "answered": 409}


def _page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers.update(PRIVATE_HEADERS)
    return response


def _questions(invitation, lang: str) -> list[dict]:
    agency = localized(invitation.case.agency, "name", lang)
    return [
        {"field": q.field, "text": surveys.question_text(q, lang, agency)}
        for q in surveys.QUESTIONS
    ]


def _messages(errors: dict[str, str]) -> dict[str, list[str]]:
    words = {
        "choose": gettext("Choose one of the five answers, or leave the question blank."),
        "long": gettext(
            "Your answer is too long. Use %(n)s characters or fewer.",
            n=f"{surveys.MAX_COMMENT:,}",
        ),
        "empty": gettext("Answer at least one question before you send the survey."),
    }
    return {field: [words[code]] for field, code in errors.items()}


@bp.route("/survey/<token>", methods=["GET", "POST"])
@limiter.limit(lookup_limit)
def survey(token: str):
    return survey_page(token)


def survey_page(token: str, csrf_failed: bool = False):
    """The survey, its answer, or why it cannot be answered. With `csrf_failed` (the form
    came without a valid token) the answers are shown again with a request to resend."""
    try:
        invitation = surveys.open_invitation(token)
    except surveys.SurveyClosed as closed:
        return _page(
            "public/survey_closed.html",
            _STATUS[closed.reason],
            reason=closed.reason,
            language_home=True,
        )
    # The case's language, unless the person switched language on the page.
    asked = request.args.get("lang", "")
    lang = asked if asked in surveys.SCALE else invitation.language
    with force_locale(lang):
        form = {f: request.form.get(f, "") for f in (*surveys.FIELDS, "comment")}
        errors: dict[str, list[str]] = {}
        if csrf_failed:
            errors["_form"] = [
                gettext(
                    "We could not accept the form, perhaps because your browser blocks cookies "
                    "or the page was open for a long time. Check your answers and send them again."
                )
            ]
        elif request.method == "POST":
            answers, comment, problems = surveys.validate_answers(request.form)
            if not problems:
                try:
                    surveys.record_response(invitation, answers, comment)
                except surveys.SurveyClosed as closed:
                    return _page("public/survey_closed.html", 409, reason=closed.reason)
                return _page("public/survey_thanks.html")
            errors = _messages(problems)
        order = {name: i for i, name in enumerate((*surveys.FIELDS, "comment"))}
        summary = [
            (field, m)
            for field in sorted(errors, key=lambda f: order.get(f, -1))
            for m in errors[field]
        ]
        return _page(
            "public/survey.html",
            400 if csrf_failed else 422 if errors else 200,
            reference=invitation.case.reference,
            agency=localized(invitation.case.agency, "name", lang),
            questions=_questions(invitation, lang),
            scale=list(enumerate(surveys.SCALE.get(lang, surveys.SCALE["en"]), 1)),
            comment_question=surveys.COMMENT_QUESTION.get(lang, surveys.COMMENT_QUESTION["en"]),
            max_comment=surveys.MAX_COMMENT,
            form=form,
            errors=errors,
            summary=summary,
        )
