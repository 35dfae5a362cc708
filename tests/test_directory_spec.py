"""The directory file format: parsing, validation with file/line/field problems, dumping."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.directory.spec import (
    CHANNELS,
    DAYS,
    METRICS,
    UNITS,
    AgencySpec,
    CalendarSpec,
    CategorySpec,
    ClosureSpec,
    ConditionsSpec,
    DirectoryError,
    DirectorySpec,
    Problem,
    QueueSpec,
    RuleSpec,
    StandardSpec,
    dump_directory,
    load_demo_text,
    parse_directory,
)

# A small valid directory. Tests change one part of it and check the problem reported.
BASE = """\
calendars:
  - code: eastern
    name: Eastern hours
    timezone: America/New_York
    hours: {mon: "09:00-17:00", fri: "09:00-17:00"}
    holidays: US
agencies:
  - code: CFPB
    name: Consumer Financial Protection Bureau
    calendar: eastern
    queues:
      - {code: general, name: General}
      - {code: triage, name: Triage, triage: true}
    standards:
      - {metric: acknowledge, target: 1, unit: business_days, goal: 95, wording: Within a day.}
categories:
  - code: credit-report
    name: Problem with a credit report
    agency: CFPB
    queue: general
routing_rules:
  - name: Credit words
    when: {keywords: [equifax]}
    agency: CFPB
"""


STANDARD = "{metric: acknowledge, target: 1, unit: business_days, goal: 95, wording: Within a day.}"


def changed(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def problems(text: str, filename: str = "directory.yaml") -> list[Problem]:
    with pytest.raises(DirectoryError) as caught:
        parse_directory(text, filename)
    return caught.value.problems


def only_problem(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing needle."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


# --------------------------------------------------------------------------- the base file


def test_base_directory_parses_into_specs():
    spec = parse_directory(BASE)
    assert spec.calendars == (
        CalendarSpec(
            "eastern",
            "Eastern hours",
            "America/New_York",
            {"mon": "09:00-17:00", "fri": "09:00-17:00"},
            "US",
            (),
        ),
    )
    assert spec.agencies[0] == AgencySpec(
        "CFPB",
        "Consumer Financial Protection Bureau",
        "eastern",
        None,
        None,
        (QueueSpec("general", "General"), QueueSpec("triage", "Triage", True)),
        (StandardSpec("acknowledge", 1, "business_days", 95, "Within a day."),),
    )
    assert spec.categories[0] == CategorySpec(
        "credit-report", "Problem with a credit report", None, None, "CFPB", "general", (), ()
    )
    assert spec.routing_rules == (
        RuleSpec(
            "Credit words", ConditionsSpec(keywords=("equifax",)), "CFPB", None, "normal", True
        ),
    )
    assert spec.triage_queue == ("CFPB", "triage")


def test_specs_are_frozen():
    spec = parse_directory(BASE)
    with pytest.raises(AttributeError):
        spec.agencies[0].code = "FTC"  # type: ignore[misc]


def test_whole_targets_stay_integers_and_fractions_stay_floats():
    spec = parse_directory(changed("target: 1,", "target: 1.0,"))
    target = spec.agencies[0].standards[0].target
    assert target == 1 and isinstance(target, int)
    spec = parse_directory(changed("target: 1,", "target: 1.5,"))
    assert spec.agencies[0].standards[0].target == 1.5


def test_holidays_default_to_us_and_null_means_none():
    assert parse_directory(changed("    holidays: US\n", "")).calendars[0].holidays == "US"
    none = parse_directory(changed("holidays: US", "holidays: null"))
    assert none.calendars[0].holidays is None
    assert "holidays: null" in dump_directory(none)


def test_country_code_that_yaml_reads_as_false_is_kept_as_text():
    # YAML 1.1 reads a bare NO (Norway) as false; the file means the country.
    spec = parse_directory(changed("holidays: US", "holidays: NO"))
    assert spec.calendars[0].holidays == "NO"
    assert parse_directory(dump_directory(spec)) == spec


def test_zip_prefixes_keep_leading_zeros_even_unquoted():
    spec = parse_directory(changed("{keywords: [equifax]}", "{zip_prefixes: [021, '100']}"))
    assert spec.routing_rules[0].when.zip_prefixes == ("021", "100")
    assert parse_directory(dump_directory(spec)) == spec


def test_closures_accept_dates_and_iso_strings_and_are_kept_in_date_order():
    text = changed(
        "    holidays: US\n",
        "    holidays: US\n"
        "    closures:\n"
        '      - {date: "2026-12-31", name: New Year\'s Eve}\n'
        "      - {date: 2026-12-24, name: Christmas Eve}\n",
    )
    closures = parse_directory(text).calendars[0].closures
    assert closures == (
        ClosureSpec(datetime.date(2026, 12, 24), "Christmas Eve"),
        ClosureSpec(datetime.date(2026, 12, 31), "New Year's Eve"),
    )


def test_split_hours_are_parsed_and_written_canonically():
    text = changed('{mon: "09:00-17:00",', '{mon: "13:00-17:00,8:00 - 12:00", sat: "00:00-24:00",')
    hours = parse_directory(text).calendars[0].hours
    assert hours == {"mon": "08:00-12:00, 13:00-17:00", "sat": "00:00-24:00", "fri": "09:00-17:00"}


def test_defaults_for_rule_priority_and_active_and_queue_triage():
    spec = parse_directory(BASE)
    assert spec.routing_rules[0].priority == "normal"
    assert spec.routing_rules[0].active is True
    assert spec.agencies[0].queues[0].triage is False


def test_rule_without_conditions_is_allowed_as_a_catch_all():
    spec = parse_directory(changed("    when: {keywords: [equifax]}\n", ""))
    assert spec.routing_rules[0].when == ConditionsSpec()
    assert parse_directory(dump_directory(spec)) == spec


def test_yaml_anchors_merge_keys_and_x_keys_can_share_values():
    text = (
        "x-standard: &ack {metric: acknowledge, unit: business_days, goal: 95, wording: Hi.}\n"
        + changed(
            STANDARD,
            "{<<: *ack, target: 2}",
        )
    )
    standard = parse_directory(text).agencies[0].standards[0]
    assert standard == StandardSpec("acknowledge", 2, "business_days", 95, "Hi.")


# --------------------------------------------------------------------------- problems: keys


def test_typo_in_a_key_is_reported_on_its_line_with_a_suggestion():
    text = """\
