"""CSV files that are safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab or carriage return) is taken as a formula by Excel,
LibreOffice and Google Sheets; text that people or the directory wrote (a queue's name, a
standard's wording, a staff member's name) could carry one. Such text gets a leading
apostrophe, which spreadsheets show as text and do not evaluate (OWASP "CSV injection").
Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: list[str], rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()
