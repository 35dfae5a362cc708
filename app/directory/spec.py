"""The directory file: parse and validate its YAML into frozen specs, and write it back out.

Pure code: no Flask, no database. `parse_directory` collects every problem in the file
(with its line and field) and raises one `DirectoryError`; `dump_directory` writes text that
`parse_directory` reads back to an equal spec.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.common.languages import DEFAULT_LANGUAGE, TRANSLATED_LANGUAGES
from app.routing.engine import CHANNELS, CONDITION_KINDS, Conditions

__all__ = [
    "CHANNELS",
    "DAYS",
    "METRICS",
    "PRIORITIES",
    "UNITS",
    "AgencySpec",
    "CalendarSpec",
    "CategorySpec",
    "ClosureSpec",
    "ConditionsSpec",
    "DirectoryError",
    "DirectorySpec",
    "Problem",
    "QueueSpec",
    "RuleSpec",
    "StandardSpec",
    "Translations",
    "dump_directory",
    "load_demo_text",
    "parse_directory",
]

METRICS = ("acknowledge", "first_response", "resolve")
UNITS = ("business_hours", "business_days", "calendar_days")
PRIORITIES = ("low", "normal", "high", "urgent")
# The channels an intake can arrive on (a rule's `when.channels`).
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TARGET = {"business_hours": 2000, "business_days": 365, "calendar_days": 365}
TARGET_DECIMALS = 3  # the database keeps targets as NUMERIC(10, 3)
GOAL_DECIMALS = 2  # and goals as NUMERIC(5, 2)

_CALENDAR_CODE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_AGENCY_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]*\Z")
_ZIP_PREFIX = re.compile(r"[0-9]{1,5}\Z")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
_INTERVAL = re.compile(r"(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\Z")
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Scalars YAML would read as numbers, booleans or dates, which we keep as the text written
# where text is expected (`code: 311`, `holidays: NO`, `zip_prefixes: [021]`).
_RAW_TEXT_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("int", "float", "bool", "timestamp"))

_SECTION_KEYS = ("calendars", "agencies", "categories", "routing_rules")
_CALENDAR_KEYS = ("code", "name", "timezone", "hours", "holidays", "closures")
_CLOSURE_KEYS = ("date", "name")
_AGENCY_KEYS = (
    "code", "name", "calendar", "description", "website", "queues", "standards", "translations",
)  # fmt: skip
_QUEUE_KEYS = ("code", "name", "triage")
_STANDARD_REQUIRED = ("metric", "target", "unit", "goal", "wording")
_STANDARD_KEYS = (*_STANDARD_REQUIRED, "translations")
_CATEGORY_KEYS = (
    "code", "name", "description", "group", "agency", "queue", "keywords", "examples",
    "standards", "translations",
)  # fmt: skip
# Examples of complaints a category takes, for the routing model to learn from.
MAX_EXAMPLE_CHARS = 2000
MAX_EXAMPLES = 500
_RULE_KEYS = ("name", "when", "agency", "queue", "priority", "active", "after_model")
# What `translations` may give for each kind of entry: the public's words, with the limits
# of the English field (max length, multiline).
_AGENCY_WORDS = {"name": (200, False), "description": (4000, True)}
_CATEGORY_WORDS = {"name": (200, False), "description": (4000, True), "group": (100, False)}
_STANDARD_WORDS = {"wording": (300, False)}
_WORD_ORDER = ("name", "description", "group", "wording")
_WHEN_KEYS = CONDITION_KINDS


# --------------------------------------------------------------------------- the specs

# {"es": {"name": "...", "description": "..."}}: the public's words in the public site's
# other languages; read them with app.directory.localized (English when one is missing).
Translations = dict[str, dict[str, str]]


@dataclass(frozen=True)
class StandardSpec:
    """A posted service standard: e.g. resolve within 10 business_days for 90 % of cases."""

    metric: str
    target: float
    unit: str
    goal: float
    wording: str
    translations: Translations = field(default_factory=dict)


@dataclass(frozen=True)
class ClosureSpec:
    date: datetime.date
    name: str


@dataclass(frozen=True)
class CalendarSpec:
    """Business hours by weekday (canonical "HH:MM-HH:MM, HH:MM-HH:MM"; absent days closed)."""

    code: str
    name: str
    timezone: str
    hours: dict[str, str]
    holidays: str | None
    closures: tuple[ClosureSpec, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    code: str
    name: str
    triage: bool = False


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name: str
    calendar: str
    description: str | None
    website: str | None
    queues: tuple[QueueSpec, ...]
    standards: tuple[StandardSpec, ...] = ()
    translations: Translations = field(default_factory=dict)


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    description: str | None
    group: str | None
    agency: str
    queue: str | None
    keywords: tuple[str, ...] = ()
    standards: tuple[StandardSpec, ...] = ()
    translations: Translations = field(default_factory=dict)
    # Complaints in the public's own words that belong here (any language): training text
    # for the routing model, never matched literally.
    examples: tuple[str, ...] = ()


# A rule's `when` is the routing engine's own Conditions: one definition for both.
ConditionsSpec = Conditions


@dataclass(frozen=True)
class RuleSpec:
    name: str
    when: ConditionsSpec
    agency: str
    queue: str | None
    priority: str = "normal"
    active: bool = True
    after_model: bool = False  # with a routing model in use, tried only when it is unsure


@dataclass(frozen=True)
class DirectorySpec:
    calendars: tuple[CalendarSpec, ...] = ()
    agencies: tuple[AgencySpec, ...] = ()
    categories: tuple[CategorySpec, ...] = ()
    routing_rules: tuple[RuleSpec, ...] = ()

    @property
    def triage_queue(self) -> tuple[str, str] | None:
        """(agency code, queue code) of the triage queue."""
        for agency in self.agencies:
            for queue in agency.queues:
                if queue.triage:
                    return agency.code, queue.code
        return None


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (file, 1-based line, field path) and what."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DirectoryError(Exception):
    """The directory file has problems; nothing in it should be loaded."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