calendars:
  - {code: eastern, name: Eastern, timezone: America/New_York, hours: {mon: "09:00-17:00"}}
agencies:
  - code: CFPB
    name: Consumer Financial Protection Bureau
    calendar: eastern
    standard: []
    queues:
      - {code: triage, name: Triage, triage: true}
"""
    problem = only_problem(text)
    assert problem == Problem(
        "directory.yaml", 7, "agencies[0].standard", "unknown key (did you mean 'standards'?)"
    )


def test_typo_in_a_category_key_names_the_field():
    problem_list = problems(
        changed("    agency: CFPB\n    queue: general", "    agencyy: CFPB\n    queue: general")
    )
    fields = {(p.field, p.line) for p in problem_list}
    line = line_of(BASE, "    agency: CFPB\n".strip())
    # The typo'd key itself, and the missing required key on the entry's first line.
    assert ("categories[0].agencyy", line) in fields
    assert ("categories[0].agency", line_of(BASE, "code: credit-report")) in fields


def test_unknown_top_level_key():
    problem = only_problem(BASE + "agency_rules: []\n")
    assert problem.field == "agency_rules"
    assert problem.line == BASE.count("\n") + 1
    assert "unknown key" in problem.message


def test_unknown_condition_key_in_when():
    problem = only_problem(changed("{keywords: [equifax]}", "{keywords: [equifax], words: [x]}"))
    assert problem.field == "routing_rules[0].when.words"
    assert problem.line == line_of(BASE, "when:")


def test_key_given_twice_in_one_entry():
    text = changed("    agency: CFPB\n    queue", "    agency: CFPB\n    agency: CFPB\n    queue")
    problem = only_problem(text)
    assert problem.field == "categories[0].agency"
    assert problem.message == f"appears twice (first on line {line_of(BASE, 'agency: CFPB')})"


def test_missing_required_field_is_reported_on_the_entry():
    problem = only_problem(changed("    timezone: America/New_York\n", ""))
    assert (problem.line, problem.field, problem.message) == (
        2,
        "calendars[0].timezone",
        "is required",
    )


# --------------------------------------------------------------------------- problems: codes


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("code: eastern", "code: Eastern_Hours", "calendars[0].code"),
        ("code: CFPB", "code: cfpb", "agencies[0].code"),
        ("code: credit-report", "code: Credit Report", "categories[0].code"),
        ("{code: general,", "{code: General Queue,", "agencies[0].queues[0].code"),
        ("code: CFPB", "code: " + "A" * 21, "agencies[0].code"),
    ],
)
def test_badly_formed_codes(old, new, field):
    found = [p for p in problems(changed(old, new)) if p.field == field]
    assert found, field
    assert found[0].line == line_of(BASE, old)


def test_duplicate_codes_name_the_first_line():
    queue = changed("{code: triage, name: Triage, triage: true}", "{code: general, name: Again}")
    dup = [p for p in problems(queue) if p.field == "agencies[0].queues[1].code"]
    assert (
        dup[0].message
        == f"duplicate queue code 'general' (first on line {line_of(BASE, '{code: general')})"
    )

    second_category = BASE.replace(
        "routing_rules:",
        "  - {code: credit-report, name: Again, agency: CFPB}\nrouting_rules:",
    )
    problem = only_problem(second_category)
    assert problem.field == "categories[1].code"
    assert problem.line == line_of(second_category, "name: Again")
    assert "duplicate category code 'credit-report'" in problem.message


def test_duplicate_agency_and_calendar_codes():
    text = BASE.replace(
        "agencies:\n",
        "  - {code: eastern, name: Again, timezone: UTC, hours: {mon: 09:00-17:00}}\nagencies:\n",
    ).replace(
        "categories:\n",
        "  - {code: CFPB, name: Again, calendar: eastern, queues: [{code: q, name: Q}]}\n"
        "categories:\n",
    )
    fields = {p.field: p.message for p in problems(text)}
    assert fields["calendars[1].code"].startswith("duplicate calendar code 'eastern'")
    assert fields["agencies[1].code"].startswith("duplicate agency code 'CFPB'")


def test_codes_that_yaml_reads_as_numbers_are_kept_as_text():
    text = changed("code: CFPB", "code: 311").replace("agency: CFPB", "agency: '311'")
    spec = parse_directory(text)
    assert spec.agencies[0].code == "311"
    assert parse_directory(dump_directory(spec)) == spec


# --------------------------------------------------------------------------- problems: references


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "calendar: eastern",
            "calendar: estern",
            "agencies[0].calendar",
            "unknown calendar 'estern' (did you mean 'eastern'?)",
        ),
        (
            "agency: CFPB\n    queue",
            "agency: FTC\n    queue",
            "categories[0].agency",
            "unknown agency 'FTC'",
        ),
        (
            "queue: general",
            "queue: genral",
            "categories[0].queue",
            "agency CFPB has no queue 'genral' (did you mean 'general'?)",
        ),
        (
            "[equifax]}\n    agency: CFPB\n",
            "[equifax]}\n    agency: CFPB\n    queue: nope\n",
            "routing_rules[0].queue",
            "agency CFPB has no queue 'nope'",
        ),
        (
            "{keywords: [equifax]}",
            "{categories: [credit-reports]}",
            "routing_rules[0].when.categories[0]",
            "unknown category 'credit-reports' (did you mean 'credit-report'?)",
        ),
    ],
)
def test_references_to_unknown_things(old, new, field, message):
    text = changed(old, new)
    problem = only_problem(text)
    assert (problem.field, problem.message) == (field, message)
    value = message.split("'")[1]
    assert problem.line == line_of(text, value)


def test_unknown_agency_does_not_also_complain_about_its_queue():
    problem = only_problem(
        changed("    agency: CFPB\n    queue: general", "    agency: FTC\n    queue: general")
    )
    assert problem.field == "categories[0].agency"


# --------------------------------------------------------------------------- problems: calendars


@pytest.mark.parametrize(
    ("hours", "field", "message"),
    [
        ('{mon: "9 to 5"}', "calendars[0].hours.mon", "'9 to 5' is not a time range"),
        ('{mon: "17:00-09:00"}', "calendars[0].hours.mon", "'17:00-09:00' ends before it starts"),
        (
            '{mon: "09:00-13:00, 12:00-17:00"}',
            "calendars[0].hours.mon",
            "09:00-13:00 and 12:00-17:00 overlap",
        ),
        (
            '{mon: "09:00-25:00"}',
            "calendars[0].hours.mon",
            "'09:00-25:00' has a time that does not exist",
        ),
        (
            '{monday: "09:00-17:00", tue: "09:00-17:00"}',
            "calendars[0].hours.monday",
            "unknown key (did you mean 'mon'?)",
        ),
        ("{mon: null, tue: 09:00-17:00}", "calendars[0].hours.mon", "give hours like 09:00-17:00"),
        ("{}", "calendars[0].hours", "needs working hours on at least one day of the week"),
        ('"09:00-17:00"', "calendars[0].hours", "must be a mapping of weekday to hours"),
    ],
)
def test_hours_syntax(hours, field, message):
    problem = only_problem(changed('{mon: "09:00-17:00", fri: "09:00-17:00"}', hours))
    assert problem.field == field
    assert problem.message.startswith(message)
    assert problem.line == 5


def test_unknown_time_zone_and_holiday_country():
    text = changed("America/New_York", "America/New_Yrok").replace("holidays: US", "holidays: XX")
    found = {p.field: p for p in problems(text)}
    assert found["calendars[0].timezone"].line == 4
    assert "America/New_Yrok" in found["calendars[0].timezone"].message
    assert found["calendars[0].holidays"].line == 6


def test_bad_and_duplicate_closure_dates():
    text = changed(
        "    holidays: US\n",
        "    holidays: US\n"
        "    closures:\n"
        "      - {date: 2026-12-24, name: Christmas Eve}\n"
        "      - {date: 2026-12-24, name: Again}\n"
        "      - {date: 2026-13-01, name: No such month}\n"
        "      - {date: 2026-12-26T10:00:00, name: Has a time}\n"
        "      - {date: soon, name: Not a date}\n"
        "      - {date: 2026-12-28}\n",
    )
    found = [(p.line, p.field) for p in problems(text)]
    assert found == [
        (9, "calendars[0].closures[1].date"),
        (10, "calendars[0].closures[2].date"),
        (11, "calendars[0].closures[3].date"),
        (12, "calendars[0].closures[4].date"),
        (13, "calendars[0].closures[5].name"),
    ]


# --------------------------------------------------------------------------- problems: standards


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "unit: business_days",
            "unit: bizdays",
            "unit",
            "must be one of business_hours, business_days, calendar_days (got 'bizdays')",
        ),
        (
            "metric: acknowledge",
            "metric: reply",
            "metric",
            "must be one of acknowledge, first_response, resolve (got 'reply')",
        ),
        ("target: 1,", "target: 0,", "target", "must be a positive number (got 0)"),
        ("target: 1,", "target: -2,", "target", "must be a positive number (got -2)"),
        ("target: 1,", "target: 366,", "target", "must be at most 365 business_days (got 366)"),
        ("target: 1,", "target: soon,", "target", "must be a number (got 'soon')"),
        ("target: 1,", "target: true,", "target", "must be a number (got 'true')"),
        ("target: 1,", "target: .inf,", "target", "must be a finite number (got .inf)"),
        ("target: 1,", "target: 1.0005,", "target", "has more than 3 decimals (got 1.0005)"),
        ("goal: 95", "goal: 0", "goal", "must be a percentage from 1 to 100 (got 0)"),
        ("goal: 95", "goal: 100.5", "goal", "must be a percentage from 1 to 100 (got 100.5)"),
        ("wording: Within a day.", 'wording: ""', "wording", "must not be empty"),
        (
            "wording: Within a day.",
            "wording: " + "x" * 301,
            "wording",
            "must be at most 300 characters (got 301)",
        ),
    ],
)
def test_standard_values(old, new, field, message):
    problem = only_problem(changed(STANDARD, STANDARD.replace(old, new)))
    assert problem.field == f"agencies[0].standards[0].{field}"
    assert problem.message == message
    assert problem.line == line_of(BASE, "metric: acknowledge")


def test_target_limits_depend_on_the_unit():
    hours = STANDARD.replace("unit: business_days", "unit: business_hours")
    parse_directory(changed(STANDARD, hours.replace("target: 1,", "target: 2000,")))
    problem = only_problem(changed(STANDARD, hours.replace("target: 1,", "target: 2001,")))
    assert problem.message == "must be at most 2000 business_hours (got 2001)"


def test_one_standard_per_metric_for_agencies_and_category_overrides():
    text = changed(STANDARD, STANDARD + "\n      - " + STANDARD)
    problem = only_problem(text)
    assert problem.field == "agencies[0].standards[1].metric"
    assert problem.line == line_of(BASE, "metric: acknowledge") + 1
    assert f"on line {line_of(BASE, 'metric: acknowledge')}" in problem.message

    override = "    standards:\n      - " + STANDARD + "\n      - " + STANDARD + "\n"
    problem = only_problem(changed("    queue: general\n", "    queue: general\n" + override))
    assert problem.field == "categories[0].standards[1].metric"


def test_standard_missing_a_field():
    problem = only_problem(changed(STANDARD, STANDARD.replace(", goal: 95", "")))
    assert (problem.field, problem.message) == ("agencies[0].standards[0].goal", "is required")


# --------------------------------------------------------------------------- problems: triage


def test_exactly_one_triage_queue():
    none = changed("{code: triage, name: Triage, triage: true}", "{code: triage, name: Triage}")
    problem = only_problem(none)
    assert problem.field == "agencies"
    assert problem.line == line_of(BASE, "agencies:")
    assert "triage: true" in problem.message

    two = changed("{code: general, name: General}", "{code: general, name: General, triage: true}")
    problem = only_problem(two)
    assert problem.field == "agencies[0].queues[1].triage"
    assert problem.line == line_of(BASE, "{code: triage")
    assert "agencies[0].queues[0].triage" in problem.message


def test_triage_must_be_a_boolean():
    problem = only_problem(changed("triage: true}", "triage: sure}"))
    assert problem.message == "must be true or false (got 'sure')"


# --------------------------------------------------------------------------- problems: rules


@pytest.mark.parametrize(
    ("when", "field", "message"),
    [
        (
            "{keywords: [evi*ct]}",
            "keywords[0]",
            "* may only end a term, as in landlord* (got 'evi*ct')",
        ),
        (
            "{keywords: ['evict *']}",
            "keywords[0]",
            "* must follow a letter or digit, as in landlord* (got 'evict *')",
        ),
        ("{keywords: ['*']}", "keywords[0]", "needs at least one letter or digit (got '*')"),
        (
            "{keywords: ['']}",
            "keywords[0]",
            "must not be empty (each entry is one of the keywords)",
        ),
        (
            "{keywords: [null]}",
            "keywords[0]",
            "must not be empty (each entry is one of the keywords)",
        ),
        ("{keywords: [[a, b]]}", "keywords[0]", "must be text, not a list or mapping"),
        ("{keywords: equifax}", "keywords", "must be a list of keywords"),
        ("{phrases: ['--']}", "phrases[0]", "needs at least one letter or digit (got '--')"),
        (
            "{keywords: [rent], exclude: [RENT]}",
            "keywords[0]",
            "'rent' is also excluded, so it never matches",
        ),
        ("{channels: [fax]}", "channels[0]", f"must be one of {', '.join(CHANNELS)} (got 'fax')"),
        (
            "{zip_prefixes: ['123456']}",
            "zip_prefixes[0]",
            "must be 1 to 5 digits, quoted, like '021' (got '123456')",
        ),
        (
            "{zip_prefixes: ['9a']}",
            "zip_prefixes[0]",
            "must be 1 to 5 digits, quoted, like '021' (got '9a')",
        ),
        (
            "{languages: [Spanish]}",
            "languages[0]",
            "must be a language code like en or es (got 'Spanish')",
        ),
    ],
)
def test_rule_conditions(when, field, message):
    problem = only_problem(changed("{keywords: [equifax]}", when))
    assert (problem.field, problem.message) == (f"routing_rules[0].when.{field}", message)
    assert problem.line == line_of(BASE, "when:")


def test_good_conditions_of_every_kind():
    when = (
        "{categories: [credit-report], channels: [email, sms], keywords: [landlord*, evict],"
        " phrases: [because of my race, llamada automática], exclude: [employer],"
        " zip_prefixes: ['9', '021', '10001'], languages: [es, es-MX, zh-Hant]}"
    )
    rule = parse_directory(changed("{keywords: [equifax]}", when)).routing_rules[0]
    assert rule.when.keywords == ("landlord*", "evict")
    assert rule.when.languages == ("es", "es-MX", "zh-Hant")


def test_rule_priority_and_active():
    text = changed(
        "[equifax]}\n    agency: CFPB\n",
        "[equifax]}\n    agency: CFPB\n    priority: critical\n    active: maybe\n",
    )
    found = {p.field: p.message for p in problems(text)}
    assert found == {
        "routing_rules[0].priority": "must be one of low, normal, high, urgent (got 'critical')",
        "routing_rules[0].active": "must be true or false (got 'maybe')",
    }


def test_category_examples_parse_export_and_load_back():
    text = changed(
        "    queue: general\nrouting_rules:",
        "    queue: general\n    examples:\n      - Equifax will not fix my report.\n"
        '      - "Mi informe de crédito: tiene errores"\n'
        "      - |\n        A letter, on\n        two lines.\nrouting_rules:",
    )
    spec = parse_directory(text)
    assert spec.categories[0].examples == (
        "Equifax will not fix my report.",
        "Mi informe de crédito: tiene errores",
        "A letter, on\ntwo lines.",
    )
    dumped = dump_directory(spec)
    assert "examples:" in dumped
    assert parse_directory(dumped) == spec


@pytest.mark.parametrize(
    "examples, field, message",
    [
        ("examples: Equifax", "categories[0].examples", "must be a list of example complaints"),
        ("examples: [ok, '']", "categories[0].examples[1]", "must not be empty"),
        ("examples: [[a, b]]", "categories[0].examples[0]", "must be text, not a list"),
        (
            "examples: [same words, Same  Words]",
            "categories[0].examples[1]",
            "the same example is already on line",
        ),
        (
            "examples: [" + "x" * 2001 + "]",
            "categories[0].examples[0]",
            "must be at most 2000 characters (got 2001)",
        ),
    ],
)
def test_bad_examples_are_reported_with_line_and_field(examples, field, message):
    text = changed(
        "    queue: general\nrouting_rules:", f"    queue: general\n    {examples}\nrouting_rules:"
    )
    problem = only_problem(text)
    assert problem.field == field
    assert message in problem.message
    assert problem.line == line_of(text, "examples:")


def test_the_same_example_under_two_categories_names_the_other():
    text = changed(
        "    queue: general\nrouting_rules:",
        "    queue: general\n    examples: [my score dropped]\n"
        "  - {code: other, name: Other, agency: CFPB, examples: [My score dropped]}\n"
        "routing_rules:",
    )
    problem = only_problem(text)
    assert problem.field == "categories[1].examples[0]"
    assert "(under category credit-report)" in problem.message


def test_rules_after_the_model_are_flagged_and_exported():
    text = changed(
        "[equifax]}\n    agency: CFPB\n", "[equifax]}\n    agency: CFPB\n    after_model: true\n"
    )
    spec = parse_directory(text)
    assert spec.routing_rules[0].after_model is True
    assert "after_model: true" in dump_directory(spec)
    assert parse_directory(dump_directory(spec)) == spec
    bad = only_problem(changed("after_model: true", "after_model: later", text))
    assert bad.field == "routing_rules[0].after_model"
    assert "must be true or false" in bad.message


# --------------------------------------------------------------------------- problems: other fields


def test_text_fields():
    text = (
        changed("name: Problem with a credit report", 'name: "Two\\nlines"')
        .replace("name: Eastern hours", "name: " + "n" * 201)
        .replace("    calendar: eastern\n", "    calendar: eastern\n    website: www.cfpb.gov\n")
    )
    found = {p.field: p.message for p in problems(text)}
    assert found == {
        "calendars[0].name": "must be at most 200 characters (got 201)",
        "agencies[0].website": "must be a web address starting with https:// (got 'www.cfpb.gov')",
        "categories[0].name": "must fit on one line",
    }


def test_sections_of_the_wrong_shape():
    found = {p.field: p.message for p in problems("calendars: {}\nagencies: nope\n")}
    assert found["calendars"] == "must be a list of calendars"
    assert found["agencies"] == "must be a list of agencies"


def test_empty_file_and_wrong_top_level():
    assert problems("")[0].message.startswith("the file is empty")
    assert problems("# just a comment\n")[0].message.startswith("the file is empty")
    problem = only_problem("- calendars\n")
    assert problem.line == 1
    assert problem.message.startswith("must be a mapping with calendars, agencies")


def test_unreadable_tagged_value_is_a_problem_not_a_crash():
    problem = only_problem(changed("name: Eastern hours", "name: !!python/name:os.system"))
    assert problem.field == "calendars[0].name"
    assert problem.line == 3


# --------------------------------------------------------------------------- many problems at once


def test_every_problem_is_reported_in_line_order():
    text = (
        changed("timezone: America/New_York", "timezone: Mars/Olympus")
        .replace("standards:", "standard:")
        .replace("queue: general", "queue: nope")
        .replace("{keywords: [equifax]}", "{keywords: [equifax], channels: [pigeon]}")
    )
    found = problems(text)
    assert [p.field for p in found] == [
        "calendars[0].timezone",
        "agencies[0].standard",
        "categories[0].queue",
        "routing_rules[0].when.channels[0]",
    ]
    assert [p.line for p in found] == sorted(p.line for p in found)


def test_error_message_lists_problems_as_file_line_field_message():
    text = changed("unit: business_days", "unit: bizdays").replace("goal: 95", "goal: 200")
    with pytest.raises(DirectoryError) as caught:
        parse_directory(text, "directory.yaml")
    line = line_of(BASE, "metric: acknowledge")
    assert str(caught.value).splitlines() == [
        f"directory.yaml:{line}: agencies[0].standards[0].unit: must be one of business_hours, "
        "business_days, calendar_days (got 'bizdays')",
        f"directory.yaml:{line}: agencies[0].standards[0].goal: must be a percentage from 1 to "
        "100 (got 200)",
    ]


def test_default_file_name_and_problem_without_a_line():
    with pytest.raises(DirectoryError) as caught:
        parse_directory("")
    assert str(caught.value).startswith("<directory>: the file is empty")
    assert str(Problem("d.yaml", None, "agencies", "missing")) == "d.yaml: agencies: missing"


# --------------------------------------------------------------------------- YAML syntax errors


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("    name: Eastern hours\n", "    name: Eastern hours: late\n", 3),
        ("    name: Eastern hours\n", "    name Eastern hours\n", 3),
        ("    name: Eastern hours\n", "\tname: Eastern hours\n", 3),
        ("      - {code: general, name: General}\n", "      - {code: general, name: General\n", 13),
        ("    calendar: eastern\n", "    calendar: @eastern\n", 10),
        ("    queue: general\n", "  queue: general\n", 20),
    ],
)
def test_yaml_syntax_error_reports_its_line(old, new, line):
    text = changed(old, new)
    with pytest.raises(DirectoryError) as caught:
        parse_directory(text, "directory.yaml")
    (problem,) = caught.value.problems
    assert problem.message.startswith("YAML syntax error: ")
    assert problem.line == line, problem
    assert str(caught.value).startswith(f"directory.yaml:{line}: YAML syntax error")


def test_unprintable_character_reports_its_line():
    problem = only_problem(changed("name: Eastern hours", "name: Eastern\x07hours"))
    assert problem.line == 3
    assert problem.message.startswith("cannot be read")


def test_several_documents_are_a_syntax_error():
    problem = only_problem(BASE + "---\ncalendars: []\n")
    assert problem.message.startswith("YAML syntax error")


# --------------------------------------------------------------------------- dumping


def test_dump_writes_the_documented_format():
    text = dump_directory(parse_directory(BASE))
    assert "target: 1\n" in text
    assert "goal: 95\n" in text
    assert "{code: triage, name: Triage, triage: true}" in text
    assert "{code: general, name: General}" in text
    assert "keywords: [equifax]" in text
    # Empty optionals are left out.
    for absent in ("description", "website", "closures", "group:", "exclude"):
        assert absent not in text
    assert list(yaml.safe_load(text)) == ["calendars", "agencies", "categories", "routing_rules"]


def test_dump_round_trips_and_is_stable():
    spec = parse_directory(BASE)
    text = dump_directory(spec)
    assert parse_directory(text) == spec
    assert dump_directory(parse_directory(text)) == text


def test_dump_of_an_empty_rule_list_and_category_list():
    spec = parse_directory(BASE[: BASE.index("categories:")])
    text = dump_directory(spec)
    assert list(yaml.safe_load(text)) == ["calendars", "agencies"]
    assert parse_directory(text) == spec


def test_dump_keeps_multiline_descriptions_readable():
    spec = parse_directory(
        changed(
            "    calendar: eastern\n",
            "    calendar: eastern\n    description: |\n      Line one.\n      Line two.\n",
        )
    )
    assert spec.agencies[0].description == "Line one.\nLine two."
    text = dump_directory(spec)
    assert "description: |-\n      Line one.\n      Line two.\n" in text
    assert parse_directory(text) == spec


# --------------------------------------------------------------------------- translations

TRANSLATED = changed(
    "    queue: general\nrouting_rules:",
    """\
    queue: general
    translations:
      es: {name: Problema con un informe de crédito, group: Dinero y crédito}
