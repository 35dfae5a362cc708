"""The languages the public site speaks: English, the directory's own, and its translations."""

from __future__ import annotations

LANGUAGES = ("en", "es")
# The directory, staff pages and the API are written in English; the others are translations.
DEFAULT_LANGUAGE = "en"
TRANSLATED_LANGUAGES = tuple(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)
