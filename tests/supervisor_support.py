"""A supervisor's day: CFPB's open cases in every SLA situation the dashboard must count the
same way everywhere, built through the real case service, plus FTC cases it must not show.

`build_day(now)` works at any `now` (a frozen one in the unit tests, the real one in the
browser tests, whose live server cannot see frozen time); cases are placed far enough from
every due and at-risk time that the expected state does not depend on the weekday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from app.cases.service import act
from app.common.time import frozen_time
from app.directory.models import Agency, Queue
from app.extensions import db
from tests.workspace_support import (
    ADMIN,
    CFPB_SUPERVISOR,
    CFPB_WORKER,
    CFPB_WORKER2,
    open_test_case,
    staff,
)

DAY = timedelta(days=1)
CASE_LINK = re.compile(r'href="/staff/cases/([A-Z0-9-]+)"')


@dataclass
class Day:
    """What the dashboard of CFPB must show, by reference."""

    breached: set[str] = field(default_factory=set)
    at_risk: set[str] = field(default_factory=set)
    other_open: set[str] = field(default_factory=set)  # on track or paused
    gone: set[str] = field(default_factory=set)  # merged, transferred away, closed, resolved
    ftc: set[str] = field(default_factory=set)
    assignee: dict[str, str | None] = field(default_factory=dict)  # reference -> email
    servicemembers: set[str] = field(default_factory=set)

    @property
    def open(self) -> set[str]:
        return self.breached | self.at_risk | self.other_open


def _open(day: Day, now: datetime, age_days: float, *, ack: bool = True, **kw):
    with frozen_time(now - timedelta(days=age_days)):
        return open_test_case(
            kw.pop("description", f"Case {len(day.assignee) + 1}: the bank keeps charging me."),
            received_at=now - timedelta(days=age_days),
            acknowledge=ack,
            **kw,
        )


def _assign(case, email: str | None, now: datetime) -> None:
    if email:
        act(case, "assign", staff(CFPB_SUPERVISOR), {"assignee": email}, now=now)


def build_day(
    now: datetime, *, extra_on_track: int = 0, extra_breached: int = 0, history: int = 0
) -> Day:
    """CFPB: breached cases (one with two clocks overdue, one at risk on another clock too, one
    with a clock paused beside the overdue one, one transferred in already overdue, one held
    by an admin, one by a member since deactivated), at-risk ones, a case whose only miss is
    an acknowledgment sent late (on track now), one waiting on the customer after a late
    answer (paused), on-track ones; and cases that must not count: merged, transferred away,
    closed, resolved. FTC: breached cases of its own. `extra_*` add more of the plain kinds
    (for a dashboard with some 40 cases); `history` resolved cases over the last twelve weeks,
    some answered late, for the compliance trend."""
    day = Day()
    sup = staff(CFPB_SUPERVISOR)
    servicemembers = db.session.scalar(
        db.select(Queue).join(Agency).where(Agency.code == "CFPB", Queue.code == "servicemembers")
    )

    def keep(case, bucket: set[str], who: str | None = None):
        bucket.add(case.reference)
        day.assignee[case.reference] = who
        _assign(case, who, now)
        return case

    # Breached: never acknowledged, 20 days on - acknowledge and first response both overdue.
    keep(_open(day, now, 20, ack=False), day.breached, CFPB_WORKER)
    # Breached on acknowledge, first response at risk (14 of 15 days): listed once, breached.
    keep(_open(day, now, 14, ack=False), day.breached, CFPB_WORKER2)
    # Breached with the resolve clock paused beside the overdue one (no action leaves a case
    # so today; a directory change can): the running overdue clock decides.
    both = keep(_open(day, now, 25, ack=False), day.breached, None)
    resolve = next(c for c in both.clocks if c.metric == "resolve")
    resolve.phase, resolve.paused_at = "paused", now - 2 * DAY
    # Breached, in the servicemembers queue, held by an admin.
    held = keep(_open(day, now, 40, ack=False), day.breached, ADMIN)
    held.queue = servicemembers
    day.servicemembers.add(held.reference)
    # Breached and held by a caseworker deactivated since.
    keep(_open(day, now, 18), day.breached, CFPB_WORKER2)
    # Transferred in from the FTC: CFPB's first-response clock starts at the original
    # received time, 17 days ago, so it is overdue at once.
    moved_in = _open(day, now, 17, category="scam", description="A caller said I won a prize.")
    act(
        moved_in,
        "transfer",
        staff(ADMIN),
        {"agency": "CFPB", "reason": "Bank fees."},
        now=now - DAY,
    )
    keep(moved_in, day.breached, None)
    for i in range(extra_breached):
        keep(_open(day, now, 16 + 2 * i), day.breached, (CFPB_WORKER, CFPB_WORKER2, None)[i % 3])

    # At risk: first response 12.5 of 15 calendar days in, acknowledged.
    keep(_open(day, now, 12.5), day.at_risk, CFPB_WORKER)
    sm = keep(_open(day, now, 13), day.at_risk, None)
    sm.queue = servicemembers
    day.servicemembers.add(sm.reference)

    # Acknowledged late (2 days after), answered since: history, not breached now.
    late = _open(day, now, 9, ack=False)
    act(late, "reply", sup, {"body": "Sorry for the wait."}, now=now - 7 * DAY)
    keep(late, day.other_open, CFPB_WORKER)
    # Answered late, then waiting on the customer: paused, not breached.
    waiting = _open(day, now, 10, ack=False)
    act(waiting, "request_info", sup, {"body": "Which account is it?"}, now=now - DAY)
    keep(waiting, day.other_open, CFPB_WORKER2)
    # On track.
    for i in range(2 + extra_on_track):
        keep(
            _open(day, now, (0.2, 1, 3, 4, 7, 8)[i % 6]),
            day.other_open,
            (CFPB_WORKER, None, CFPB_WORKER2)[i % 3],
        )

    # Not counted: merged (was breached), transferred away (was breached), closed, resolved.
    merged = _open(day, now, 30, ack=False)
    act(
        merged,
        "merge",
        sup,
        {"into": moved_in.reference, "reason": "Same complaint."},
        now=now - DAY,
    )
    day.gone.add(merged.reference)
    away = _open(day, now, 22, ack=False)
    act(away, "transfer", sup, {"agency": "FTC", "reason": "A scam, not a bank."}, now=now - DAY)
    day.gone.add(away.reference)
    closed = _open(day, now, 21, ack=False)
    act(closed, "close", sup, {"reason": "Duplicate by phone."}, now=now - DAY)
    day.gone.add(closed.reference)
    resolved = _open(day, now, 5)
    act(resolved, "resolve", sup, {"resolution": "The bank refunded the fees."}, now=now - DAY)
    day.gone.add(resolved.reference)

    for i in range(history):
        received = now - timedelta(days=5 + 80 * i / max(history, 1))
        old = _open(day, now, (now - received).total_seconds() / 86400, ack=i % 4 != 0)
        answered = received + (4 * DAY if i % 5 == 0 else DAY / 3)
        act(old, "resolve", sup, {"resolution": "Refunded."}, now=min(answered, now - DAY))
        day.gone.add(old.reference)

    # The FTC's own breached cases (and the one CFPB sent it).
    for age in (20, 30):
        day.ftc.add(_open(day, now, age, ack=False, category="scam").reference)
    day.ftc.add(away.reference)
    staff(CFPB_WORKER2).active = False  # _reset_staff puts it back after the test
    db.session.commit()
    return day


def queue_refs(client, href: str) -> list[str]:
    """Every case reference a queue list shows, following its Next page links."""
    refs: list[str] = []
    while href:
        page = client.get(href)
        assert page.status_code == 200, (href, page.status_code)
        html = page.get_data(as_text=True)
        refs += CASE_LINK.findall(html)
        nxt = re.search(r'href="([^"]+)">Next page</a>', html)
        href = nxt[1].replace("&amp;", "&") if nxt else None
    return refs


def team_queue(**filters) -> str:
    return "/staff/queues/team?" + urlencode(filters)