routing_rules:""",
    changed(
        "wording: Within a day.}\n",
        "wording: Within a day., translations: {es: {wording: En un día.}}}\n",
        changed(
            "    calendar: eastern\n",
            """\
    calendar: eastern
    translations:
      es:
        name: Oficina para la Protección Financiera del Consumidor
        description: |
          Quejas sobre productos
          y servicios financieros.
""",
        ),
    ),
)


def test_translations_of_agencies_categories_and_standards_are_read():
    spec = parse_directory(TRANSLATED)
    agency, category = spec.agencies[0], spec.categories[0]
    assert agency.translations == {
        "es": {
            "name": "Oficina para la Protección Financiera del Consumidor",
            "description": "Quejas sobre productos\ny servicios financieros.",
        }
    }
    assert agency.standards[0].translations == {"es": {"wording": "En un día."}}
    assert category.translations == {
        "es": {"name": "Problema con un informe de crédito", "group": "Dinero y crédito"}
    }
    # Entries without translations have none, and the English stays the entry's own.
    assert parse_directory(BASE).agencies[0].translations == {}
    assert agency.name == "Consumer Financial Protection Bureau"


def test_localized_words_fall_back_to_english_where_a_translation_is_missing():
    from app.directory import localized

    spec = parse_directory(TRANSLATED)
    agency, category = spec.agencies[0], spec.categories[0]
    assert localized(agency, "name", "es").startswith("Oficina para la Protección")
    assert localized(agency, "name", "es-MX").startswith("Oficina para la Protección")
    assert localized(agency, "name", "en") == "Consumer Financial Protection Bureau"
    assert localized(agency, "name", None) == "Consumer Financial Protection Bureau"
    # The category's description is not translated: the English one (here none) is used.
    assert localized(category, "description", "es") is None
    assert localized(category, "group", "es") == "Dinero y crédito"
    assert localized(spec.agencies[0].standards[0], "wording", "fr") == "Within a day."


def test_translation_into_a_language_the_public_site_does_not_speak_is_rejected():
    text = changed("      es: {name: Problema", "      fr: {name: Problème", TRANSLATED)
    problem = only_problem(text)
    assert problem.field == "categories[0].translations.fr"
    assert problem.line == line_of(text, "fr: {name:")
    assert problem.message.startswith("is not a language of the public site; translate into es")
    # English is the entry's own text, not a translation.
    text = changed(
        "    translations:\n      es:\n        name: Oficina",
        "    translations:\n      en:\n        name: Oficina",
        TRANSLATED,
    )
    problem = problems(text)[0]
    assert problem.field == "agencies[0].translations.en"


def test_unknown_or_empty_translated_fields_are_rejected_with_their_lines():
    text = changed("{wording: En un día.}", "{wordin: En un día., name: Uno}", TRANSLATED)
    found = problems(text)
    line = line_of(text, "wordin:")
    prefix = "agencies[0].standards[0].translations.es"
    assert (
        Problem("directory.yaml", line, f"{prefix}.wordin", "unknown key (did you mean 'wording'?)")
        in found
    )
    assert (
        Problem("directory.yaml", line, f"{prefix}.name", "unknown key (expected wording)") in found
    )
    # An agency has no group; a translation may not be blank or a list.
    text = changed("group: Dinero y crédito}", "group: '  ', keywords: [x]}", TRANSLATED)
    found = {(p.field, p.message) for p in problems(text)}
    assert ("categories[0].translations.es.group", "must not be empty") in found
    assert (
        "categories[0].translations.es.keywords",
        "unknown key (expected name, description, group)",
    ) in found
    problem = only_problem(changed("{es: {wording: En un día.}}", "{es: {}}", TRANSLATED))
    assert problem.field == "agencies[0].standards[0].translations.es"
    assert problem.message == "give at least one of wording"
    problem = only_problem(changed("{es: {wording: En un día.}}", "[es]", TRANSLATED))
    assert problem.message.startswith("must be a mapping of language to translated words")


def test_translations_keep_the_length_and_line_limits_of_the_english_field():
    long_name = "n" * 201
    text = changed(
        "{name: Problema con un informe de crédito,", f"{{name: {long_name},", TRANSLATED
    )
    problem = only_problem(text)
    assert problem.field == "categories[0].translations.es.name"
    assert problem.message == "must be at most 200 characters (got 201)"
    text = changed("{wording: En un día.}", "{wording: '" + "w" * 301 + "'}", TRANSLATED)
    assert only_problem(text).message == "must be at most 300 characters (got 301)"
    text = changed("group: Dinero y crédito}", 'group: "Dinero\\ny crédito"}', TRANSLATED)
    assert only_problem(text).message == "must fit on one line"


def test_translations_round_trip_through_dump():
    spec = parse_directory(TRANSLATED)
    text = dump_directory(spec)
    assert "translations: {es: {wording: En un día.}}" not in text  # one key a line: readable
    assert "es: {wording: En un día.}" in text
    assert "      description: |-\n          Quejas sobre productos\n" in text
    assert parse_directory(text) == spec
    assert dump_directory(parse_directory(text)) == text


# --------------------------------------------------------------------------- the demo directory


@pytest.fixture(scope="module")
def demo() -> DirectorySpec:
    return parse_directory(load_demo_text(), "demo_directory.yaml")


def test_demo_directory_is_big_enough_to_be_realistic(demo):
    assert len(demo.agencies) >= 13
    assert len(demo.categories) >= 32
    assert len(demo.routing_rules) >= 20
    codes = {a.code for a in demo.agencies}
    assert {
        "USAGOV",
        "CFPB",
        "FTC",
        "FCC",
        "DOT-OACP",
        "DOL-WHD",
        "OSHA",
        "HUD-FHEO",
        "SSA",
        "VA",
        "USPS",
        "CPSC",
        "EPA",
    } <= codes


def test_demo_has_one_triage_queue_owned_by_usagov(demo):
    triage = [(a.code, q.code) for a in demo.agencies for q in a.queues if q.triage]
    assert triage == [("USAGOV", "triage")]


def test_every_demo_agency_posts_all_three_metrics(demo):
    for agency in demo.agencies:
        assert sorted(s.metric for s in agency.standards) == sorted(METRICS), agency.code
        assert 1 <= len(agency.queues) <= 3, agency.code
        assert agency.website and agency.website.startswith("https://"), agency.code
        ack = next(s for s in agency.standards if s.metric == "acknowledge")
        assert ack.unit == "business_days" and ack.target in (1, 2), agency.code


def test_demo_calendars(demo):
    by_code = {c.code: c for c in demo.calendars}
    zones = {c.timezone for c in demo.calendars}
    assert {"America/New_York", "America/Chicago", "America/Los_Angeles"} <= zones
    assert {"federal-eastern", "federal-central", "federal-pacific"} <= set(by_code)
    assert by_code["federal-eastern"].hours == {d: "09:00-17:00" for d in DAYS[:5]}
    assert any("08:00-16:30" in h or "," in h for c in demo.calendars for h in c.hours.values())
    closures = [x.date for c in demo.calendars for x in c.closures]
    assert any(d.year == 2026 and d.month == 12 for d in closures)
    assert all(c.holidays == "US" for c in demo.calendars)
    used = {a.calendar for a in demo.agencies}
    assert used == set(by_code), "every demo calendar is used by an agency"


def test_demo_categories_are_grouped_and_have_overrides(demo):
    groups = {c.group for c in demo.categories}
    assert {
        "Money and credit",
        "Scams and fraud",
        "Phone, TV and internet",
        "Air travel",
        "Work and pay",
        "Workplace safety",
        "Housing",
        "Benefits",
        "Veterans",
        "Mail",
        "Product safety",
        "Environment",
        "Other",
    } <= groups
    overrides = {c.code: c.standards for c in demo.categories if c.standards}
    assert {"imminent-danger", "ssa-payment-missing", "airline-refund"} <= set(overrides)
    danger = {s.metric: s for s in overrides["imminent-danger"]}
    assert (danger["resolve"].target, danger["resolve"].unit) == (1, "business_days")


def test_demo_rules_cover_the_kinds_of_condition(demo):
    rules = demo.routing_rules
    assert all(any(getattr(r.when, k) for k in r.when.as_dict()) for r in rules), "no catch-all"
    assert rules[0].priority == "urgent" and rules[0].agency == "OSHA"
    assert sum(1 for r in rules if r.when.exclude) >= 2
    assert any(r.when.zip_prefixes and r.agency == "EPA" for r in rules)
    assert any(r.when.channels == ("sms",) for r in rules)
    terms = {t for r in rules for t in r.when.keywords + r.when.phrases}
    assert {"desalojo*", "salario*", "estafa*", "llamada automática"} <= terms
    # Urgent rules come before everything else.
    priorities = [r.priority for r in rules]
    assert priorities.index("normal") > max(i for i, p in enumerate(priorities) if p == "urgent")


def test_every_demo_agency_category_and_standard_is_in_spanish(demo):
    standards = [s for e in (*demo.agencies, *demo.categories) for s in e.standards]
    for agency in demo.agencies:
        assert set(agency.translations["es"]) == {"name", "description"}, agency.code
    for category in demo.categories:
        wanted = {k for k in ("name", "description", "group") if getattr(category, k)}
        assert set(category.translations["es"]) == wanted, category.code
    assert all(s.translations["es"]["wording"] != s.wording for s in standards)
    wage = next(c for c in demo.categories if c.code == "unpaid-wages")
    assert wage.translations["es"]["group"] == "Trabajo y salario"


def test_demo_round_trips_exactly(demo):
    text = dump_directory(demo)
    assert parse_directory(text, "export.yaml") == demo
    assert dump_directory(parse_directory(text)) == text


def test_demo_text_uses_only_documented_units_and_channels(demo):
    units = {s.unit for a in demo.agencies for s in a.standards} | {
        s.unit for c in demo.categories for s in c.standards
    }
    assert units == set(UNITS)
    assert {ch for r in demo.routing_rules for ch in r.when.channels} <= set(CHANNELS)


def test_the_example_in_the_format_reference_is_valid():
    doc = (Path(__file__).parent.parent / "docs" / "directory-format.md").read_text("utf-8")
    example = re.search(r"## The file at a glance\n\n```yaml\n(.*?)```", doc, re.S)
    assert example, "docs/directory-format.md lost its example"
    spec = parse_directory(example.group(1), "docs/directory-format.md")
    assert spec.triage_queue == ("CFPB", "complaints")


# --------------------------------------------------------------------------- property: round trip

_TRICKY = [
    "yes",
    "No",
    "null",
    "~",
    "1.5",
    "0x1A",
    "2026-01-01",
    "- a",
    "#x",
    "a: b",
    "'q'",
    '"dq"',
    "@at",
    "`bt",
    "*star",
    "&amp",
    "!bang",
    "%pct",
    "[x]",
    "{y}",
    "?",
    ":",
    "-",
    "a #b",
    "é ñ",
    "日本語",
    "🙂 emoji",
]
_printable = st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp"))
_text = st.one_of(st.sampled_from(_TRICKY), st.text(_printable, min_size=1, max_size=30)).map(
    lambda s: " ".join(s.split()) if s.strip() else "x"
)
_long_text = st.lists(_text, min_size=1, max_size=3).map("\n".join)
_slug = st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True)
_agency_code = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,8}", fullmatch=True)
_term = st.from_regex(r"[a-zñ]{1,8}( [a-z]{1,6})?\*?", fullmatch=True)
_hours = st.dictionaries(
    st.sampled_from(DAYS),
    st.sampled_from(["09:00-17:00", "08:00-12:00, 13:00-16:30", "00:00-24:00", "07:15-07:45"]),
    min_size=1,
)


@st.composite
def _standards(draw) -> tuple[StandardSpec, ...]:
    metrics = draw(st.lists(st.sampled_from(METRICS), unique=True, max_size=3))
    out = []
    for metric in metrics:
        unit = draw(st.sampled_from(UNITS))
        limit = 2000 if unit == "business_hours" else 365
        target = draw(
            st.one_of(st.integers(1, limit), st.integers(1, limit * 1000).map(lambda n: n / 1000))
        )
        goal = draw(st.integers(100, 10000).map(lambda n: n / 100))
        out.append(StandardSpec(metric, target, unit, goal, draw(_text), draw(_words(wording=1))))
    return tuple(out)


def _words(**fields: int):
    """Translations into Spanish of some of `fields` (1: one line, 2: may have several)."""
    texts = {key: _text if kind == 1 else _long_text for key, kind in fields.items()}
    return st.none().map(lambda _: {}) | st.fixed_dictionaries({}, optional=texts).filter(bool).map(
        lambda words: {"es": words}
    )


@st.composite
def _directories(draw) -> DirectorySpec:
    calendars = []
    for code in draw(st.lists(_slug, min_size=1, max_size=2, unique=True)):
        dates = draw(st.lists(st.dates(), unique=True, max_size=2))
        calendars.append(
            CalendarSpec(
                code,
                draw(_text),
                draw(st.sampled_from(["UTC", "America/New_York", "Pacific/Honolulu"])),
                draw(_hours),
                draw(st.sampled_from(["US", None, "NO", "CA"])),
                tuple(ClosureSpec(d, draw(_text)) for d in sorted(dates)),
            )
        )
    agency_codes = draw(st.lists(_agency_code, min_size=1, max_size=3, unique=True))
    triage_at = draw(st.integers(0, len(agency_codes) - 1))
    agencies = []
    for i, code in enumerate(agency_codes):
        queue_codes = draw(st.lists(_slug, min_size=1, max_size=3, unique=True))
        queues = tuple(
            QueueSpec(q, draw(_text), triage=(i == triage_at and j == 0))
            for j, q in enumerate(queue_codes)
        )
        agencies.append(
            AgencySpec(
                code,
                draw(_text),
                draw(st.sampled_from([c.code for c in calendars])),
                draw(st.none() | _long_text),
                draw(
                    st.none() | st.sampled_from(["https://www.usa.gov", "http://example.org/a?b=c"])
                ),
                queues,
                draw(_standards()),
                draw(_words(name=1, description=2)),
            )
        )
    categories = []
    for code in draw(st.lists(_slug, max_size=3, unique=True)):
        agency = draw(st.sampled_from(agencies))
        categories.append(
            CategorySpec(
                code,
                draw(_text),
                draw(st.none() | _long_text),
                draw(st.none() | _text),
                agency.code,
                draw(st.none() | st.sampled_from([q.code for q in agency.queues])),
                tuple(draw(st.lists(_text, max_size=3))),
                draw(_standards()),
                draw(_words(name=1, description=2, group=1)),
            )
        )
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        agency = draw(st.sampled_from(agencies))
        keywords = draw(st.lists(_term, max_size=3))
        when = ConditionsSpec(
            categories=tuple(
                draw(st.lists(st.sampled_from([c.code for c in categories]), max_size=2))
            )
            if categories
            else (),
            channels=tuple(draw(st.lists(st.sampled_from(CHANNELS), max_size=2))),
            keywords=tuple(keywords),
            phrases=tuple(draw(st.lists(_term, max_size=2))),
            exclude=tuple(draw(st.lists(_term, max_size=2))),
            zip_prefixes=tuple(
                draw(st.lists(st.from_regex(r"[0-9]{1,5}", fullmatch=True), max_size=2))
            ),
            languages=tuple(
                draw(st.lists(st.sampled_from(["en", "es", "es-MX", "zh-Hant"]), max_size=2))
            ),
        )
        rules.append(
            RuleSpec(
                draw(_text),
                when,
                agency.code,
                draw(st.none() | st.sampled_from([q.code for q in agency.queues])),
                draw(st.sampled_from(["low", "normal", "high", "urgent"])),
                draw(st.booleans()),
            )
        )
    return DirectorySpec(tuple(calendars), tuple(agencies), tuple(categories), tuple(rules))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_directories())
def test_any_valid_directory_round_trips_through_dump(spec):
    # Exclusions that fold to a keyword or phrase are rejected by design; skip those draws.
    folded = {t.casefold() for r in spec.routing_rules for t in r.when.exclude}
    if any(
        t.casefold() in folded for r in spec.routing_rules for t in r.when.keywords + r.when.phrases
    ):
        return
    text = dump_directory(spec)
    assert parse_directory(text, "generated.yaml") == spec
    assert dump_directory(parse_directory(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parser(text):
    try:
        parse_directory(text, "fuzz.yaml")
    except DirectoryError as exc:
        assert exc.problems
        assert all(isinstance(p, Problem) and p.file == "fuzz.yaml" for p in exc.problems)
        assert all(
            re.match(r"fuzz\.yaml(:\d+)?: ", line)
            for line in str(exc).splitlines()
            if line.startswith("fuzz")
        )
