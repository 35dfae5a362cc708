"""Run schemathesis (every check) against the app's own OpenAPI document and report in words.

The app is served from a thread of the test process on a free loopback port: schemathesis
4's in-process WSGI transport crashes in its `ignored_auth` probe (it hands requests-only
options to werkzeug's test client), and an HTTP server exercises the real request path too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A schema-valid request may still name something that does not exist or is not valid in
# a way no JSON Schema can say (a cursor we did not sign, a phone number that is not
# assigned, a date more than a year ago): for those the app answers 422 with the field's
# message, and the positive-data check accepts that besides its own defaults.
POSITIVE_EXPECTED = ["2XX", "3XX", "401", "403", "404", "409", "422", "429"]


@dataclass
class FuzzReport:
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(
            [f"{len(self.operations)} operations, {self.cases} requests"]
            + [f"FAILURE {f}" for f in self.failures]
            + [f"ERROR {e}" for e in self.errors]
        )


def run_schemathesis(
    base_url: str, *, headers: dict | None = None, max_examples: int = 10, seed: int = 14
) -> FuzzReport:
    import schemathesis
    from schemathesis.engine import events, from_schema

    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "workers": 1,
            # The same requests on every run: no cache of earlier runs, no example database.
            "cache": {"enabled": False},
            "generation": {"max-examples": max_examples, "database": "none"},
            "headers": headers or {},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_EXPECTED}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)
    report = FuzzReport()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            report.cases += len(recorder.interactions)
            if recorder.label != "Stateful tests":
                report.operations.add(recorder.label)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    node = recorder.cases.get(case_id)
                    request = node.value.as_curl_command() if node else ""
                    failure = check.failure_info.failure
                    report.failures.append(
                        f"{recorder.label}: {check.name}: {failure.title}: "
                        f"{failure.message}\n    {request}"
                    )
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
    return report