# --------------------------------------------------------------------------- hours


def _parse_day_hours(text: str) -> list[tuple[int, int]]:
    """Parse "09:00-17:00" or "08:00-12:00, 13:00-17:00" into sorted minute intervals.

    Raises ValueError with a message fit for an administrator.
    """
    intervals: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        match = _INTERVAL.match(part)
        if not match:
            raise ValueError(
                f"{part!r} is not a time range; write it like '09:00-17:00' "
                "(several ranges separated by commas)"
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{part!r} has a time that does not exist (use 00:00 to 24:00)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"{part!r} ends before it starts")
        intervals.append((start, end))
    intervals.sort()
    for (s1, e1), (s2, e2) in zip(intervals, intervals[1:], strict=False):
        if s2 < e1:
            raise ValueError(f"{_fmt_interval(s1, e1)} and {_fmt_interval(s2, e2)} overlap")
    return intervals


def _fmt_interval(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _canonical_hours(text: str) -> str:
    return ", ".join(_fmt_interval(s, e) for s, e in _parse_day_hours(text))


# --------------------------------------------------------------------------- reading


class _Bad:
    """A value that could not be read (the problem is already recorded)."""

    def __repr__(self) -> str:
        return "<bad>"


_BAD: Any = _Bad()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _normalize_number(value: int | float) -> int | float:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _decimals(value: int | float) -> int:
    if isinstance(value, int):
        return 0
    text = repr(value)
    if "e" in text or "E" in text:
        return 99
    return len(text.partition(".")[2].rstrip("0"))


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class _Reader:
    """Walks the composed YAML nodes, building specs and recording every problem."""

    def __init__(self, filename: str, loader: yaml.SafeLoader) -> None:
        self.file = filename
        self.loader = loader
        self.problems: list[Problem] = []

    # ---- recording

    def add(self, where: Node | int | None, path: str, message: str) -> None:
        line = where if where is None or isinstance(where, int) else _line(where)
        self.problems.append(Problem(self.file, line, path, message))

    # ---- structure

    def mapping(
        self,
        node: Node | None,
        path: str,
        keys: Sequence[str],
        required: Iterable[str] = (),
        what: str = "a mapping of key: value pairs",
        extensions: bool = False,
        unknown: str | None = None,
    ) -> dict[str, Node] | None:
        """The value nodes of a mapping's known keys; unknown and missing keys are problems.

        With `extensions`, keys starting with `x-` are ignored (a place for YAML anchors);
        `unknown` replaces the message for an unknown key.
        """
        if node is None:
            return None
        if not isinstance(node, MappingNode):
            self.add(node, path, f"must be {what}")
            return None
        # Duplicate keys are mistakes (YAML would keep the last silently); merge keys (`<<`)
        # may be overridden, so check the explicit keys before flattening the merges.
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.add(key_node, path, "keys must be plain words")
                continue
            if key in seen:
                self.add(key_node, _join(path, key), f"appears twice (first on line {seen[key]})")
            else:
                seen[key] = _line(key_node)
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.add(exc.problem_mark.line + 1 if exc.problem_mark else node, path, exc.problem)
            return None
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                found[key_node.value] = (key_node, value_node)
        result: dict[str, Node] = {}
        for key, (key_node, value_node) in found.items():
            if key in keys:
                result[key] = value_node
                continue
            if extensions and key.startswith("x-"):
                continue
            if unknown is not None:
                self.add(key_node, _join(path, key), unknown)
                continue
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(keys)}"
            self.add(key_node, _join(path, key), f"unknown key ({hint})")
        for key in required:
            if key not in result:
                self.add(node, _join(path, key), "is required")
        return result

    def sequence(self, node: Node | None, path: str, what: str = "a list") -> list[Node]:
        if node is None:
            return []
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, SequenceNode):
            self.add(node, path, f"must be {what}")
            return []
        return list(node.value)

    def value(self, node: ScalarNode, path: str) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self.add(node, path, f"cannot be read: {reason}")
            return _BAD

    # ---- scalars

    def text(
        self,
        node: Node | None,
        path: str,
        *,
        max_len: int = 200,
        multiline: bool = False,
        default: Any = None,
    ) -> Any:
        """A stripped, non-empty string, or `default` when absent, null or blank."""
        if node is None:
            return default
        if not isinstance(node, ScalarNode):
            self.add(node, path, "must be text, not a list or mapping")
            return _BAD
        if node.tag == _NULL_TAG:
            return default
        if node.tag in _RAW_TEXT_TAGS:
            raw: Any = node.value
        elif node.tag == _STR_TAG:
            raw = self.value(node, path)
        else:
            self.add(node, path, f"must be text (got a value tagged {node.tag})")
            return _BAD
        if raw is _BAD:
            return _BAD
        text = str(raw).strip()
        if not text:
            return default
        if not multiline and any(ch in _LINE_BREAKS for ch in text):
            self.add(node, path, "must fit on one line")
            return _BAD
        if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
            self.add(node, path, "contains a control character")
            return _BAD
        if len(text) > max_len:
            self.add(node, path, f"must be at most {max_len} characters (got {len(text)})")
            return _BAD
        return text

    def required_text(self, node: Node | None, path: str, **kw: Any) -> Any:
        value = self.text(node, path, **kw)
        if value is None:
            if node is not None:  # present but null or blank; absence is reported elsewhere
                self.add(node, path, "must not be empty")
            return _BAD
        return value

    def code(self, node: Node | None, path: str, pattern: re.Pattern[str], max_len: int) -> Any:
        value = self.required_text(node, path, max_len=max_len)
        if isinstance(value, str) and not pattern.match(value):
            if pattern is _AGENCY_CODE:
                rule = "capital letters, digits and hyphens, starting with a letter or digit"
            else:
                rule = "lowercase letters, digits and hyphens, starting with a letter or digit"
            self.add(node, path, f"must be {rule} (got {value!r})")
            return _BAD
        return value

    def choice(
        self, node: Node | None, path: str, choices: Sequence[str], default: Any = _BAD
    ) -> Any:
        value = self.text(node, path, default=None)
        if value is None:
            if node is not None and default is _BAD:
                self.add(node, path, f"must be one of {', '.join(choices)}")
            return default
        if value is _BAD:
            return _BAD
        if value not in choices:
            self.add(node, path, f"must be one of {', '.join(choices)} (got {value!r})")
            return _BAD
        return value

    def boolean(self, node: Node | None, path: str, default: bool) -> Any:
        if node is None:
            return default
        value = self.value(node, path) if isinstance(node, ScalarNode) else _BAD
        if value is None:
            return default
        if not isinstance(value, bool):
            shown = node.value if isinstance(node, ScalarNode) else "a list or mapping"
            self.add(node, path, f"must be true or false (got {_show(shown)})")
            return _BAD
        return value

    def number(self, node: Node | None, path: str) -> Any:
        if node is None:
            return _BAD
        value = self.value(node, path) if isinstance(node, ScalarNode) else _BAD
        if value is _BAD and not isinstance(node, ScalarNode):
            self.add(node, path, "must be a number")
            return _BAD
        if value is _BAD:
            return _BAD
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(node, path, f"must be a number (got {_show(node.value)})")
            return _BAD
        if not math.isfinite(value):
            self.add(node, path, f"must be a finite number (got {node.value})")
            return _BAD
        return _normalize_number(value)

    def words(
        self, node: Node | None, path: str, *, kind: str, max_len: int = 100
    ) -> list[tuple[Node, Any]]:
        """A list of non-empty one-line strings, as (item node, value) pairs."""
        items = self.sequence(node, path, what=f"a list of {kind}")
        out = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            value = self.text(item, p, max_len=max_len)
            if value is None:
                self.add(item, p, f"must not be empty (each entry is one of the {kind})")
                value = _BAD
            out.append((item, value))
        return out

    def translations(
        self, node: Node | None, path: str, allowed: dict[str, tuple[int, bool]]
    ) -> Any:
        """{language: {field: text}} for the public site's languages other than English.

        Each text follows the rules of the English field it translates (non-empty, same
        length limit, one line unless the field may have several).
        """
        if node is None or _empty(node):
            return {}
        words_example = f"{next(iter(allowed))}: ..."
        example = f"{TRANSLATED_LANGUAGES[0]}: {{{words_example}}}"
        languages = ", ".join(TRANSLATED_LANGUAGES)
        m = self.mapping(
            node,
            path,
            TRANSLATED_LANGUAGES,
            what=f"a mapping of language to translated words, like {example}",
            unknown=(
                f"is not a language of the public site; translate into {languages} "
                f"(the {DEFAULT_LANGUAGE} text is the entry's own)"
            ),
        )
        if m is None:
            return _BAD
        out: Translations = {}
        bad = False
        for lang in TRANSLATED_LANGUAGES:
            if lang not in m:
                continue
            lpath = _join(path, lang)
            words = self.mapping(
                m[lang], lpath, tuple(allowed), what=f"a mapping like {{{words_example}}}"
            )
            if words is None:
                bad = True
                continue
            if not words:
                self.add(m[lang], lpath, f"give at least one of {', '.join(allowed)}")
                bad = True
                continue
            texts: dict[str, str] = {}
            for key in allowed:  # canonical order: the English fields'
                if key not in words:
                    continue
                max_len, multiline = allowed[key]
                value = self.required_text(
                    words[key], _join(lpath, key), max_len=max_len, multiline=multiline
                )
                if value is _BAD:
                    bad = True
                else:
                    texts[key] = value
            out[lang] = texts
        return _BAD if bad else out

    # ---- the sections

    def directory(self, root: Node | None) -> DirectorySpec:
        if root is None:
            self.add(None, "", "the file is empty; a directory needs calendars and agencies")
            return DirectorySpec()
        top = self.mapping(
            root, "", _SECTION_KEYS, ("calendars", "agencies"),
            what="a mapping with calendars, agencies, categories and routing_rules",
            extensions=True,
        )  # fmt: skip
        if top is None:
            return DirectorySpec()
        self.calendar_codes: set[str] = set()
        self.agency_queues: dict[str, set[str]] = {}
        self.category_codes: set[str] = set()
        self.example_lines: dict[str, tuple[Any, int]] = {}
        self.triage: list[tuple[Node, str]] = []
        self.triage_unclear = False  # a triage flag that could not be read: don't pile on
        calendars = self.calendars(top.get("calendars"))
        agencies = self.agencies(top.get("agencies"))
        categories = self.categories(top.get("categories"))
        rules = self.rules(top.get("routing_rules"))
        agencies_listed = isinstance(top.get("agencies"), SequenceNode)
        if not self.triage and agencies_listed and not self.triage_unclear:
            keys = [k for k, _ in root.value if isinstance(k, ScalarNode) and k.value == "agencies"]
            self.add(
                keys[-1] if keys else None,
                "agencies",
                "no queue is marked `triage: true`; mark exactly one (complaints that no "
                "rule or category places land there)",
            )
        for node, label in self.triage[1:]:
            first_node, first_label = self.triage[0]
            self.add(
                node,
                label,
                f"only one queue may be the triage queue; {first_label} on line "
                f"{_line(first_node)} already is",
            )
        return DirectorySpec(calendars, agencies, categories, rules)

    def _unique(self, seen: dict[str, int], value: Any, node: Node, path: str, what: str) -> None:
        if not isinstance(value, str):
            return
        if value in seen:
            self.add(node, path, f"duplicate {what} {value!r} (first on line {seen[value]})")
        else:
            seen[value] = _line(node)

    def calendars(self, node: Node | None) -> tuple[CalendarSpec, ...]:
        items = self.sequence(node, "calendars", what="a list of calendars")
        if _empty(node):
            self.add(node, "calendars", "must list at least one calendar")
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(items):
            path = f"calendars[{i}]"
            m = self.mapping(item, path, _CALENDAR_KEYS, ("code", "name", "timezone", "hours"))
            if m is None:
                continue
            code = self.code(m.get("code"), _join(path, "code"), _CALENDAR_CODE, 40)
            if code is not _BAD:
                self._unique(seen, code, m["code"], _join(path, "code"), "calendar code")
                self.calendar_codes.add(code)
            name = self.required_text(m.get("name"), _join(path, "name"))
            timezone = self.timezone(m.get("timezone"), _join(path, "timezone"))
            hours = self.hours(m.get("hours"), _join(path, "hours"))
            holidays = self.holidays(m.get("holidays"), _join(path, "holidays"))
            closures = self.closures(m.get("closures"), _join(path, "closures"))
            out.append(CalendarSpec(code, name, timezone, hours, holidays, closures))
        return tuple(out)

    def timezone(self, node: Node | None, path: str) -> Any:
        value = self.required_text(node, path, max_len=64)
        if not isinstance(value, str):
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.add(
                node, path, f"is not a known IANA time zone like America/New_York (got {value!r})"
            )
            return _BAD
        return value

    def hours(self, node: Node | None, path: str) -> Any:
        m = self.mapping(
            node, path, DAYS, what="a mapping of weekday to hours, like {mon: 09:00-17:00}"
        )
        if m is None:
            return _BAD
        hours: dict[str, str] = {}
        bad = False
        for day in DAYS:
            if day not in m:
                continue
            dpath = _join(path, day)
            value = self.text(m[day], dpath)
            if value is None:
                self.add(m[day], dpath, "give hours like 09:00-17:00, or leave a closed day out")
                bad = True
            elif value is _BAD:
                bad = True
            else:
                try:
                    hours[day] = _canonical_hours(value)
                except ValueError as exc:
                    self.add(m[day], dpath, str(exc))
                    bad = True
        if not hours and not bad:
            self.add(node, path, "needs working hours on at least one day of the week")
        return _BAD if bad else hours

    def holidays(self, node: Node | None, path: str) -> Any:
        if node is None:
            return "US"  # US federal holidays unless the file says otherwise
        value = self.text(node, path, max_len=8)
        if value is None or value is _BAD:
            return value
        supported = _holiday_countries()
        if supported and value not in supported:
            self.add(
                node,
                path,
                f"must be a country code known to the holidays package, like US, or null "
                f"for none (got {value!r})",
            )
            return _BAD
        return value

    def closures(self, node: Node | None, path: str) -> tuple[ClosureSpec, ...]:
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(self.sequence(node, path, what="a list of closures")):
            p = f"{path}[{i}]"
            m = self.mapping(
                item,
                p,
                _CLOSURE_KEYS,
                _CLOSURE_KEYS,
                what="a mapping like {date: 2026-12-24, name: ...}",
            )
            if m is None:
                continue
            day = self.date(m.get("date"), _join(p, "date"))
            if isinstance(day, datetime.date):
                self._unique(seen, day.isoformat(), m["date"], _join(p, "date"), "closure date")
            name = self.required_text(m.get("name"), _join(p, "name"))
            out.append(ClosureSpec(day, name))
        if all(isinstance(c.date, datetime.date) for c in out):
            out.sort(key=lambda c: c.date)  # canonical order, as the database keeps them
        return tuple(out)

    def date(self, node: Node | None, path: str) -> Any:
        if node is None:
            return _BAD
        if not isinstance(node, ScalarNode):
            self.add(node, path, "must be a date like 2026-12-24")
            return _BAD
        value = self.value(node, path)
        if value is _BAD:
            return _BAD
        if isinstance(value, datetime.datetime):
            self.add(
                node, path, f"must be a date without a time, like 2026-12-24 (got {node.value})"
            )
            return _BAD
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.add(node, path, f"must be a date like 2026-12-24 (got {_show(node.value)})")
        return _BAD

    def agencies(self, node: Node | None) -> tuple[AgencySpec, ...]:
        items = self.sequence(node, "agencies", what="a list of agencies")
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(items):
            path = f"agencies[{i}]"
            m = self.mapping(item, path, _AGENCY_KEYS, ("code", "name", "calendar", "queues"))
            if m is None:
                continue
            code = self.code(m.get("code"), _join(path, "code"), _AGENCY_CODE, 20)
            if code is not _BAD:
                self._unique(seen, code, m["code"], _join(path, "code"), "agency code")
            name = self.required_text(m.get("name"), _join(path, "name"))
            calendar = self.reference(
                m.get("calendar"), _join(path, "calendar"), self.calendar_codes, "calendar"
            )
            description = self.text(
                m.get("description"), _join(path, "description"), max_len=4000, multiline=True
            )
            website = self.website(m.get("website"), _join(path, "website"))
            queues = self.queues(m.get("queues"), _join(path, "queues"), code)
            standards = self.standards(m.get("standards"), _join(path, "standards"))
            translations = self.translations(
                m.get("translations"), _join(path, "translations"), _AGENCY_WORDS
            )
            if isinstance(code, str):
                codes = {q.code for q in queues if isinstance(q.code, str)}
                self.agency_queues.setdefault(code, set()).update(codes)
            out.append(
                AgencySpec(
                    code, name, calendar, description, website, queues, standards, translations
                )
            )
        return tuple(out)

    def reference(self, node: Node | None, path: str, known: set[str], what: str) -> Any:
        value = self.required_text(node, path, max_len=60)
        if isinstance(value, str) and value not in known:
            self.add(node, path, f"unknown {what} {value!r}{_suggest(value, known)}")
            return value
        return value

    def queue_reference(self, node: Node | None, path: str, agency: Any) -> Any:
        value = self.text(node, path, max_len=40)
        if isinstance(value, str) and isinstance(agency, str) and agency in self.agency_queues:
            queues = self.agency_queues[agency]
            if value not in queues:
                self.add(
                    node, path, f"agency {agency} has no queue {value!r}{_suggest(value, queues)}"
                )
        return value

    def website(self, node: Node | None, path: str) -> Any:
        value = self.text(node, path, max_len=300)
        if isinstance(value, str):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
                self.add(
                    node, path, f"must be a web address starting with https:// (got {value!r})"
                )
                return _BAD
        return value

    def queues(self, node: Node | None, path: str, agency: Any) -> tuple[QueueSpec, ...]:
        items = self.sequence(node, path, what="a list of queues")
        if _empty(node):
            self.add(node, path, "must list at least one queue")
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            m = self.mapping(
                item,
                p,
                _QUEUE_KEYS,
                ("code", "name"),
                what="a mapping like {code: general, name: ...}",
            )
            if m is None:
                continue
            code = self.code(m.get("code"), _join(p, "code"), _CALENDAR_CODE, 40)
            if code is not _BAD:
                self._unique(seen, code, m["code"], _join(p, "code"), "queue code")
            name = self.required_text(m.get("name"), _join(p, "name"))
            triage = self.boolean(m.get("triage"), _join(p, "triage"), False)
            if triage is True:
                self.triage.append((m["triage"], _join(p, "triage")))
            elif triage is _BAD:
                self.triage_unclear = True
            out.append(QueueSpec(code, name, triage))
        return tuple(out)

    def standards(self, node: Node | None, path: str) -> tuple[StandardSpec, ...]:
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(self.sequence(node, path, what="a list of standards")):
            p = f"{path}[{i}]"
            m = self.mapping(item, p, _STANDARD_KEYS, _STANDARD_REQUIRED)
            if m is None:
                continue
            metric = self.choice(m.get("metric"), _join(p, "metric"), METRICS)
            if metric is not _BAD and metric is not None:
                if metric in seen:
                    self.add(
                        m["metric"],
                        _join(p, "metric"),
                        f"another {metric} standard is on line {seen[metric]}; "
                        "post one standard per metric",
                    )
                else:
                    seen[metric] = _line(m["metric"])
            unit = self.choice(m.get("unit"), _join(p, "unit"), UNITS)
            target = self.number(m.get("target"), _join(p, "target"))
            if target is not _BAD:
                tpath = _join(p, "target")
                if target <= 0:
                    self.add(m["target"], tpath, f"must be a positive number (got {target})")
                elif unit in MAX_TARGET and target > MAX_TARGET[unit]:
                    self.add(
                        m["target"],
                        tpath,
                        f"must be at most {MAX_TARGET[unit]} {unit} (got {target})",
                    )
                elif _decimals(target) > TARGET_DECIMALS:
                    self.add(
                        m["target"],
                        tpath,
                        f"has more than {TARGET_DECIMALS} decimals (got {target})",
                    )
            goal = self.number(m.get("goal"), _join(p, "goal"))
            if goal is not _BAD:
                gpath = _join(p, "goal")
                if not 1 <= goal <= 100:
                    self.add(m["goal"], gpath, f"must be a percentage from 1 to 100 (got {goal})")
                elif _decimals(goal) > GOAL_DECIMALS:
                    self.add(
                        m["goal"], gpath, f"has more than {GOAL_DECIMALS} decimals (got {goal})"
                    )
            wording = self.required_text(m.get("wording"), _join(p, "wording"), max_len=300)
            translations = self.translations(
                m.get("translations"), _join(p, "translations"), _STANDARD_WORDS
            )
            out.append(StandardSpec(metric, target, unit, goal, wording, translations))
        return tuple(out)

    def categories(self, node: Node | None) -> tuple[CategorySpec, ...]:
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(self.sequence(node, "categories", what="a list of categories")):
            path = f"categories[{i}]"
            m = self.mapping(item, path, _CATEGORY_KEYS, ("code", "name", "agency"))
            if m is None:
                continue
            code = self.code(m.get("code"), _join(path, "code"), _CALENDAR_CODE, 60)
            if code == "none":
                self.add(m["code"], _join(path, "code"), "'none' is reserved for \"no category\"")
            elif code is not _BAD:
                self._unique(seen, code, m["code"], _join(path, "code"), "category code")
                self.category_codes.add(code)
            name = self.required_text(m.get("name"), _join(path, "name"))
            description = self.text(
                m.get("description"), _join(path, "description"), max_len=4000, multiline=True
            )
            group = self.text(m.get("group"), _join(path, "group"), max_len=100)
            agency = self.reference(
                m.get("agency"), _join(path, "agency"), set(self.agency_queues), "agency"
            )
            queue = self.queue_reference(m.get("queue"), _join(path, "queue"), agency)
            kw = self.words(m.get("keywords"), _join(path, "keywords"), kind="keywords")
            keywords = tuple(v for _, v in kw)
            examples = self.examples(m.get("examples"), _join(path, "examples"), code)
            standards = self.standards(m.get("standards"), _join(path, "standards"))
            translations = self.translations(
                m.get("translations"), _join(path, "translations"), _CATEGORY_WORDS
            )
            out.append(
                CategorySpec(
                    code,
                    name,
                    description,
                    group,
                    agency,
                    queue,
                    keywords,
                    standards,
                    translations,
                    examples,
                )
            )
        return tuple(out)

    def examples(self, node: Node | None, path: str, category: Any) -> tuple[str, ...]:
        """Example complaints: non-empty text, each listed once in the whole directory (the
        same words under two categories would teach the model both answers)."""
        items = self.sequence(node, path, what="a list of example complaints")
        if len(items) > MAX_EXAMPLES:
            self.add(node, path, f"at most {MAX_EXAMPLES} examples per category (got {len(items)})")
        out = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            value = self.text(item, p, max_len=MAX_EXAMPLE_CHARS, multiline=True)
            if value is None:
                self.add(item, p, "must not be empty (each entry is one example complaint)")
                continue
            if value is _BAD:
                continue
            key = " ".join(value.casefold().split())
            first = self.example_lines.get(key)
            if first is not None:
                where, line = first
                also = "" if where == category else f" (under category {where})"
                self.add(item, p, f"the same example is already on line {line}{also}")
                continue
            self.example_lines[key] = (category, _line(item))
            out.append(value)
        return tuple(out)

    def rules(self, node: Node | None) -> tuple[RuleSpec, ...]:
        out = []
        for i, item in enumerate(self.sequence(node, "routing_rules", what="a list of rules")):
            path = f"routing_rules[{i}]"
            m = self.mapping(item, path, _RULE_KEYS, ("name", "agency"))
            if m is None:
                continue
            name = self.required_text(m.get("name"), _join(path, "name"))
            when = self.conditions(m.get("when"), _join(path, "when"))
            agency = self.reference(
                m.get("agency"), _join(path, "agency"), set(self.agency_queues), "agency"
            )
            queue = self.queue_reference(m.get("queue"), _join(path, "queue"), agency)
            priority = self.choice(
                m.get("priority"), _join(path, "priority"), PRIORITIES, default="normal"
            )
            active = self.boolean(m.get("active"), _join(path, "active"), True)
            after_model = self.boolean(m.get("after_model"), _join(path, "after_model"), False)
            out.append(RuleSpec(name, when, agency, queue, priority, active, after_model))
        return tuple(out)

    def conditions(self, node: Node | None, path: str) -> Any:
        if node is None or _empty(node):
            return ConditionsSpec()  # no conditions: the rule takes every complaint reaching it
        m = self.mapping(
            node, path, _WHEN_KEYS, what="a mapping of conditions, like keywords: [...]"
        )
        if m is None:
            return _BAD
        values: dict[str, tuple[Any, ...]] = {}
        items_by_key: dict[str, list[tuple[Node, Any]]] = {}
        for key in _WHEN_KEYS:
            kpath = _join(path, key)
            items = self.words(m.get(key), kpath, kind=key.replace("_", " "))
            for j, (item, value) in enumerate(items):
                if isinstance(value, str):
                    self.check_condition(key, item, f"{kpath}[{j}]", value)
            values[key] = tuple(v for _, v in items)
            items_by_key[key] = items
        excluded = {_fold_term(v) for v in values["exclude"] if isinstance(v, str)}
        for key in ("keywords", "phrases"):
            kpath = _join(path, key)
            for j, (item, value) in enumerate(items_by_key[key]):
                if isinstance(value, str) and _fold_term(value) in excluded:
                    self.add(
                        item, f"{kpath}[{j}]", f"{value!r} is also excluded, so it never matches"
                    )
        return ConditionsSpec(**values)

    def check_condition(self, key: str, node: Node, path: str, value: str) -> None:
        if key == "categories" and value not in self.category_codes and value != "none":
            self.add(
                node, path, f"unknown category {value!r}{_suggest(value, self.category_codes)}"
            )
        elif key == "channels" and value not in CHANNELS:
            self.add(node, path, f"must be one of {', '.join(CHANNELS)} (got {value!r})")
        elif key in ("keywords", "phrases", "exclude"):
            problem = _term_problem(value)
            if problem:
                self.add(node, path, problem)
        elif key == "zip_prefixes" and not _ZIP_PREFIX.match(value):
            self.add(node, path, f"must be 1 to 5 digits, quoted, like '021' (got {value!r})")
        elif key == "languages" and not _LANGUAGE.match(value):
            self.add(node, path, f"must be a language code like en or es (got {value!r})")


