"""The directory: agencies, categories, service standards, calendars, queues, routing rules."""

from __future__ import annotations

from typing import Any

from app.common.languages import DEFAULT_LANGUAGE


def localized(entity: Any, field: str, lang: str | None) -> Any:
    """`entity.field` in `lang` where the directory translates it, else the English text.

    The one way the public's words for agencies, categories and service standards are read
    (ORM rows and specs alike carry `translations`), so a missing translation always falls
    back to English instead of showing nothing.
    """
    english = getattr(entity, field)
    code = (lang or DEFAULT_LANGUAGE).split("-")[0].lower()
    if code == DEFAULT_LANGUAGE:
        return english
    words = (getattr(entity, "translations", None) or {}).get(code) or {}
    return words.get(field) or english
