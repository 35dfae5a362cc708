"""Business-calendar arithmetic for SLA clocks: working hours, holidays, closures and DST."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNITS = ("business_hours", "business_days", "calendar_days")

# A calendar with hours but no open day in this many consecutive days is treated as broken,
# so a run of closures makes due-time arithmetic fail loudly instead of looping forever.
MAX_CLOSED_RUN_DAYS = 3 * 366

Interval = tuple[time, time]
WeeklyHours = dict[int, tuple[Interval, ...]]
Span = tuple[datetime, datetime]

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# An interval ending at 00:00 ends at midnight after the day: that is how "24:00" is stored.
_END_OF_DAY = time(0)
# Day fractions this close to a whole number are whole: absorbs float and microsecond rounding.
_EPS = 1e-9
_FULL_DAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
_RANGE_RE = re.compile(rf"^{_CLOCK}\s*[-\u2013]\s*{_CLOCK}$")


# --- weekly hours -------------------------------------------------------------------------


def _day_index(name: str) -> int:
    key = name.strip().lower()
    if key in WEEKDAYS:
        return WEEKDAYS.index(key)
    if key in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(key)
    raise ValueError(f"unknown day {name!r}: expected one of {', '.join(WEEKDAYS)}")


def _clock_seconds(t: time, *, end: bool = False) -> float:
    if end and t == _END_OF_DAY:
        return 86400.0
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _format_clock(t: time, *, end: bool = False) -> str:
    if end and t == _END_OF_DAY:
        return "24:00"
    text = f"{t.hour:02d}:{t.minute:02d}"
    return f"{text}:{t.second:02d}" if t.second else text


def _format_range(start: time, end: time) -> str:
    return f"{_format_clock(start)}-{_format_clock(end, end=True)}"


def _normalize_day(label: str, intervals: Iterable[Sequence[time]]) -> tuple[Interval, ...]:
    """Sort one day's intervals and reject empty, reversed or overlapping ones."""
    spans = []
    for item in intervals:
        if len(item) != 2 or not all(isinstance(t, time) for t in item):
            raise ValueError(f"{label}: {item!r} is not a (start, end) pair of times")
        start, end = item
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{label}: opening hours are local wall-clock times, not aware times")
        lo, hi = _clock_seconds(start), _clock_seconds(end, end=True)
        if hi <= lo:
            raise ValueError(f"{label}: {_format_range(start, end)!r} ends before it starts")
        spans.append((lo, hi, start, end))
    spans.sort()
    for before, after in zip(spans, spans[1:], strict=False):
        if after[0] < before[1]:
            raise ValueError(
                f"{label}: {_format_range(before[2], before[3])!r} and "
                f"{_format_range(after[2], after[3])!r} overlap"
            )
    return tuple((start, end) for _, _, start, end in spans)


def _normalize_hours(hours: Mapping[int | str, Iterable[Sequence[time]]]) -> WeeklyHours:
    result: WeeklyHours = {index: () for index in range(7)}
    for key, intervals in hours.items():
        if isinstance(key, str):
            index = _day_index(key)
        elif isinstance(key, int) and 0 <= key <= 6:
            index = key
        else:
            raise ValueError(f"unknown weekday {key!r}: expected 0 (Monday) to 6 (Sunday)")
        result[index] = _normalize_day(WEEKDAYS[index], intervals or ())
    return result


def _parse_clock(match: re.Match[str], first: int, label: str, part: str, *, end: bool) -> time:
    hour, minute, second = (int(match.group(first + i) or 0) for i in range(3))
    if end and (hour, minute, second) == (24, 0, 0):
        return _END_OF_DAY
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{label}: {part!r} has an impossible time of day")
    return time(hour, minute, second)