def _fold_term(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def _term_problem(value: str) -> str | None:
    """Why a keyword, phrase or exclusion cannot match as written (None when it is fine).

    Terms match whole words, ignoring case; a trailing * also accepts plurals (landlord*
    matches landlords), so it must follow a letter or digit and appear nowhere else.
    """
    term = " ".join(value.split())
    stem = term.rstrip("*")
    if "*" in stem:
        return f"* may only end a term, as in landlord* (got {value!r})"
    if not any(_word_char(ch) for ch in stem):
        return f"needs at least one letter or digit (got {value!r})"
    if stem != term and not _word_char(stem[-1]):
        return f"* must follow a letter or digit, as in landlord* (got {value!r})"
    return None


def _empty(node: Node | None) -> bool:
    """An empty list, or a key given with no value."""
    if isinstance(node, SequenceNode):
        return not node.value
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_HOLIDAY_COUNTRIES: frozenset[str] | None = None


def _holiday_countries() -> frozenset[str]:
    """Country codes the `holidays` package knows (empty if it is not installed)."""
    global _HOLIDAY_COUNTRIES
    if _HOLIDAY_COUNTRIES is None:
        try:
            import holidays
        except ImportError:  # pragma: no cover - a dependency, but keep parsing pure
            _HOLIDAY_COUNTRIES = frozenset()
        else:
            _HOLIDAY_COUNTRIES = frozenset(holidays.list_supported_countries())
    return _HOLIDAY_COUNTRIES


# --------------------------------------------------------------------------- the API


def parse_directory(text: str, filename: str = "<directory>") -> DirectorySpec:
    """Parse and validate a directory file; raise DirectoryError listing every problem."""
    loader: yaml.SafeLoader | None = None
    try:
        try:
            loader = yaml.SafeLoader(text)
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise DirectoryError([_syntax_problem(exc, filename)]) from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1 if isinstance(text, str) else None
            reason = f"{exc.reason} (character #x{exc.character:04x})"
            raise DirectoryError(
                [Problem(filename, line, "", f"cannot be read: {reason}")]
            ) from None
        reader = _Reader(filename, loader)
        spec = reader.directory(root)
    finally:
        if loader is not None:
            loader.dispose()
    if reader.problems:
        ordered = sorted(reader.problems, key=lambda p: (p.line is None, p.line or 0))
        raise DirectoryError(_dedupe(ordered))
    return spec


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


def _syntax_problem(exc: yaml.MarkedYAMLError, filename: str) -> Problem:
    # "while scanning a simple key ... could not find expected ':'" is about the line where
    # the key started (the context); otherwise the problem's own mark is the place to look.
    mark = exc.problem_mark
    if exc.context_mark is not None and (mark is None or "simple key" in (exc.context or "")):
        mark = exc.context_mark
    message = exc.problem or exc.context or "cannot be parsed"
    if exc.context and exc.problem:
        if exc.problem.startswith("but "):
            message = f"{exc.context}, {exc.problem}"
        else:
            message = f"{exc.problem} ({exc.context})"
    return Problem(filename, mark.line + 1 if mark else None, "", f"YAML syntax error: {message}")


_FLOW_WIDTH = 96  # longer flow lists and mappings are written one item per line


class _FlowMap(dict):
    """A mapping written on one line: {code: general, name: General complaints}."""


class _FlowList(list):
    """A list written on one line: [landlord*, evict*]."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar(_STR_TAG, data, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(
    _FlowMap,
    lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", list(data.items()), True),
)
_Dumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def _short(items: Iterable[Any]) -> bool:
    return sum(len(str(x)) + 4 for x in items) <= _FLOW_WIDTH


def _flow_list(items: Sequence[str]) -> list[str]:
    """One line when it fits, else one item per line."""
    return _FlowList(items) if _short(items) else list(items)


def _optional(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != () and value != [] and value != {}:
        out[key] = value


def _translations_data(translations: Translations) -> dict[str, Any]:
    """Languages in the site's order; each one line when it fits, else one field a line."""
    out: dict[str, Any] = {}
    for lang in sorted(translations, key=_language_order):
        words = {k: translations[lang][k] for k in _WORD_ORDER if k in translations[lang]}
        words |= translations[lang]  # any other key last (the parser reports it)
        one_line = not any("\n" in v for v in words.values())
        fits = one_line and sum(len(k) + len(v) + 4 for k, v in words.items()) <= _FLOW_WIDTH
        out[lang] = _FlowMap(words) if fits else dict(words)
    return out


def _language_order(lang: str) -> tuple[int, str]:
    known = TRANSLATED_LANGUAGES
    return (known.index(lang) if lang in known else len(known), lang)


def _standards_data(standards: Sequence[StandardSpec]) -> list[dict[str, Any]]:
    out = []
    for s in standards:
        item: dict[str, Any] = {
            "metric": s.metric,
            "target": _normalize_number(s.target),
            "unit": s.unit,
            "goal": _normalize_number(s.goal),
            "wording": s.wording,
        }
        _optional(item, "translations", _translations_data(s.translations))
        out.append(item)
    return out


def _hours_data(hours: dict[str, str]) -> dict[str, str]:
    days = [(day, hours[day]) for day in DAYS if day in hours]
    if sum(len(d) + len(h) + 6 for d, h in days) <= 100:
        return _FlowMap(days)
    return dict(days)


def _calendar_data(c: CalendarSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": c.code,
        "name": c.name,
        "timezone": c.timezone,
        "hours": _hours_data(c.hours),
        "holidays": c.holidays,
    }
    _optional(out, "closures", [_FlowMap(date=x.date, name=x.name) for x in c.closures])
    return out


def _agency_data(a: AgencySpec) -> dict[str, Any]:
    out: dict[str, Any] = {"code": a.code, "name": a.name, "calendar": a.calendar}
    _optional(out, "description", a.description)
    _optional(out, "website", a.website)
    queues = []
    for q in a.queues:
        queue = _FlowMap(code=q.code, name=q.name)
        if q.triage:
            queue["triage"] = True
        queues.append(queue)
    out["queues"] = queues
    _optional(out, "standards", _standards_data(a.standards))
    _optional(out, "translations", _translations_data(a.translations))
    return out


def _category_data(c: CategorySpec) -> dict[str, Any]:
    out: dict[str, Any] = {"code": c.code, "name": c.name}
    _optional(out, "description", c.description)
    _optional(out, "group", c.group)
    out["agency"] = c.agency
    _optional(out, "queue", c.queue)
    _optional(out, "keywords", _flow_list(c.keywords))
    _optional(out, "examples", list(c.examples))
    _optional(out, "standards", _standards_data(c.standards))
    _optional(out, "translations", _translations_data(c.translations))
    return out


def _rule_data(r: RuleSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": r.name,
        "when": {key: _flow_list(values) for key, values in r.when.as_dict().items()},
        "agency": r.agency,
    }
    _optional(out, "queue", r.queue)
    out["priority"] = r.priority
    out["active"] = r.active
    if r.after_model:
        out["after_model"] = True
    return out


_HEADER = """\
# Redress directory: business calendars, agencies (with queues and posted service
# standards), categories and routing rules. Load it with `redress directory load FILE`;
# the format is described in docs/directory-format.md.
"""


def dump_directory(spec: DirectorySpec) -> str:
    """The directory as YAML in the file format; `parse_directory` reads it back unchanged."""
    sections = [
        ("calendars", [_calendar_data(c) for c in spec.calendars]),
        ("agencies", [_agency_data(a) for a in spec.agencies]),
        ("categories", [_category_data(c) for c in spec.categories]),
        ("routing_rules", [_rule_data(r) for r in spec.routing_rules]),
    ]
    parts = [_HEADER]
    for key, items in sections:
        if not items and key in ("categories", "routing_rules"):
            continue
        parts.append(
            yaml.dump(
                {key: items},
                Dumper=_Dumper,
                sort_keys=False,
                allow_unicode=True,
                default_flow_style=False,
                width=10_000,  # never fold a value across lines
            )
        )
    return "\n".join(parts)


def load_demo_text() -> str:
    """The demo directory shipped with the package (demo_directory.yaml)."""
    return (Path(__file__).parent / "demo_directory.yaml").read_text(encoding="utf-8")
