"""English and Spanish for the public site (Flask-Babel).

The language comes from the URL (`?lang=es`, remembered for the visit), else from the
browser's Accept-Language; every page links to the other language.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session, url_for
from flask_babel import Babel, get_locale, refresh

from app.common.languages import LANGUAGES
from app.directory import localized
from channels.case_status import status_words

TRANSLATIONS = Path(__file__).parent / "translations"


def select_locale() -> str:
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        if session.get("lang") != asked:
            session["lang"] = asked
        return asked
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or "en"


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else "en"


def init_babel(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context, which a request may share (tests,
    # the CLI): choose again for every request.
    app.before_request(refresh)

    @app.context_processor
    def _language() -> dict:
        return {"current_language": current_language, "other_language_url": other_language_url}

    # Globals, so the imported word macros (_words.html, _macros.html) can use them too.
    app.jinja_env.globals["case_status"] = case_status
    app.jinja_env.globals["localized"] = page_localized


def other_language_url(home: bool = False) -> tuple[str, str, str]:
    """(url, language code, label) of this page (or of the home page) in the other language."""
    other = "en" if current_language() == "es" else "es"
    label = "English" if other == "en" else "Español"
    if home or request.endpoint is None:
        return url_for("public.home", lang=other), other, label
    args = request.args.to_dict()
    args["lang"] = other
    view_args = request.view_args or {}
    return url_for(request.endpoint, **view_args, **args), other, label


def case_status(status: str) -> str:
    """A case's status in the same plain words an SMS or email STATUS answer uses."""
    words = status_words(status, current_language())
    return words[:1].upper() + words[1:]


def page_localized(entity, field: str, lang: str | None = None):
    """Templates' `localized(case.agency, "name")`: the directory's words in the page's
    language."""
    return localized(entity, field, lang or current_language())
