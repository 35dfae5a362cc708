"""Business-calendar arithmetic behind SLA due times: hours, holidays, closures, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sla.calendar import (
    UNITS,
    WEEKDAYS,
    BusinessCalendar,
    format_weekly_hours,
    parse_weekly_hours,
)

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
HONOLULU = ZoneInfo("Pacific/Honolulu")
LONDON = ZoneInfo("Europe/London")

WEEKDAYS_9_TO_5 = {day: "09:00-17:00" for day in WEEKDAYS[:5]}

NY_OFFICE = BusinessCalendar(
    "America/New_York", parse_weekly_hours(WEEKDAYS_9_TO_5), closures=[date(2026, 1, 27)]
)
LA_SPLIT = BusinessCalendar(
    "America/Los_Angeles",
    parse_weekly_hours(
        {**{day: "08:00-12:00, 13:00-17:00" for day in WEEKDAYS[:5]}, "sat": "10:00-14:00"}
    ),
    holiday_subdivision="CA",
)
HONOLULU_OFFICE = BusinessCalendar(
    "Pacific/Honolulu", parse_weekly_hours({day: "07:45-16:30" for day in WEEKDAYS[:5]})
)
LONDON_OFFICE = BusinessCalendar(
    "Europe/London",
    parse_weekly_hours({day: "09:00-17:30" for day in WEEKDAYS[:5]}),
    holiday_country="GB",
)
# Open round the clock except short breaks placed on the DST gap and the repeated hour.
NY_NIGHT_DESK = BusinessCalendar(
    "America/New_York",
    parse_weekly_hours({day: "00:00-01:30, 01:45-02:30, 02:45-24:00" for day in WEEKDAYS}),
    holiday_country=None,
)
NY_ALWAYS_OPEN = BusinessCalendar(
    "America/New_York",
    parse_weekly_hours({day: "00:00-24:00" for day in WEEKDAYS}),
    holiday_country=None,
)
CALENDARS = [NY_OFFICE, LA_SPLIT, HONOLULU_OFFICE, LONDON_OFFICE, NY_NIGHT_DESK]


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def local(t: datetime, zone: ZoneInfo = NY) -> datetime:
    return t.astimezone(zone)


# --- business days ------------------------------------------------------------------------


def test_one_business_day_from_wednesday_morning_skips_thanksgiving():
    due = NY_OFFICE.due(at(NY, 2026, 11, 25, 10), 1, "business_days")
    assert local(due) == at(NY, 2026, 11, 27, 10)
    assert due.tzinfo is UTC


def test_received_wednesday_after_closing_is_due_friday_at_close_in_thanksgiving_week():
    due = NY_OFFICE.due(at(NY, 2026, 11, 25, 18), 1, "business_days")
    assert local(due) == at(NY, 2026, 11, 27, 17)


def test_received_after_closing_in_an_ordinary_week_is_due_next_day_at_close():
    due = NY_OFFICE.due(at(NY, 2026, 11, 18, 18), 1, "business_days")
    assert local(due) == at(NY, 2026, 11, 19, 17)


def test_one_business_day_from_saturday_is_monday_at_close():
    due = NY_OFFICE.due(at(NY, 2026, 11, 21, 11), 1, "business_days")
    assert local(due) == at(NY, 2026, 11, 23, 17)


def test_business_days_keep_the_time_of_day():
    due = NY_OFFICE.add_business_days(at(NY, 2026, 11, 16, 14, 30), 3)
    assert local(due) == at(NY, 2026, 11, 19, 14, 30)


def test_half_a_business_day_from_opening_is_midday():
    assert local(NY_OFFICE.add_business_days(at(NY, 2026, 11, 16, 9), 0.5)) == at(
        NY, 2026, 11, 16, 13
    )
    # From 15:00 (fraction 0.75), half a day carries into the next morning.
    assert local(NY_OFFICE.add_business_days(at(NY, 2026, 11, 16, 15), 0.5)) == at(
        NY, 2026, 11, 17, 11
    )


def test_business_days_between_counts_fractional_working_days():
    wed, fri = at(NY, 2026, 11, 25, 10), at(NY, 2026, 11, 27, 10)
    assert NY_OFFICE.business_days_between(wed, fri) == pytest.approx(1.0)
    assert NY_OFFICE.business_days_between(at(NY, 2026, 11, 16, 9), at(NY, 2026, 11, 16, 13)) == (
        pytest.approx(0.5)
    )
    # The weekend adds nothing: Friday close to Monday open is no time at all.
    assert NY_OFFICE.business_days_between(at(NY, 2026, 11, 20, 17), at(NY, 2026, 11, 23, 9)) == 0
    assert NY_OFFICE.business_days_between(fri, wed) == 0


# --- business hours -----------------------------------------------------------------------


def test_business_hours_skip_the_weekend():
    due = NY_OFFICE.due(at(NY, 2026, 11, 20, 15), 4, "business_hours")
    assert local(due) == at(NY, 2026, 11, 23, 11)
    assert NY_OFFICE.elapsed(at(NY, 2026, 11, 20, 15), due, "business_hours") == 4 * 3600


def test_target_ending_exactly_at_closing_time_is_due_at_closing_not_next_opening():
    due = NY_OFFICE.due(at(NY, 2026, 11, 16, 9), 8, "business_hours")
    assert local(due) == at(NY, 2026, 11, 16, 17)


def test_received_outside_hours_starts_counting_at_the_next_opening():
    assert local(NY_OFFICE.due(at(NY, 2026, 11, 21, 3), 2, "business_hours")) == at(
        NY, 2026, 11, 23, 11
    )
    assert local(NY_OFFICE.add_business_seconds(at(NY, 2026, 11, 16, 18), 0)) == at(
        NY, 2026, 11, 17, 9
    )


def test_closing_instant_counts_as_working_time():
    assert NY_OFFICE.is_working_time(at(NY, 2026, 11, 16, 17))
    assert not NY_OFFICE.is_working_time(at(NY, 2026, 11, 16, 17, 0, 1))
    assert NY_OFFICE.next_working_time(at(NY, 2026, 11, 16, 17)) == at(NY, 2026, 11, 16, 17)


def test_split_shift_skips_the_lunch_break():
    monday = date(2026, 11, 16)
    assert [(s.time(), e.time()) for s, e in LA_SPLIT.working_intervals(monday)] == [
        (time(8), time(12)),
        (time(13), time(17)),
    ]
    assert local(LA_SPLIT.add_business_seconds(at(LA, 2026, 11, 16, 11), 2 * 3600), LA) == at(
        LA, 2026, 11, 16, 14
    )
    assert local(LA_SPLIT.add_business_seconds(at(LA, 2026, 11, 16, 11), 3600), LA) == at(
        LA, 2026, 11, 16, 12
    )
    assert not LA_SPLIT.is_working_time(at(LA, 2026, 11, 16, 12, 30))
    assert local(LA_SPLIT.next_working_time(at(LA, 2026, 11, 16, 12, 30)), LA) == at(
        LA, 2026, 11, 16, 13
    )
    assert LA_SPLIT.business_seconds_between(
        at(LA, 2026, 11, 16, 11, 30), at(LA, 2026, 11, 16, 13, 30)
    ) == pytest.approx(3600)
    # Half a day is half the working time (4 of 8 hours), which ends at the lunch break.
    assert local(LA_SPLIT.add_business_days(at(LA, 2026, 11, 16, 8), 0.5), LA) == at(
        LA, 2026, 11, 16, 12
    )


def test_a_tiny_business_day_amount_from_the_lunch_break_never_moves_back_to_noon():
    # 12:00 and 13:00 are the same point of the working day; the later one must win.
    start = at(LA, 2026, 11, 16, 12, 30)
    assert local(LA_SPLIT.add_business_days(start, 1e-12), LA) == at(LA, 2026, 11, 16, 13)


# --- holidays and closures ----------------------------------------------------------------


def test_july_4_2026_falls_on_saturday_so_friday_july_3_is_observed_and_closed():
    assert NY_OFFICE.holiday_name(date(2026, 7, 3)) == "Independence Day (observed)"
    assert not NY_OFFICE.is_working_day(date(2026, 7, 3))
    assert NY_OFFICE.working_intervals(date(2026, 7, 3)) == []
    due = NY_OFFICE.due(at(NY, 2026, 7, 2, 16), 2, "business_hours")
    assert local(due) == at(NY, 2026, 7, 6, 10)


def test_a_calendar_without_a_holiday_country_works_on_public_holidays():
    calendar = BusinessCalendar(
        "America/New_York", parse_weekly_hours(WEEKDAYS_9_TO_5), holiday_country=None
    )
    assert calendar.holiday_name(date(2026, 7, 3)) is None
    assert calendar.is_working_day(date(2026, 7, 3))


def test_an_extra_closure_date_is_skipped():
    assert NY_OFFICE.holiday_name(date(2026, 1, 27))
    assert not NY_OFFICE.is_working_day(date(2026, 1, 27))
    due = NY_OFFICE.due(at(NY, 2026, 1, 26, 10), 1, "business_days")
    assert local(due) == at(NY, 2026, 1, 28, 10)


def test_closures_may_be_named_and_given_as_iso_strings():
    calendar = BusinessCalendar(
        "America/New_York",
        parse_weekly_hours(WEEKDAYS_9_TO_5),
        closures={"2026-02-02": "Executive order: snow"},
    )
    assert calendar.holiday_name(date(2026, 2, 2)) == "Executive order: snow"


def test_a_calendar_closed_for_years_raises_instead_of_hanging():
    start = date(2026, 1, 1)
    calendar = BusinessCalendar(
        "America/New_York",
        parse_weekly_hours(WEEKDAYS_9_TO_5),
        closures=[start + timedelta(days=i) for i in range(400 * 3)],
    )
    with pytest.raises(ValueError, match="no working time"):
        calendar.due(at(NY, 2026, 1, 2, 10), 1, "business_hours")
    with pytest.raises(ValueError, match="no working time"):
        calendar.next_working_time(at(NY, 2026, 1, 2, 10))
    with pytest.raises(ValueError, match="no working time"):
        calendar.add_business_days(at(NY, 2025, 12, 31, 10), 2)
    # Measuring across the closure is fine: it just counts nothing.
    assert calendar.business_seconds_between(at(NY, 2026, 1, 2), at(NY, 2027, 1, 2)) == 0


# --- DST ----------------------------------------------------------------------------------


def test_business_hours_across_the_spring_forward_weekend():
    due = NY_OFFICE.due(at(NY, 2026, 3, 6, 16), 2, "business_hours")
    assert local(due) == at(NY, 2026, 3, 9, 10)
    assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)


def test_spring_forward_day_has_one_hour_less_of_round_the_clock_time():
    sunday, monday = at(NY, 2026, 3, 8), at(NY, 2026, 3, 9)
    assert NY_ALWAYS_OPEN.business_seconds_between(sunday, monday) == 23 * 3600
    due = NY_ALWAYS_OPEN.due(at(NY, 2026, 3, 7, 23), 5, "business_hours")
    assert local(due) == at(NY, 2026, 3, 8, 5)


def test_fall_back_day_has_one_hour_more_of_round_the_clock_time():
    sunday, monday = at(NY, 2026, 11, 1), at(NY, 2026, 11, 2)
    assert NY_ALWAYS_OPEN.business_seconds_between(sunday, monday) == 25 * 3600
    due = NY_ALWAYS_OPEN.due(at(NY, 2026, 10, 31, 23), 5, "business_hours")
    assert local(due) == at(NY, 2026, 11, 1, 3)


def test_hours_spanning_the_dst_change_count_real_time_without_double_counting():
    calendar = BusinessCalendar(
        "America/New_York", parse_weekly_hours({"sun": "01:00-03:00"}), holiday_country=None
    )
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    ((s_open, s_close),) = calendar.working_intervals(spring)
    ((f_open, f_close),) = calendar.working_intervals(fall)
    # Same-zone aware datetimes subtract by wall clock in Python; compare real time in UTC.
    assert s_close.astimezone(UTC) - s_open.astimezone(UTC) == timedelta(hours=1)
    assert f_close.astimezone(UTC) - f_open.astimezone(UTC) == timedelta(hours=3)
    assert calendar.business_seconds_between(at(NY, 2026, 3, 7), at(NY, 2026, 3, 9)) == 3600
    assert calendar.business_seconds_between(at(NY, 2026, 10, 31), at(NY, 2026, 11, 2)) == 3 * 3600
    # A whole business day on each is the whole (short or long) interval.
    assert calendar.due(at(NY, 2026, 3, 7, 12), 1, "business_days") == s_close
    assert calendar.due(at(NY, 2026, 10, 31, 12), 1, "business_days") == f_close


def test_hours_inside_the_spring_forward_gap_are_simply_absent():
    calendar = BusinessCalendar(
        "America/New_York",
        parse_weekly_hours({"sun": "02:00-03:00, 10:00-11:00"}),
        holiday_country=None,
    )
    assert len(calendar.working_intervals(date(2026, 3, 8))) == 1
    assert len(calendar.working_intervals(date(2026, 3, 15))) == 2


def test_calendar_days_keep_the_local_time_across_spring_forward():
    start = at(NY, 2026, 3, 7, 10)
    due = NY_OFFICE.due(start, 1, "calendar_days")
    assert local(due) == at(NY, 2026, 3, 8, 10)
    assert NY_OFFICE.elapsed(start, due, "calendar_days") == 23 * 3600


def test_calendar_days_keep_the_local_time_across_fall_back():
    start = at(NY, 2026, 10, 31, 10)
    due = NY_OFFICE.due(start, 1, "calendar_days")
    assert local(due) == at(NY, 2026, 11, 1, 10)
    assert NY_OFFICE.elapsed(start, due, "calendar_days") == 25 * 3600


def test_calendar_days_ignore_weekends_and_holidays_and_take_fractions_as_real_time():
    assert local(NY_OFFICE.due(at(NY, 2026, 11, 25, 10), 2, "calendar_days")) == at(
        NY, 2026, 11, 27, 10
    )
    assert local(NY_OFFICE.due(at(NY, 2026, 11, 20, 10), 1.5, "calendar_days")) == at(
        NY, 2026, 11, 21, 22
    )


def test_a_calendar_day_landing_in_the_spring_forward_gap_moves_later():
    due = NY_OFFICE.due(at(NY, 2026, 3, 7, 2, 30), 1, "calendar_days")
    assert local(due) == at(NY, 2026, 3, 8, 3, 30)


# --- other zones --------------------------------------------------------------------------


def test_los_angeles_calendar_works_in_pacific_time_whatever_the_input_zone():
    friday_4pm_pacific = datetime(2026, 6, 5, 23, tzinfo=UTC)
    assert not LA_SPLIT.is_working_time(datetime(2026, 6, 5, 19, 30, tzinfo=UTC))  # lunch
    due = LA_SPLIT.due(friday_4pm_pacific, 3, "business_hours")
    # One hour Friday, then Saturday 10:00-14:00 is open for two more.
    assert local(due, LA) == at(LA, 2026, 6, 6, 12)


def test_honolulu_has_no_daylight_saving_time():
    start = at(HONOLULU, 2026, 3, 6, 16)
    due = HONOLULU_OFFICE.due(start, 2, "business_hours")
    assert local(due, HONOLULU) == at(HONOLULU, 2026, 3, 9, 9, 15)
    assert due == datetime(2026, 3, 9, 19, 15, tzinfo=UTC)
    assert HONOLULU_OFFICE.due(start, 1, "calendar_days") - start == timedelta(days=1)


def test_working_intervals_are_local_aware_datetimes():
    ((opening, closing),) = HONOLULU_OFFICE.working_intervals(date(2026, 3, 9))
    assert opening == at(HONOLULU, 2026, 3, 9, 7, 45)
    assert opening.utcoffset() == timedelta(hours=-10)
    assert closing.time() == time(16, 30)


# --- units, validation --------------------------------------------------------------------


def test_allowed_is_in_the_same_measure_as_elapsed():
    assert NY_OFFICE.allowed(4, "business_hours") == 4 * 3600
    assert NY_OFFICE.allowed(2.5, "business_days") == 2.5
    assert NY_OFFICE.allowed(2, "calendar_days") == 2 * 86400


def test_extend_adds_paused_time_back_in_the_units_measure():
    start = at(NY, 2026, 11, 16, 9)
    due = NY_OFFICE.due(start, 1, "business_days")
    paused = NY_OFFICE.elapsed(at(NY, 2026, 11, 16, 13), at(NY, 2026, 11, 16, 17), "business_days")
    assert local(NY_OFFICE.extend(due, paused, "business_days")) == at(NY, 2026, 11, 17, 13)
    due = NY_OFFICE.due(start, 8, "business_hours")
    assert local(NY_OFFICE.extend(due, 3600, "business_hours")) == at(NY, 2026, 11, 17, 10)
    due = NY_OFFICE.due(start, 1, "calendar_days")
    assert local(NY_OFFICE.extend(due, 7200, "calendar_days")) == at(NY, 2026, 11, 17, 11)
    assert NY_OFFICE.extend(due, 0, "business_days") == due


def test_naive_datetimes_are_rejected():
    naive = datetime(2026, 11, 16, 10)
    for call in (
        lambda: NY_OFFICE.due(naive, 1, "business_hours"),
        lambda: NY_OFFICE.elapsed(naive, at(NY, 2026, 11, 17), "business_days"),
        lambda: NY_OFFICE.is_working_time(naive),
        lambda: NY_OFFICE.next_working_time(naive),
        lambda: NY_OFFICE.extend(naive, 1, "calendar_days"),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_bad_calendar_settings_are_rejected():
    hours = parse_weekly_hours(WEEKDAYS_9_TO_5)
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar("America/Atlantis", hours)
    with pytest.raises(ValueError, match="holiday country"):
        BusinessCalendar("America/New_York", hours, holiday_country="XX")
    with pytest.raises(ValueError, match="no working time"):
        BusinessCalendar("America/New_York", {0: ()})
    with pytest.raises(ValueError, match="unit"):
        NY_OFFICE.due(at(NY, 2026, 11, 16, 9), 1, "fortnights")
    with pytest.raises(ValueError, match=">= 0"):
        NY_OFFICE.due(at(NY, 2026, 11, 16, 9), -1, "business_hours")


# --- parsing weekly hours -----------------------------------------------------------------


def test_parse_weekly_hours_gives_every_weekday_with_sorted_intervals():
    hours = parse_weekly_hours(
        {"Mon": "13:00-17:00, 08:00-12:00", "tue": "09:00 - 24:00", "sat": None, "sun": ""}
    )
    assert hours[0] == ((time(8), time(12)), (time(13), time(17)))
    assert hours[1] == ((time(9), time(0)),)  # 24:00 is stored as midnight at the day's end
    assert hours[2] == hours[5] == hours[6] == ()
    assert set(hours) == set(range(7))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon": "9-5"}, r"mon: '9-5'"),
        ({"mon": "09:00-17:00", "tue": "17:00-09:00"}, r"tue: '17:00-09:00' ends before"),
        ({"wed": "09:00-09:00"}, r"wed: '09:00-09:00' ends before"),
        ({"thu": "08:00-12:00, 11:00-13:00"}, r"thu: '08:00-12:00' and '11:00-13:00' overlap"),
        ({"funday": "09:00-17:00"}, r"unknown day 'funday'"),
        ({"fri": "25:00-26:00"}, r"fri: '25:00-26:00'"),
        ({"fri": "24:00-24:00"}, r"fri: '24:00-24:00'"),
        ({"sat": 9}, r"sat: expected a string"),
        ({"mon": "09:00-17:00,"}, r"mon: '' in"),
        ({"sat": None, "sun": ""}, r"no working time"),
        ({}, r"no working time"),
        ({"mon": "09:00-17:00", "Mon": "10:00-11:00"}, r"mon: given twice"),
    ],
)
def test_parse_weekly_hours_rejects_bad_specs_with_a_clear_message(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_weekly_hours(spec)


def test_format_weekly_hours_round_trips_and_omits_closed_days():
    spec = {"mon": "08:00-12:00, 13:00-17:00", "wed": "09:30-24:00", "sat": "10:00-14:00"}
    hours = parse_weekly_hours({**spec, "sun": None})
    assert format_weekly_hours(hours) == spec
    assert parse_weekly_hours(format_weekly_hours(hours)) == hours


@st.composite
def weekly_hours(draw):
    result = {}
    for day in WEEKDAYS:
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        bounds = [time(c // 4, 15 * (c % 4)) if c < 96 else time(0) for c in cuts]
        pairs = list(zip(bounds[::2], bounds[1::2], strict=False))
        if pairs:
            result[day] = ", ".join(
                f"{s:%H:%M}-{'24:00' if e == time(0) else f'{e:%H:%M}'}" for s, e in pairs
            )
    return result


@settings(max_examples=100, deadline=None)
@given(weekly_hours())
def test_format_and_parse_round_trip_for_any_valid_week(spec):
    if not spec:
        with pytest.raises(ValueError):
            parse_weekly_hours(spec)
        return
    hours = parse_weekly_hours(spec)
    assert format_weekly_hours(hours) == spec
    assert parse_weekly_hours(format_weekly_hours(hours)) == hours


# --- properties ---------------------------------------------------------------------------

MS = 1e-3


def _special_days() -> list[date]:
    days = set()
    for zone in (NY, LONDON):
        day = date(2024, 1, 1)
        while day < date(2031, 1, 1):
            midnight = datetime.combine(day, time(), tzinfo=zone)
            if midnight.utcoffset() != (midnight + timedelta(hours=23)).utcoffset():
                days.add(day)
            day += timedelta(days=1)
    days.update(holidays.country_holidays("US", years=range(2024, 2031)))
    days.add(date(2026, 1, 27))
    return sorted(days)


SPECIAL_DAYS = _special_days()

any_instant = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from([UTC, NY, LA, HONOLULU, LONDON]),
).map(lambda t: t.replace(second=0, microsecond=0))
special_instant = st.builds(
    lambda day, minute, fold, zone: datetime.combine(
        day, time(minute // 60, minute % 60), tzinfo=zone
    ).replace(fold=fold),
    st.sampled_from(SPECIAL_DAYS),
    st.integers(0, 24 * 60 - 1),
    st.integers(0, 1),
    st.sampled_from([NY, LONDON, LA]),
)
instants = st.one_of(any_instant, special_instant)
calendars = st.sampled_from(CALENDARS)
business_units = st.sampled_from(["business_hours", "business_days"])
# Whole minutes and hundredths of a day keep results off the fraction-0/fraction-1 seam.
hour_amounts = st.integers(0, 300 * 60).map(lambda m: m / 60)
day_amounts = st.integers(0, 40 * 100).map(lambda n: n / 100)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _targets(unit):
    return hour_amounts if unit == "business_hours" else day_amounts


def _tolerance(unit):
    return MS / 86400 if unit == "business_days" else MS


@PROPERTY
@given(calendars, instants, st.sampled_from(UNITS), st.data())
def test_due_is_never_before_start_and_is_utc(calendar, start, unit, data):
    target = data.draw(_targets(unit))
    due = calendar.due(start, target, unit)
    assert due >= start
    assert due.tzinfo is UTC


@PROPERTY
@given(calendars, instants, hour_amounts, hour_amounts)
def test_adding_business_hours_in_two_steps_equals_adding_them_at_once(calendar, start, a, b):
    stepwise = calendar.due(calendar.due(start, a, "business_hours"), b, "business_hours")
    at_once = calendar.due(start, a + b, "business_hours")
    assert abs((stepwise - at_once).total_seconds()) <= MS


@PROPERTY
@given(calendars, instants, day_amounts, day_amounts)
def test_adding_business_days_in_two_steps_equals_adding_them_at_once(calendar, start, a, b):
    stepwise = calendar.due(calendar.due(start, a, "business_days"), b, "business_days")
    at_once = calendar.due(start, a + b, "business_days")
    assert abs((stepwise - at_once).total_seconds()) <= MS


@PROPERTY
@given(calendars, instants, business_units, st.data())
def test_elapsed_from_start_to_due_is_exactly_the_allowed_amount(calendar, start, unit, data):
    target = data.draw(_targets(unit))
    due = calendar.due(start, target, unit)
    assert calendar.elapsed(start, due, unit) == pytest.approx(
        calendar.allowed(target, unit), abs=_tolerance(unit)
    )


@PROPERTY
@given(calendars, instants, day_amounts)
def test_calendar_days_elapsed_is_allowed_give_or_take_a_dst_hour(calendar, start, days):
    due = calendar.due(start, days, "calendar_days")
    assert abs(calendar.elapsed(start, due, "calendar_days") - days * 86400) <= 3600 + MS


@PROPERTY
@given(calendars, instants, business_units, st.data())
def test_business_due_times_always_fall_in_working_time(calendar, start, unit, data):
    due = calendar.due(start, data.draw(_targets(unit)), unit)
    assert calendar.is_working_time(due)


@PROPERTY
@given(calendars, instants, instants, st.sampled_from(UNITS))
def test_any_start_between_2024_and_2030_never_raises(calendar, start, other, unit):
    due = calendar.due(start, 3, unit)
    assert calendar.elapsed(start, due, unit) >= 0
    assert calendar.elapsed(start, other, unit) >= 0
    assert calendar.extend(due, calendar.elapsed(start, other, unit), unit) >= due
    nxt = calendar.next_working_time(other)
    assert nxt >= other and calendar.is_working_time(nxt)
    calendar.is_working_day(other.date())
    calendar.holiday_name(other.date())


@PROPERTY
@given(calendars, instants, instants, instants, business_units)
def test_elapsed_is_additive_over_consecutive_spans(calendar, a, b, c, unit):
    a, b, c = sorted((a, b, c))
    assert calendar.elapsed(a, b, unit) + calendar.elapsed(b, c, unit) == pytest.approx(
        calendar.elapsed(a, c, unit), abs=_tolerance(unit)
    )


@PROPERTY
@given(calendars, instants, st.sampled_from(UNITS), instants, instants, instants, instants)
def test_extending_by_paused_time_is_additive(calendar, start, unit, p1, q1, p2, q2):
    p1, q1 = sorted((p1, q1))
    p2, q2 = sorted((p2, q2))
    target = 5 if unit == "business_hours" else 2
    due = calendar.due(start, target, unit)
    first, second = calendar.elapsed(p1, q1, unit), calendar.elapsed(p2, q2, unit)
    stepwise = calendar.extend(calendar.extend(due, first, unit), second, unit)
    at_once = calendar.extend(due, first + second, unit)
    assert abs((stepwise - at_once).total_seconds()) <= MS
    if unit != "calendar_days":
        # The clock, counted from the start, allows exactly the target plus the pauses.
        assert calendar.elapsed(start, at_once, unit) == pytest.approx(
            calendar.allowed(target, unit) + first + second, abs=_tolerance(unit)
        )