def _parse_day(label: str, value: str | None) -> tuple[Interval, ...]:
    if value is None:
        return ()
    if not isinstance(value, str):
        raise ValueError(f"{label}: expected a string like '09:00-17:00', got {value!r}")
    text = value.strip()
    if not text or text.lower() == "closed":
        return ()
    intervals = []
    for raw in text.split(","):
        part = raw.strip()
        match = _RANGE_RE.match(part)
        if match is None:
            raise ValueError(
                f"{label}: {part!r} in {value!r} is not a time range like '09:00-17:00'"
            )
        start = _parse_clock(match, 1, label, part, end=False)
        end = _parse_clock(match, 4, label, part, end=True)
        intervals.append((start, end))
    return _normalize_day(label, intervals)


def parse_weekly_hours(spec: Mapping[str, str | None]) -> WeeklyHours:
    """Parse stored opening hours ({"mon": "09:00-17:00, ..."}) into validated intervals.

    Every weekday 0 (Monday) .. 6 (Sunday) is in the result; closed days map to (). A day
    missing from `spec`, None, "" or "closed" is closed. An end of "24:00" is stored as
    time(0), meaning midnight at the end of the day.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"weekly hours must be a mapping of day to hours, got {spec!r}")
    result: WeeklyHours = {index: () for index in range(7)}
    seen: dict[int, str] = {}
    for key, value in spec.items():
        if not isinstance(key, str):
            raise ValueError(f"unknown day {key!r}: expected one of {', '.join(WEEKDAYS)}")
        index = _day_index(key)
        label = WEEKDAYS[index]
        if index in seen:
            raise ValueError(f"{label}: given twice (as {seen[index]!r} and {key!r})")
        seen[index] = key
        result[index] = _parse_day(label, value)
    if not any(result.values()):
        raise ValueError("weekly hours have no working time: at least one day must be open")
    return result


def format_weekly_hours(hours: Mapping[int, Sequence[Interval]]) -> dict[str, str]:
    """The stored form of weekly hours (the inverse of parse_weekly_hours); closed days omitted."""
    normalized = _normalize_hours(hours)
    return {
        WEEKDAYS[index]: ", ".join(_format_range(start, end) for start, end in intervals)
        for index, intervals in normalized.items()
        if intervals
    }


# --- the calendar -------------------------------------------------------------------------


def _load_zone(name: str | ZoneInfo) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _normalize_closures(
    closures: Iterable[date | str] | Mapping[date | str, str],
) -> dict[date, str]:
    names = closures if isinstance(closures, Mapping) else dict.fromkeys(closures)
    result: dict[date, str] = {}
    for raw, name in names.items():
        if isinstance(raw, datetime):
            day = raw.date()
        elif isinstance(raw, date):
            day = raw
        elif isinstance(raw, str):
            try:
                day = date.fromisoformat(raw.strip())
            except ValueError as exc:
                raise ValueError(f"closure {raw!r} is not a date (YYYY-MM-DD)") from exc
        else:
            raise ValueError(f"closure {raw!r} is not a date")
        result[day] = str(name) if name else "Office closed"
    return result


def _utc(t: datetime, what: str = "time") -> datetime:
    """All arithmetic takes aware datetimes: a naive one has no defined instant."""
    if not isinstance(t, datetime):
        raise ValueError(f"{what} must be a timezone-aware datetime, got {t!r}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {t!r}")
    return t.astimezone(UTC)


def _amount(value: float, what: str) -> float:
    amount = float(value)
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return amount


def _check_closed_run(first_closed: date, current: date) -> None:
    """Stop a search that has seen only closed days for too long instead of looping forever."""
    if (current - first_closed).days >= MAX_CLOSED_RUN_DAYS:
        raise ValueError(
            f"no working time in the {MAX_CLOSED_RUN_DAYS} days from {first_closed}: "
            "check the calendar's hours, holidays and closures"
        )


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unknown SLA unit {unit!r}: expected one of {', '.join(UNITS)}")
    return unit


class BusinessCalendar:
    """Working time in one time zone: weekly hours minus public holidays and closures.

    Local opening hours are turned into UTC instants per local date, so DST days simply have
    shorter or longer intervals; all counting then happens on real (UTC) time.
    """

    timezone: ZoneInfo

    def __init__(
        self,
        timezone: str,
        hours: Mapping[int, Sequence[tuple[time, time]]],
        holiday_country: str | None = "US",
        holiday_subdivision: str | None = None,
        closures: Iterable[date | str] = (),
    ) -> None:
        self.timezone = _load_zone(timezone)
        self.hours = _normalize_hours(hours)
        holiday_country = (holiday_country or "").strip() or None  # "" from a form means none
        if not any(self.hours.values()):
            raise ValueError("weekly hours have no working time: at least one day must be open")
        if holiday_country is None and holiday_subdivision:
            raise ValueError("a holiday subdivision needs a holiday country")
        if holiday_country is not None:
            try:
                holidays_lib.country_holidays(holiday_country, subdiv=holiday_subdivision)
            except (NotImplementedError, KeyError, ValueError) as exc:
                raise ValueError(
                    f"unknown holiday country/subdivision {holiday_country!r}/"
                    f"{holiday_subdivision!r}"
                ) from exc
        self.holiday_country = holiday_country
        self.holiday_subdivision = holiday_subdivision
        self.closures: dict[date, str] = _normalize_closures(closures)
        self._holiday_years: dict[int, dict[date, str]] = {}
        self._spans: dict[date, tuple[Span, ...]] = {}

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar({self.timezone.key!r}, {format_weekly_hours(self.hours)!r}, "
            f"holiday_country={self.holiday_country!r}, closures={len(self.closures)})"
        )

    # -- days ------------------------------------------------------------------------------

    def _holidays(self, year: int) -> dict[date, str]:
        """Public holidays of one year, computed once (the holidays package is slow)."""
        found = self._holiday_years.get(year)
        if found is None:
            found = {}
            if self.holiday_country is not None:
                table = holidays_lib.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision, years=year
                )
                found = {day: name for day, name in table.items() if day.year == year}
            self._holiday_years[year] = found
        return found

    def _as_date(self, d: date) -> date:
        if isinstance(d, datetime):
            return _utc(d, "day").astimezone(self.timezone).date()
        return d

    def holiday_name(self, d: date) -> str | None:
        """Why the office is shut on this local date (holiday or closure), or None."""
        d = self._as_date(d)
        names = [n for n in (self._holidays(d.year).get(d), self.closures.get(d)) if n]
        return "; ".join(names) if names else None

    def _wall_to_utc(self, naive: datetime) -> datetime:
        """The first instant whose local wall time is >= `naive`.

        Monotonic in `naive`, so intervals never invert: an ambiguous (fall-back) time maps to
        its first occurrence and a skipped (spring-forward) time to the transition itself.
        """
        utc = naive.replace(tzinfo=self.timezone).astimezone(UTC)
        if utc.astimezone(self.timezone).replace(tzinfo=None) == naive:
            return utc
        lo = math.floor(naive.replace(tzinfo=self.timezone, fold=1).timestamp())
        hi = math.ceil(utc.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, self.timezone).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def _day_spans(self, d: date) -> tuple[Span, ...]:
        """This local date's working intervals as UTC instants (cached); () when closed."""
        spans = self._spans.get(d)
        if spans is None:
            found = []
            weekly = self.hours[d.weekday()]
            if weekly and self.holiday_name(d) is None:
                for start, end in weekly:
                    lo = self._wall_to_utc(datetime.combine(d, start))
                    end_day = d + _DAY if end == _END_OF_DAY else d
                    hi = self._wall_to_utc(datetime.combine(end_day, end))
                    if hi > lo:  # an interval inside a DST gap has no real time in it
                        found.append((lo, hi))
            spans = tuple(found)
            if len(self._spans) > 50_000:
                self._spans.clear()
            self._spans[d] = spans
        return spans

    def _local_date(self, u: datetime) -> date:
        return u.astimezone(self.timezone).date()

    def is_working_day(self, d: date) -> bool:
        """Whether this local date has any working time (not closed, not a holiday)."""
        return bool(self._day_spans(self._as_date(d)))

    def working_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """The date's working intervals as aware local datetimes; [] when closed."""
        return [
            (lo.astimezone(self.timezone), hi.astimezone(self.timezone))
            for lo, hi in self._day_spans(self._as_date(d))
        ]

    def _spans_from(self, u: datetime) -> Iterator[tuple[date, datetime, datetime]]:
        """Working intervals (with their local date) that end at or after `u`, in order."""
        d = self._local_date(u) - _DAY
        closed_since = d
        while True:
            spans = self._day_spans(d)
            if spans:
                closed_since = d + _DAY
                for lo, hi in spans:
                    if hi >= u:
                        yield d, lo, hi
            else:
                _check_closed_run(closed_since, d)
            d += _DAY

    def _days_between(self, a: datetime, b: datetime) -> Iterator[tuple[date, tuple[Span, ...]]]:
        """Working dates whose intervals may overlap [a, b]."""
        d, last = self._local_date(a) - _DAY, self._local_date(b) + _DAY
        while d <= last:
            spans = self._day_spans(d)
            if spans:
                yield d, spans
            d += _DAY

    def _advance(self, d: date, n: int) -> date:
        """The n-th working day after working day `d` (d itself for n == 0)."""
        closed_since = d + _DAY
        while n > 0:
            d += _DAY
            if self._day_spans(d):
                n -= 1
                closed_since = d + _DAY
            else:
                _check_closed_run(closed_since, d)
        return d

    # -- instants ----------------------------------------------------------------------------

    def is_working_time(self, t: datetime) -> bool:
        """Whether `t` is inside working hours; intervals are closed, so closing time counts."""
        u = _utc(t)
        d = self._local_date(u)
        return any(
            lo <= u <= hi for day in (d - _DAY, d, d + _DAY) for lo, hi in self._day_spans(day)
        )

    def next_working_time(self, t: datetime) -> datetime:
        """`t` if it is working time, else the next opening: where a clock starts counting."""
        u = _utc(t)
        _, lo, _ = next(self._spans_from(u))
        return max(lo, u)

    # -- business hours --------------------------------------------------------------------

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of working time after `start`; a target that uses up an
        interval exactly ends at its closing time rather than the next opening."""
        u = _utc(start, "start")
        remaining = timedelta(seconds=_amount(seconds, "seconds"))
        for _, lo, hi in self._spans_from(u):
            lo = max(lo, u)
            if remaining <= hi - lo:
                return lo + remaining
            remaining -= hi - lo
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds in [a, b]; 0 if b <= a."""
        ua, ub = _utc(a, "a"), _utc(b, "b")
        if ub <= ua:
            return 0.0
        total = _ZERO
        for _, spans in self._days_between(ua, ub):
            for lo, hi in spans:
                total += max(_ZERO, min(hi, ub) - max(lo, ua))
        return total.total_seconds()

    # -- business days ---------------------------------------------------------------------

    def _day_fraction(self, d: date, u: datetime) -> float:
        """How far through working day `d` the instant `u` is, by working seconds (0..1)."""
        spans = self._day_spans(d)
        done = sum((max(_ZERO, min(hi, u) - lo) for lo, hi in spans), _ZERO)
        return done / sum((hi - lo for lo, hi in spans), _ZERO)

    def _position(self, w: datetime) -> tuple[date, float]:
        """The working day holding working instant `w`, and the fraction of it done."""
        d = self._local_date(w)
        for day in (d - _DAY, d, d + _DAY):
            spans = self._day_spans(day)
            if spans and spans[0][0] <= w <= spans[-1][1]:
                return day, self._day_fraction(day, w)
        raise ValueError(f"{w} is not in working time")  # pragma: no cover

    def _point_in_day(self, d: date, fraction: float) -> datetime:
        """The instant `fraction` of the way through working day `d`, by working seconds."""
        spans = self._day_spans(d)
        total = sum((hi - lo for lo, hi in spans), _ZERO)
        remaining = timedelta(seconds=fraction * total.total_seconds())
        for lo, hi in spans:
            if remaining <= hi - lo:
                return lo + remaining
            remaining -= hi - lo
        return spans[-1][1]

    def add_business_days(self, start: datetime, days: float) -> datetime:
        """Move `days` working days on, keeping the fraction of the day.

        A start outside working time counts from the next opening. Whole-day results are
        the previous working day's closing time, so 1 day from Saturday is Monday's close.
        """
        w = self.next_working_time(_utc(start, "start"))
        amount = _amount(days, "days")
        if amount == 0:
            return w
        day, fraction = self._position(w)
        target = fraction + amount
        whole = math.floor(target)
        part = target - whole
        if part < _EPS:
            part = 0.0
        elif part > 1 - _EPS:
            whole, part = whole + 1, 0.0
        if part == 0.0:
            if whole < 1:  # a vanishing amount from an opening time
                return w
            due = self._day_spans(self._advance(day, whole - 1))[-1][1]
        else:
            due = self._point_in_day(self._advance(day, whole), part)
        # A position on a break (e.g. lunch) maps to the break's start; never go back before w.
        return max(due, w)

    def business_days_between(self, a: datetime, b: datetime) -> float:
        """Working days (fractional, by working seconds per day) in [a, b]; 0 if b <= a."""
        ua, ub = _utc(a, "a"), _utc(b, "b")
        if ub <= ua:
            return 0.0
        total = 0.0
        for _, spans in self._days_between(ua, ub):
            day_total = sum((hi - lo for lo, hi in spans), _ZERO)
            done = sum((max(_ZERO, min(hi, ub) - max(lo, ua)) for lo, hi in spans), _ZERO)
            if done == day_total:
                total += 1.0
            elif done:
                total += done / day_total
        return total

    # -- calendar days ---------------------------------------------------------------------

    def add_calendar_days(self, start: datetime, days: float) -> datetime:
        """Same local wall-clock time `days` later (10:00 stays 10:00 across DST); a
        fractional part is added as real seconds."""
        u = _utc(start, "start")
        amount = _amount(days, "days")
        whole = math.floor(amount)
        if whole:
            local = u.astimezone(self.timezone)
            naive = local.replace(tzinfo=None) + timedelta(days=whole)
            moved = naive.replace(tzinfo=self.timezone, fold=local.fold)
            if moved.astimezone(UTC).astimezone(self.timezone).replace(tzinfo=None) != naive:
                # Skipped by spring-forward: fold=0 lands the gap's length later (02:30 -> 03:30).
                moved = naive.replace(tzinfo=self.timezone, fold=0)
            u = moved.astimezone(UTC)
        return u + timedelta(seconds=(amount - whole) * 86400)

    # -- SLA units -------------------------------------------------------------------------

    def due(self, start: datetime, target: float, unit: str) -> datetime:
        """When a clock started at `start` with `target` in `unit` falls due (UTC)."""
        _check_unit(unit)
        if unit == "business_hours":
            return self.add_business_seconds(start, _amount(target, "target") * 3600)
        if unit == "business_days":
            return self.add_business_days(start, target)
        return self.add_calendar_days(start, target)

    def elapsed(self, a: datetime, b: datetime, unit: str) -> float:
        """Time counted between a and b in the unit's measure: business seconds, business days,
        or real seconds; comparable with allowed()."""
        _check_unit(unit)
        if unit == "business_hours":
            return self.business_seconds_between(a, b)
        if unit == "business_days":
            return self.business_days_between(a, b)
        return max(0.0, (_utc(b, "b") - _utc(a, "a")).total_seconds())

    def allowed(self, target: float, unit: str) -> float:
        """The target in elapsed()'s measure, so progress is elapsed / allowed."""
        _check_unit(unit)
        amount = _amount(target, "target")
        if unit == "business_hours":
            return amount * 3600
        if unit == "business_days":
            return amount
        return amount * 86400

    def extend(self, due_at: datetime, amount: float, unit: str) -> datetime:
        """Move a due time later by `amount` in elapsed()'s measure (paused time added back)."""
        _check_unit(unit)
        u = _utc(due_at, "due_at")
        amount = _amount(amount, "amount")
        if amount == 0:
            return u
        if unit == "business_hours":
            return self.add_business_seconds(u, amount)
        if unit == "business_days":
            return self.add_business_days(u, amount)
        return u + timedelta(seconds=amount)
