"""Pure routing engine: decide which agency, queue and priority owns a complaint, and say why."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Protocol

PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("web", "api", "email", "sms", "mail", "phone", "open311")


@dataclass(frozen=True)
class RoutingInput:
    text: str
    category: str | None = None
    channel: str | None = None
    zip: str | None = None
    language: str | None = None


# In a rule's `categories`, this code stands for "the complaint names no category": topic-word
# rules use it so that a category the customer chose is never overridden by a passing word.
NO_CATEGORY = "none"


@dataclass(frozen=True)
class Conditions:
    categories: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    zip_prefixes: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        """The non-empty conditions, in their fixed order (how rules are stored and exported)."""
        return {k: list(getattr(self, k)) for k in CONDITION_KINDS if getattr(self, k)}


CONDITION_KINDS = tuple(f.name for f in fields(Conditions))


@dataclass(frozen=True)
class Rule:
    id: int | None
    name: str
    position: int
    conditions: Conditions
    agency: str
    queue: str | None = None
    priority: str = "normal"
    active: bool = True
    # With a routing model in use, tried only after it (when it is not sure): a topic-word
    # rule the model does better than, kept for when there is no model.
    after_model: bool = False


@dataclass(frozen=True)
class Target:
    agency: str
    queue: str | None
    priority: str = "normal"


@dataclass(frozen=True)
class Suggestion:
    """One agency the routing model proposes, with how sure it is (0 to 1)."""

    agency: str
    probability: float
    category: str | None = None
    queue: str | None = None


@dataclass(frozen=True)
class Prediction:
    """The routing model's view of one complaint: agencies best first, and the words that
    weighed most for the first."""

    version: int | None
    suggestions: tuple[Suggestion, ...]
    words: tuple[str, ...]

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


class Model(Protocol):
    """What the Router needs of a routing model (app.routing.classifier.Classifier)."""

    version: int | None

    def predict(self, text: str) -> Prediction: ...


@dataclass(frozen=True)
class Decision:
    agency: str
    queue: str | None
    priority: str
    source: str  # rule, category, model or triage
    rule_id: int | None
    rule_name: str | None
    matched: tuple[str, ...]
    explanation: str
    # The model's view, when it was asked: its suggestions (the routed one first) and words.
    prediction: Prediction | None = None


# --- Text folding and tokenising -------------------------------------------------------------
#
# Text and terms go through the same folding (NFKC, casefold, NFC, curly apostrophes made
# straight), so "ATM"/"atm", composed/decomposed "niño" and "landlord’s"/"landlord's" compare
# equal. Then both are split into words: runs of word characters and combining marks (so Hindi
# and Arabic words are not cut at their vowel signs), joined by inner apostrophes ("landlord's").
# Matching compares words, never substrings, which is what keeps "rent" out of "parent"; it is
# also fast, because most terms are settled by one set lookup. Scripts written without spaces
# (Chinese, Japanese, Thai, ...) have no word boundaries to respect, so each of their characters
# is made a word of its own and terms in them match anywhere.

_NO_SPACE = re.compile(
    r"[\u0e00-\u0eff"  # Thai, Lao
    r"\u1000-\u109f"  # Myanmar
    r"\u1780-\u17ff"  # Khmer
    r"\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u31f0-\u31ff"  # CJK, kana
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)
_ASCII_WORDS = re.compile(r"([a-z0-9_]+(?:'[a-z0-9_]+)*)")
_SPACES = re.compile(r"\s+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).casefold())
    text = text.replace("\u2019", "'").replace("\u02bc", "'")  # str.translate is 50x slower
    return text if text.isascii() else _NO_SPACE.sub(r" \g<0> ", text)


@cache
def _unicode_words() -> re.Pattern[str]:
    """Built on the first non-ASCII text rather than at import: listing the marks takes ~20 ms.

    Only marks in the Basic Multilingual Plane (nearly every living script's) are listed: one
    outside it would make re fall back from a bitmap to a range-by-range test, 3x slower.
    """
    everything = "".join(map(chr, range(0x10000)))
    candidates = re.sub(r"[\w\ud800-\udfff\ue000-\uf8ff]", "", everything)
    marks = [ord(ch) for ch in candidates if unicodedata.category(ch)[0] == "M"]
    ranges: list[list[int]] = [[0x200C, 0x200D]]  # ZWNJ/ZWJ sit inside Persian and Indic words
    for cp in marks:
        if ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    word = "[\\w" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges) + "]"
    return re.compile(f"({word}+(?:'{word}+)*)")


def _split(folded: str) -> list[str]:
    """[separator, word, separator, word, ..., separator]: always an odd number of parts."""
    return (_ASCII_WORDS if folded.isascii() else _unicode_words()).split(folded)


class _Text:
    """A complaint's text, folded and split into words once per routing."""

    __slots__ = ("text", "parts", "words", "_at")

    def __init__(self, raw: str) -> None:
        self.text = _fold(raw)
        self.parts = _split(self.text)
        self.words = frozenset(self.parts[1::2])
        self._at: dict[str, list[int]] | None = None

    def at(self, word: str) -> list[int]:
        """Where a word occurs (indexes into parts); only phrases need this, so it is lazy."""
        if self._at is None:
            self._at = {}
        spots = self._at.get(word)
        if spots is None:
            # Separators never equal a word, so list.index (a C loop) finds only words.
            spots, parts, i = [], self.parts, 0
            with suppress(ValueError):
                while True:
                    i = parts.index(word, i + 1)
                    spots.append(i)
            self._at[word] = spots
        return spots


def _parse_term(raw: str) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """(folded, stem without the wildcard, words, separators around and between the words)."""
    folded = _SPACES.sub(" ", _fold(raw)).strip()
    stem = folded.rstrip("*").rstrip()
    parts = _split(stem)
    return folded, stem, tuple(parts[1::2]), tuple(parts[0::2])


@dataclass(frozen=True, slots=True)
class _Term:
    """A keyword or phrase, parsed once per Router."""

    label: str  # as the rule author wrote it, for explanations
    words: tuple[str, ...]
    seps: tuple[str, ...]  # before the first word, between words (whitespace collapsed), after
    last: frozenset[str]  # accepted forms of the last word: itself, or with a wildcard its plurals

    @classmethod
    def compile(cls, raw: str) -> _Term | None:
        folded, stem, words, seps = _parse_term(raw)
        if not stem:
            return None
        if not words:  # punctuation only; validate_conditions flags it, match it literally
            return cls(raw.strip(), (), (stem,), frozenset())
        # The plural wildcard only means something straight after a letter or digit.
        wildcard = stem != folded and seps[-1] == ""
        end = words[-1]
        last = frozenset((end, end + "s", end + "'s")) if wildcard else frozenset((end,))
        return cls(raw.strip(), words, seps, last)

    def find(self, text: _Text) -> str | None:
        """The form of the last word that matched, or None when the term is not in the text."""
        words, seps = self.words, self.seps
        if not words:
            return seps[0] if seps[0] in _SPACES.sub(" ", text.text) else None
        present = text.words
        if self.last.isdisjoint(present) or not all(w in present for w in words[:-1]):
            return None
        n = len(words)
        if n == 1 and seps == ("", ""):
            return min(self.last & present)
        parts = text.parts
        starts = text.at(words[0]) if n > 1 else [i for f in self.last for i in text.at(f)]
        for i in starts:
            end = i + 2 * (n - 1)
            if end >= len(parts) or parts[end] not in self.last:
                continue
            if any(parts[i + 2 * k] != words[k] for k in range(1, n - 1)):
                continue
            if any(_SPACES.sub(" ", parts[i + 2 * k + 1]) != seps[k + 1] for k in range(n - 1)):
                continue
            if not _SPACES.sub(" ", parts[i - 1]).endswith(seps[0]):
                continue
            if _SPACES.sub(" ", parts[end + 1]).startswith(seps[-1]):
                return parts[end]
        return None

    def reason(self, kind: str, found: str) -> str:
        said = f"{kind} {_quote(self.label)}"
        if not self.words or found == self.words[-1]:
            return said
        shown = "".join(s + w for s, w in zip(self.seps, (*self.words[:-1], found), strict=False))
        return f"{said} (as {_quote(shown + self.seps[-1])})"


# --- Small helpers -------------------------------------------------------------------------------


def _quote(value: str, limit: int = 60) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return f"'{value}'"


def _show(value: str, limit: int = 60) -> str:
    return _quote(value, limit)[1:-1]


def _as_text(value: object) -> str | None:
    """Callers sometimes pass ints (ZIPs from JSON) or None; never let that raise."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _values(raw: object) -> tuple[str, ...]:
    """A condition's values; a bare string is one value, not a sequence of letters."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(v if isinstance(v, str) else str(v) for v in raw)


def _code(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value).casefold().strip() if value else ""


def _language(value: str | None) -> str:
    return _code(value).replace("_", "-")


def _list(values: Iterable[str], limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(_quote(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


_ZIP = re.compile(r"([0-9]{5})(?:[-\s]*[0-9]{4,5})?(?:\.0+)?")


def normalize_zip(raw: str | None) -> str | None:
    """A 5-digit US ZIP, or None when the value cannot be trusted (a guessed ZIP misroutes)."""
    text = _as_text(raw)
    if not text:
        return None
    m = _ZIP.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if m is None or m.group(1) == "00000":
        return None
    return m.group(1)


# --- Validation ----------------------------------------------------------------------------------

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.ASCII)


def validate_conditions(c: Conditions, *, priority: str | None = None) -> list[str]:
    """Problems a person should fix before a rule is loaded; an empty list means it is fine.

    The Router itself tolerates these (a rule with only bad values simply never matches), so a
    bad row cannot stop intake; this is where they get caught and reported instead.
    """
    problems: list[str] = []
    for kind in (
        "categories",
        "channels",
        "keywords",
        "phrases",
        "exclude",
        "zip_prefixes",
        "languages",
    ):
        raw = getattr(c, kind, ())
        if isinstance(raw, str):
            problems.append(f"{kind}: must be a list of values, not the single string {raw!r}")
            raw = (raw,)
        for value in raw or ():
            if not isinstance(value, str):
                problems.append(f"{kind}: {value!r} is not text")
                continue
            v = value.strip()
            if not v:
                problems.append(f"{kind}: empty value")
            elif kind in ("keywords", "phrases", "exclude"):
                folded, stem, words, seps = _parse_term(v)
                if "*" in stem:
                    problems.append(
                        f"{kind}: {value!r} has '*' inside it; only a trailing * "
                        "(plural wildcard) is supported"
                    )
                elif not words:
                    problems.append(f"{kind}: {value!r} has no letters or digits")
                elif stem != folded and seps[-1]:
                    problems.append(f"{kind}: {value!r}: '*' must follow a letter or digit")
            elif kind == "zip_prefixes" and not (v.isascii() and v.isdigit() and len(v) <= 5):
                problems.append(f"zip_prefixes: {value!r} must be 1-5 digits")
            elif kind == "channels" and v.lower() not in CHANNELS:
                problems.append(
                    f"channels: {value!r} is not a known channel ({', '.join(CHANNELS)})"
                )
            elif kind == "languages" and not _LANGUAGE.fullmatch(_language(v)):
                problems.append(f"languages: {value!r} is not a language code like 'es' or 'es-MX'")
    excluded = {" ".join(_fold(v).split()) for v in _values(c.exclude) if isinstance(v, str)}
    for kind in ("keywords", "phrases"):
        for value in _values(getattr(c, kind, ())):
            if " ".join(_fold(value).split()) in excluded:
                problems.append(f"{kind}: {value!r} is also excluded, so it can never route")
    if priority is not None and priority not in PRIORITIES:
        problems.append(f"priority: {priority!r} is not one of {', '.join(PRIORITIES)}")
    return problems


# --- The router ----------------------------------------------------------------------------------

_CATCH_ALL = ("no conditions, so it takes every complaint that reaches it",)


@dataclass(frozen=True, slots=True)
class _Terms:
    """One rule's keywords, phrases or exclusions, split so most checks are one set operation."""

    terms: tuple[_Term, ...]  # all of them in the author's order, for explanations
    words: frozenset[str]  # accepted forms of the plain single-word terms
    ids: frozenset[int]  # the other terms, by their index in the Router's term table


class _TermTable:
    """Phrases (and odd terms) of all rules, each looked for at most once per complaint."""

    def __init__(self) -> None:
        self.terms: list[_Term] = []
        self._ids: dict[tuple, int] = {}
        self._anchors: dict[str, list[int]] = {}
        self._always: list[int] = []  # punctuation-only terms have no word to anchor on

    def add(self, term: _Term) -> int:
        key = (term.words, term.seps, term.last)
        if key not in self._ids:
            self._ids[key] = tid = len(self.terms)
            self.terms.append(term)
            if not term.words:
                self._always.append(tid)
            # A term can only match where its first word (or its single word's form) occurs.
            for anchor in term.last if len(term.words) == 1 else term.words[:1]:
                self._anchors.setdefault(anchor, []).append(tid)
        return self._ids[key]

    def group(self, raw: object) -> _Terms | None:
        values = _values(raw)
        if not values:
            return None  # not checked; a list of blanks instead gives a group that never matches
        terms = tuple(t for v in values if (t := _Term.compile(v)) is not None)
        words: set[str] = set()
        ids: set[int] = set()
        for t in terms:
            if len(t.words) == 1 and t.seps == ("", ""):  # a plain word: a set lookup decides
                words.update(t.last)
            else:
                ids.add(self.add(t))
        return _Terms(terms, frozenset(words), frozenset(ids))

    def found(self, text: _Text) -> frozenset[int]:
        candidates = set(self._always)
        for word in text.words & self._anchors.keys():
            candidates.update(self._anchors[word])
        return frozenset(tid for tid in candidates if self.terms[tid].find(text))


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule with its conditions pre-folded; None means "not checked"."""

    rule: Rule
    categories: frozenset[str] | None
    channels: frozenset[str] | None
    languages: frozenset[str] | None
    zip_prefixes: tuple[str, ...] | None
    keywords: _Terms | None
    phrases: _Terms | None
    exclude: _Terms | None
    catch_all: bool


def _codes(raw: object, fold: Callable[[str], str] = _code) -> tuple[str, ...] | None:
    values = _values(raw)
    if not values:
        return None
    return tuple(dict.fromkeys(f for v in values if (f := fold(v))))


def _compile(rule: Rule, table: _TermTable) -> _Compiled:
    c = rule.conditions
    cats, chans, langs = _codes(c.categories), _codes(c.channels), _codes(c.languages, _language)
    zips = _codes(c.zip_prefixes, str.strip)
    keywords, phrases = table.group(c.keywords), table.group(c.phrases)
    exclude = table.group(c.exclude)
    if exclude is not None and not exclude.terms:
        exclude = None  # blank exclusions veto nothing
    return _Compiled(
        rule=rule,
        categories=None if cats is None else frozenset(cats),
        channels=None if chans is None else frozenset(chans),
        languages=None if langs is None else frozenset(langs),
        zip_prefixes=zips,
        keywords=keywords,
        phrases=phrases,
        exclude=exclude,
        catch_all=all(x is None for x in (cats, chans, langs, zips, keywords, phrases, exclude)),
    )


class _Item:
    """The fields of one RoutingInput, cleaned once; the text is only split if a rule asks."""

    __slots__ = (
        "category",
        "category_raw",
        "channel",
        "language",
        "languages",
        "zip",
        "zip_raw",
        "_raw",
        "_table",
        "_text",
        "_found",
    )

    def __init__(self, item: RoutingInput, table: _TermTable) -> None:
        self.category_raw = (_as_text(item.category) or "").strip()
        self.category = _code(self.category_raw)
        self.channel = _code(_as_text(item.channel))
        self.language = _language(_as_text(item.language))
        # "es-mx" satisfies rules for "es" and for "es-mx".
        subtags = self.language.split("-")
        self.languages = {"-".join(subtags[:n]) for n in range(1, len(subtags) + 1)} - {""}
        self.zip_raw = _as_text(item.zip)
        self.zip = normalize_zip(self.zip_raw) or ""
        self._raw = _as_text(item.text) or ""
        self._table = table
        self._text: _Text | None = None
        self._found: frozenset[int] | None = None

    @property
    def raw(self) -> str:
        return self._raw

    @property
    def text(self) -> _Text:
        if self._text is None:
            self._text = _Text(self._raw)
        return self._text

    @property
    def found(self) -> frozenset[int]:
        if self._found is None:
            self._found = self._table.found(self.text)
        return self._found

    def has(self, group: _Terms) -> bool:
        if not group.words.isdisjoint(self.text.words):
            return True
        return bool(group.ids) and not group.ids.isdisjoint(self.found)


def _holds(r: _Compiled, item: _Item) -> bool:
    """The fast yes/no used by route(); _why() must reach the same answer (a test checks)."""
    if r.catch_all:
        return True
    if r.categories is not None and (item.category or NO_CATEGORY) not in r.categories:
        return False
    if r.channels is not None and item.channel not in r.channels:
        return False
    if r.languages is not None and r.languages.isdisjoint(item.languages):
        return False
    if r.zip_prefixes is not None and not item.zip.startswith(r.zip_prefixes):
        return False
    if r.keywords is not None and not item.has(r.keywords):
        return False
    if r.phrases is not None and not item.has(r.phrases):
        return False
    return r.exclude is None or not item.has(r.exclude)


def _why(r: _Compiled, item: _Item) -> tuple[bool, tuple[str, ...]]:
    """Whether every condition holds, with the reasons, or else the first failing condition."""
    if r.catch_all:
        return True, _CATCH_ALL
    reasons: list[str] = []
    for kind, wanted, got in (
        ("category", r.categories, item.category),
        ("channel", r.channels, item.channel),
    ):
        if wanted is None:
            continue
        if (got or (NO_CATEGORY if kind == "category" else "")) not in wanted:
            need = " or ".join(sorted(wanted)) or "a value, but its list is blank"
            has = f"{kind} is {_show(got)}" if got else f"no {kind} given"
            return False, (f"{has}, rule needs {need}",)
        reasons.append(f"{kind} is {_show(got)}" if got else f"no {kind} given")
    if r.languages is not None:
        lang = item.language
        if r.languages.isdisjoint(item.languages):
            need = " or ".join(sorted(r.languages)) or "a value, but its list is blank"
            has = f"language is {_show(lang)}" if lang else "no language given"
            return False, (f"{has}, rule needs {need}",)
        reasons.append(f"language is {_show(lang)}")
    if r.zip_prefixes is not None:
        z = item.zip
        hit = next((p for p in r.zip_prefixes if z.startswith(p)), None) if z else None
        if hit is None:
            need = " or ".join(r.zip_prefixes) or "(blank list)"
            if z:
                return False, (f"ZIP {z} does not start with {need}",)
            has = f"{_quote(item.zip_raw)} is not a usable ZIP" if item.zip_raw else "no ZIP given"
            return False, (f"{has}, rule needs a ZIP starting with {need}",)
        reasons.append(f"ZIP {z} starts with {hit}")
    for kind, group in (("keyword", r.keywords), ("phrase", r.phrases)):
        if group is None:
            continue
        hits = [t.reason(kind, found) for t in group.terms if (found := t.find(item.text))]
        if not hits:
            if not group.terms:
                return False, (f"the rule's {kind}s are all blank, so it cannot match",)
            return False, (f"no {kind} found (looked for {_list(t.label for t in group.terms)})",)
        reasons.extend(hits)
    for term in r.exclude.terms if r.exclude is not None else ():
        found = term.find(item.text)
        if found:
            return False, (f"excluded {term.reason('word', found)} is present",)
    return True, tuple(reasons) or ("none of its excluded words is present",)


def _check_target(where: str, agency: object, priority: object) -> None:
    if priority not in PRIORITIES:
        raise ValueError(
            f"{where}: unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}"
        )
    if not isinstance(agency, str) or not agency.strip():
        raise ValueError(f"{where}: no agency, so complaints routed there would be dropped")


def _routed(agency: str, queue: str | None, priority: str) -> str:
    where = f"{agency}, queue {queue}" if queue else agency
    return f"Routed to {where}, priority {priority}."


def _percent(p: float) -> str:
    return f"{p:.0%}" if p < 0.995 else ">99%"


class Router:
    """Ordered rules, then the category's default owner, then the routing model when it is
    sure, then triage (with the model's suggestions): nothing is ever dropped."""

    def __init__(
        self,
        rules: Iterable[Rule],
        category_defaults: Mapping[str, Target],
        triage: Target,
        *,
        model: Model | None = None,
        threshold: float = 1.0,
        agency_targets: Mapping[str, Target] | None = None,
    ) -> None:
        """`model` answers for complaints with no category that no rule placed; it routes
        when its best agency is at least `threshold` sure. `agency_targets` are the agencies
        it may route to (with the queue an agency-level answer goes to); others are ignored."""
        rules = list(rules)
        for rule in rules:
            _check_target(f"rule {rule.name!r}", rule.agency, rule.priority)
        for code, target in category_defaults.items():
            _check_target(f"category {code!r} default", target.agency, target.priority)
        _check_target("triage", triage.agency, triage.priority)
        ordered = sorted((r for r in rules if r.active), key=lambda r: (r.position, r.name))
        self._table = _TermTable()
        compiled = tuple(_compile(r, self._table) for r in ordered)
        self._model = model
        self._threshold = threshold
        # With a model, rules marked after_model wait until it has had its say.
        self._rules = tuple(c for c in compiled if not (model and c.rule.after_model))
        self._later = tuple(c for c in compiled if model and c.rule.after_model)
        self._defaults = {_code(k): t for k, t in category_defaults.items()}
        self._triage = triage
        self._agencies = dict(agency_targets) if agency_targets is not None else None

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The active rules, in the order they are tried."""
        return tuple(c.rule for c in (*self._rules, *self._later))

    @property
    def model(self) -> Model | None:
        return self._model

    @property
    def threshold(self) -> float:
        return self._threshold

    def route(self, item: RoutingInput) -> Decision:
        """Decide the owner of one complaint; never raises on odd input, never drops it."""
        cleaned = _Item(item, self._table)
        for compiled in self._rules:
            if _holds(compiled, cleaned):
                return self._by_rule(compiled.rule, _why(compiled, cleaned)[1])
        default = self._defaults.get(cleaned.category) if cleaned.category else None
        if default is not None:
            shown = _show(cleaned.category_raw)
            return Decision(
                agency=default.agency,
                queue=default.queue,
                priority=default.priority,
                source="category",
                rule_id=None,
                rule_name=None,
                matched=(f"category is {_show(cleaned.category)}",),
                explanation=(
                    f"No routing rule matched, so category {shown} went to its default owner. "
                    + _routed(default.agency, default.queue, default.priority)
                ),
            )
        prediction = None
        if self._model is not None and not cleaned.category:
            prediction = self.predict(cleaned.raw)
            top = prediction.top
            if top is not None and top.probability >= self._threshold:
                return self._by_model(prediction, top)
        for compiled in self._later:
            if _holds(compiled, cleaned):
                decision = self._by_rule(compiled.rule, _why(compiled, cleaned)[1])
                if prediction is None:
                    return decision
                unsure = self._unsure(prediction)
                return replace(
                    decision, prediction=prediction, explanation=f"{unsure} {decision.explanation}"
                )
        return self._to_triage(cleaned, prediction)

    def predict(self, text: str) -> Prediction | None:
        """The model's suggestions for a text, limited to agencies in the directory and with
        the queue each would go to; None without a model. A failing model is no model."""
        if self._model is None:
            return None
        try:
            raw = self._model.predict(text)
        except Exception:  # noqa: BLE001 - a broken model must not stop intake
            return None
        kept = []
        for s in raw.suggestions:
            target = self._agency_target(s.agency)
            if target is None:
                continue
            queue = target.queue
            category = s.category
            default = self._defaults.get(_code(category)) if category else None
            if default is not None and default.agency == s.agency:
                queue = default.queue or queue
            else:
                category = None
            kept.append(Suggestion(s.agency, s.probability, category, queue))
        return Prediction(raw.version, tuple(kept), raw.words)

    def _agency_target(self, agency: str) -> Target | None:
        if self._agencies is None:
            return Target(agency, None)
        return self._agencies.get(agency)

    def _model_name(self, prediction: Prediction) -> str:
        v = prediction.version
        return "the routing model" + (f" (version {v})" if v is not None else "")

    def _by_model(self, prediction: Prediction, top: Suggestion) -> Decision:
        words = ", ".join(_quote(w, 40) for w in prediction.words) or "its features"
        what = f" (category {_quote(top.category)})" if top.category else ""
        matched = (
            f"model {prediction.version}: {top.agency} {_percent(top.probability)}",
            *(f"word {_quote(w, 40)}" for w in prediction.words),
        )
        explanation = (
            f"No routing rule matched and no category was given; {self._model_name(prediction)} "
            f"is {_percent(top.probability)} sure this is for {top.agency}{what} "
            f"(threshold {_percent(self._threshold)}), from the words {words}. "
            + _routed(top.agency, top.queue, "normal")
        )
        return Decision(
            agency=top.agency,
            queue=top.queue,
            priority="normal",
            source="model",
            rule_id=None,
            rule_name=None,
            matched=matched,
            explanation=explanation,
            prediction=prediction,
        )

    def _unsure(self, prediction: Prediction) -> str:
        top = prediction.top
        if top is None:
            return f"{self._model_name(prediction).capitalize()} found nothing to go on."
        return (
            f"{self._model_name(prediction).capitalize()} was not sure enough (best guess "
            f"{top.agency} at {_percent(top.probability)}, below the "
            f"{_percent(self._threshold)} threshold)."
        )

    def _to_triage(self, cleaned: _Item, prediction: Prediction | None) -> Decision:
        t = self._triage
        if cleaned.category:
            why = (
                f"No routing rule matched and category {_quote(cleaned.category_raw)} has no "
                "default owner"
            )
        else:
            why = "No routing rule matched and no category was given"
        said = ""
        if prediction is not None:
            said = " " + self._unsure(prediction)
            if prediction.suggestions:
                shown = ", ".join(
                    f"{s.agency} {_percent(s.probability)}" for s in prediction.suggestions
                )
                said += f" Suggestions: {shown}."
        return Decision(
            agency=t.agency,
            queue=t.queue,
            priority=t.priority,
            source="triage",
            rule_id=None,
            rule_name=None,
            matched=(),
            explanation=(
                f"{why}; sent to triage for a person to route.{said} "
                + _routed(t.agency, t.queue, t.priority)
            ),
            prediction=prediction,
        )

    def explain(self, item: RoutingInput) -> list[tuple[Rule, bool, tuple[str, ...]]]:
        """Every active rule in order, whether it matched, and why or why not (for dry runs).

        Rules after the first match are evaluated too, so a dry run shows shadowed rules.
        """
        cleaned = _Item(item, self._table)
        return [(c.rule, *_why(c, cleaned)) for c in (*self._rules, *self._later)]

    @staticmethod
    def _by_rule(rule: Rule, reasons: tuple[str, ...]) -> Decision:
        head = f"Rule {_quote(rule.name, 100)}" + (f" (#{rule.id})" if rule.id is not None else "")
        if reasons == _CATCH_ALL:
            said = f"{head} matched: it has {_CATCH_ALL[0]}."
        else:
            shown = ", ".join(reasons[:6])
            more = f" and {len(reasons) - 6} more" if len(reasons) > 6 else ""
            said = f"{head} matched: {shown}{more}."
        return Decision(
            agency=rule.agency,
            queue=rule.queue,
            priority=rule.priority,
            source="rule",
            rule_id=rule.id,
            rule_name=rule.name,
            matched=reasons,
            explanation=f"{said} {_routed(rule.agency, rule.queue, rule.priority)}",
        )
