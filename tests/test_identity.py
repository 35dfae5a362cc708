"""A customer's case is theirs alone: a contact acts on a case only when it is on the case
or proven for its customer (issue 14, attack 1, and its mirror). Every attempt by a contact
typed beside someone else's is refused with the answer a wrong reference gets, recorded on
the case, and changes nothing; a customer proves a new contact with a one-time code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.cases.models import Case
from app.common.time import frozen_time, utcnow
from app.customers import merge
from app.customers.models import ContactCode, ContactPoint, Customer, CustomerMerge
from app.customers.service import set_contact_status
from app.extensions import db
from app.notify.models import OutboxItem
from channels.sms import replies
from tests.email_support import complaint, send_in
from tests.helpers import act
from tests.sms_support import text_us, twilio_standin

VICTIM_EMAIL = "victim1@example.org"
VICTIM_PHONE = "+12025550143"
ATTACKER_PHONE = "+12025550188"
ATTACKER_EMAIL = "mallory@evil.example"
ADMIN = "admin@redress.example"
DEBT = "A debt collector calls me at work every day about a debt I already paid."


@pytest.fixture
def twilio(app, monkeypatch):
    yield from twilio_standin(app, monkeypatch)


def file(client, **body) -> str:
    r = client.post("/api/v1/complaints", json={"description": DEBT, **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["reference"]


def case_of(reference: str) -> Case:
    db.session.expire_all()
    return db.session.scalar(db.select(Case).where(Case.reference == reference))


def snapshot(reference: str) -> tuple:
    """What a refusal must leave as it was: messages, status, customer, contacts on the case."""
    case = case_of(reference)
    return (
        [(m.direction, m.channel, m.body) for m in case.messages],
        case.status,
        case.customer_id,
        sorted((c.kind, c.value) for c in case.case_contacts),
        sorted((p.kind, p.value, p.proven_by) for p in case.customer.contacts),
    )


def refusals(reference: str) -> list[dict]:
    case = case_of(reference)
    return [e.after for e in case.events if e.kind == "access_refused"]


def outbox_to(recipient: str) -> list[OutboxItem]:
    return list(
        db.session.scalars(
            db.select(OutboxItem).where(OutboxItem.recipient == recipient).order_by(OutboxItem.id)
        )
    )


def reply_as_staff(client, staff_token, reference: str, body: str) -> None:
    act(client, staff_token(ADMIN), reference, action="reply", body=body)


@pytest.fixture
def hijack(client, staff_token):
    """Attack 1 as it was run: the victim's case has a caseworker's reply; the attacker
    files with the victim's email and their own phone."""
    victim = file(client, email=VICTIM_EMAIL)
    reply_as_staff(client, staff_token, victim, "We called the collector; it must stop.")
    attacker = file(client, email=VICTIM_EMAIL, phone=ATTACKER_PHONE, preferred_contact="sms")
    return victim, attacker


# --- attack 1, step by step ------------------------------------------------------------


def test_a_phone_typed_beside_the_victims_email_does_not_join_the_victims_customer(hijack):
    victim, attacker = hijack
    victim_case, attacker_case = case_of(victim), case_of(attacker)
    points = {(p.kind, p.value) for p in victim_case.customer.contacts}
    assert points == {("email", VICTIM_EMAIL)}
    assert (
        db.session.scalar(db.select(ContactPoint).where(ContactPoint.value == ATTACKER_PHONE))
        is None
    )
    # The attacker's own case keeps both contacts it was filed with, and only that case.
    assert {(c.kind, c.value) for c in attacker_case.case_contacts} == {
        ("email", VICTIM_EMAIL),
        ("phone", ATTACKER_PHONE),
    }
    assert {(c.kind, c.value) for c in victim_case.case_contacts} == {("email", VICTIM_EMAIL)}


def test_the_attackers_phone_cannot_track_the_victims_case(client, hijack):
    victim, attacker = hijack
    before = snapshot(victim)
    refused = client.get(f"/api/v1/track/{victim}", query_string={"contact": ATTACKER_PHONE})
    missing = client.get("/api/v1/track/RX-0000-0000", query_string={"contact": ATTACKER_PHONE})
    assert refused.status_code == missing.status_code == 404
    assert refused.get_json() == missing.get_json()
    assert b"We called the collector" not in refused.data
    page = client.post("/track", data={"reference": victim, "contact": ATTACKER_PHONE})
    assert page.status_code == 404 and b"We called the collector" not in page.data
    assert snapshot(victim) == before
    assert refusals(victim) == [
        {"channel": "api", "asked": "track", "contact": "***0188"},
        {"channel": "web", "asked": "track", "contact": "***0188"},
    ]
    # The attacker tracks their own case, which is all that phone was given for.
    assert (
        client.get(
            f"/api/v1/track/{attacker}", query_string={"contact": ATTACKER_PHONE}
        ).status_code
        == 200
    )


def test_case_by_text_from_the_attackers_phone_does_not_thread_into_the_victims_case(
    client, hijack, twilio
):
    victim, attacker = hijack
    before = snapshot(victim)
    _, reply = text_us(client, f"CASE {victim}", sender=ATTACKER_PHONE)
    assert reply == replies.simple("not_found", "en", reference=victim)
    _, reply = text_us(client, "I also want my money back.", sender=ATTACKER_PHONE)
    assert reply.startswith(f"Added to your case {attacker}")
    assert snapshot(victim) == before
    assert refusals(victim) == [{"channel": "sms", "asked": "case", "contact": "***0188"}]


def test_status_by_text_from_the_attackers_phone_says_nothing_of_the_victims_case(
    client, hijack, twilio
):
    victim, attacker = hijack
    before = snapshot(victim)
    _, reply = text_us(client, f"STATUS {victim}", sender=ATTACKER_PHONE)
    assert reply == replies.simple("not_found", "en", reference=victim)
    _, reply = text_us(client, "STATUS", sender=ATTACKER_PHONE)
    assert attacker in reply and victim not in reply
    assert snapshot(victim) == before
    assert refusals(victim) == [{"channel": "sms", "asked": "status", "contact": "***0188"}]


def test_status_email_from_an_address_typed_beside_the_victims_phone_lists_none_of_theirs(
    client,
):
    victim = file(client, phone=VICTIM_PHONE)
    attacker = file(client, phone=VICTIM_PHONE, email=ATTACKER_EMAIL)
    before = snapshot(victim)
    row = send_in(complaint("STATUS", "", sender=ATTACKER_EMAIL).as_bytes())
    assert (row.outcome, row.kind) == ("ignored", "status")
    (answer,) = outbox_to(ATTACKER_EMAIL.lower())[-1:]
    assert attacker in answer.body and victim not in answer.body
    named = send_in(complaint("STATUS", f"status {victim}", sender=ATTACKER_EMAIL).as_bytes())
    assert named.case_id is None
    answer = outbox_to(ATTACKER_EMAIL.lower())[-1]
    assert answer.subject == "We could not find your complaint"
    assert snapshot(victim) == before
    assert refusals(victim) == [
        {"channel": "email", "asked": "status", "contact": "m***@evil.example"}
    ]


def test_an_email_reply_from_an_address_typed_beside_the_victims_phone_is_not_threaded(
    client,
):
    victim = file(client, phone=VICTIM_PHONE)
    file(client, phone=VICTIM_PHONE, email=ATTACKER_EMAIL)
    before = snapshot(victim)
    row = send_in(
        complaint(f"Re: your complaint [{victim}]", "Cancel it.", ATTACKER_EMAIL).as_bytes()
    )
    assert row.outcome == "case_opened" and row.case.reference != victim
    assert row.case.has_flag("review_link")
    assert snapshot(victim) == before
    assert refusals(victim)[-1]["asked"] == "thread"


def test_the_next_staff_reply_on_the_victims_case_never_goes_to_the_attackers_phone(
    client, staff_token, hijack
):
    victim, _attacker = hijack
    reply_as_staff(client, staff_token, victim, "Here is the collector's letter.")
    assert [i.recipient for i in case_of(victim).messages[-1].deliveries] == [VICTIM_EMAIL]
    # Even when the victim's email stops working, updates do not fall back to that phone.
    set_contact_status("email", VICTIM_EMAIL, "undeliverable", "bounced", utcnow())
    db.session.commit()
    reply_as_staff(client, staff_token, victim, "Please call us.")
    assert case_of(victim).messages[-1].deliveries == []
    assert not [i for i in outbox_to(ATTACKER_PHONE) if i.case.reference == victim]


# --- the mirror: the attacker files first with the victim's (not yet known) email ---------


@pytest.fixture
def planted(client, twilio):
    """The attacker files first with the victim's email and their own phone; later the victim
    writes in from that email, and files again on the web."""
    attacker = file(client, email=VICTIM_EMAIL, phone=ATTACKER_PHONE)
    row = send_in(complaint("Debt collector", DEBT, sender=VICTIM_EMAIL).as_bytes())
    assert row.outcome == "case_opened"
    web = file(client, email=VICTIM_EMAIL)
    return attacker, row.case.reference, web


def test_the_planted_phone_gains_none_of_the_victims_later_cases(client, staff_token, planted):
    attacker, by_email, by_web = planted
    for victim in (by_email, by_web):
        assert (
            client.get(
                f"/api/v1/track/{victim}", query_string={"contact": ATTACKER_PHONE}
            ).status_code
            == 404
        )
        _, reply = text_us(client, f"CASE {victim}", sender=ATTACKER_PHONE)
        assert reply == replies.simple("not_found", "en", reference=victim)
    _, reply = text_us(client, "STATUS", sender=ATTACKER_PHONE)
    assert attacker in reply and by_email not in reply and by_web not in reply
    # The victim's updates go to the victim's email, never to the phone, even after a bounce.
    set_contact_status("email", VICTIM_EMAIL, "undeliverable", "bounced", utcnow())
    db.session.commit()
    for victim in (by_email, by_web):
        reply_as_staff(client, staff_token, victim, "An update for you.")
        assert case_of(victim).messages[-1].deliveries == []
    assert all(i.case.reference == attacker for i in outbox_to(ATTACKER_PHONE))
    # The victim's own address still reaches all of them (it is on each one).
    assert (
        client.get(f"/api/v1/track/{by_email}", query_string={"contact": VICTIM_EMAIL}).status_code
        == 200
    )


# --- proving a new contact with a one-time code -------------------------------------------


def request_code(client, reference: str, contact: str, send_by: str = "email"):
    return client.post(
        f"/api/v1/track/{reference}/code", json={"contact": contact, "send_by": send_by}
    )


def verify(client, reference: str, contact: str, code: str, **extra):
    return client.post(
        f"/api/v1/track/{reference}/verify", json={"contact": contact, "code": code, **extra}
    )


def last_code(recipient: str) -> str:
    item = outbox_to(recipient)[-1]
    assert item.kind == "contact_code"
    return re.search(r"\b(\d{6})\b", item.body).group(1)


def test_a_customer_proves_a_new_phone_then_tracks_and_gets_updates_there(
    client, staff_token, twilio
):
    reference = file(client, email=VICTIM_EMAIL)
    new_phone = "(202) 555-0199"
    assert (
        client.get(f"/api/v1/track/{reference}", query_string={"contact": new_phone}).status_code
        == 404
    )
    asked = request_code(client, reference, new_phone)
    assert asked.status_code == 202
    item = outbox_to(VICTIM_EMAIL)[-1]
    assert item.channel == "email" and "***0199" in item.body  # says which number is added
    code = last_code(VICTIM_EMAIL)
    row = db.session.scalar(db.select(ContactCode))
    assert code not in row.code_hash and len(row.code_hash) == 64  # only a keyed hash is kept
    proved = verify(client, reference, new_phone, code, updates=True)
    assert proved.status_code == 200 and proved.get_json()["reference"] == reference
    assert (
        client.get(f"/api/v1/track/{reference}", query_string={"contact": new_phone}).status_code
        == 200
    )
    reply_as_staff(client, staff_token, reference, "We reached the collector.")
    assert [(d.channel, d.recipient) for d in case_of(reference).messages[-1].deliveries] == [
        ("sms", "+12025550199")
    ]
    _, reply = text_us(client, "STATUS", sender="+12025550199")
    assert reference in reply
    # The code went to the customer's proven email: the phone now acts on all their cases.
    point = db.session.scalar(db.select(ContactPoint).where(ContactPoint.value == "+12025550199"))
    assert point.customer_id == case_of(reference).customer_id and point.proven_by == "code"
    later = file(client, email=VICTIM_EMAIL, description="And now they call my mother.")
    assert (
        client.get(f"/api/v1/track/{later}", query_string={"contact": new_phone}).status_code == 200
    )
    assert [e.after["scope"] for e in case_of(reference).events if e.kind == "contact_proven"] == [
        "customer"
    ]


def test_a_code_expires_after_ten_minutes(client):
    reference = file(client, email=VICTIM_EMAIL)
    start = utcnow()
    with frozen_time(start):
        request_code(client, reference, ATTACKER_EMAIL)
    code = last_code(VICTIM_EMAIL)
    with frozen_time(start + timedelta(minutes=10, seconds=1)):
        late = verify(client, reference, ATTACKER_EMAIL, code)
    assert late.status_code == 422
    assert (
        client.get(
            f"/api/v1/track/{reference}", query_string={"contact": ATTACKER_EMAIL}
        ).status_code
        == 404
    )


def test_a_code_works_once(client):
    reference = file(client, email=VICTIM_EMAIL)
    request_code(client, reference, "+12025550199")
    code = last_code(VICTIM_EMAIL)
    assert verify(client, reference, "+12025550199", code).status_code == 200
    again = verify(client, reference, "+12025550199", code)
    assert again.status_code == 422


def test_five_wrong_codes_lock_it_and_the_right_one_no_longer_works(client):
    reference = file(client, email=VICTIM_EMAIL)
    request_code(client, reference, ATTACKER_PHONE)
    code = last_code(VICTIM_EMAIL)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = [verify(client, reference, ATTACKER_PHONE, wrong) for _ in range(5)]
    assert {a.status_code for a in answers} == {422}
    assert verify(client, reference, ATTACKER_PHONE, code).status_code == 422
    assert snapshot(reference)[3] == [("email", VICTIM_EMAIL)]
    kinds = [e.kind for e in case_of(reference).events]
    assert "contact_code_locked" in kinds and "contact_proven" not in kinds


def test_guesses_sent_at_once_get_no_more_than_five_tries(app, client):
    """Twelve wrong codes in parallel: the attempt count is taken atomically, so at most five
    are checked, then the code is locked and the right one fails too."""
    import threading

    from app.customers import proof

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    reference = file(client, email=VICTIM_EMAIL)
    request_code(client, reference, ATTACKER_PHONE)
    code = last_code(VICTIM_EMAIL)
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 13)]
    barrier, proved, errors = threading.Barrier(len(wrong)), [], []

    def guess(attempt: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                proved.append(proof.verify_code(reference, ATTACKER_PHONE, attempt, utcnow()))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess, args=(w,)) for w in wrong]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and proved == [None] * len(wrong)
    db.session.expire_all()
    row = db.session.scalar(db.select(ContactCode))
    assert row.attempts == 5 and row.closed_reason == "locked"
    assert verify(client, reference, ATTACKER_PHONE, code).status_code == 422


def test_code_requests_are_limited_per_contact_and_per_case(client):
    reference = file(client, email=VICTIM_EMAIL)
    for _ in range(5):
        assert request_code(client, reference, ATTACKER_PHONE).status_code == 202
    assert len(outbox_to(VICTIM_EMAIL)) == 1 + 3  # the acknowledgment, then three codes
    for n in range(5):
        request_code(client, reference, f"+1202555017{n}")
    assert len(outbox_to(VICTIM_EMAIL)) == 1 + 6
    assert db.session.scalar(db.select(db.func.count(ContactCode.id))) == 6


def test_the_code_answers_are_the_same_whatever_exists(client):
    reference = file(client, email=VICTIM_EMAIL)
    answers = [
        request_code(client, reference, ATTACKER_PHONE),  # a code is sent
        request_code(client, "RX-0000-0000", ATTACKER_PHONE),  # no such case
        request_code(client, reference, ATTACKER_PHONE, "sms"),  # no phone on file
        request_code(client, reference, VICTIM_EMAIL),  # already on the case
    ]
    assert {(a.status_code, a.get_data()) for a in answers} == {(202, answers[0].get_data())}
    failures = [
        verify(client, reference, ATTACKER_PHONE, "000000"),
        verify(client, "RX-0000-0000", ATTACKER_PHONE, "000000"),
        verify(client, reference, "someone@example.org", "000000"),
    ]
    assert {(f.status_code, f.get_data()) for f in failures} == {(422, failures[0].get_data())}
    assert len(outbox_to(VICTIM_EMAIL)) == 2  # the acknowledgment and one code


def test_a_code_sent_to_a_contact_only_typed_on_the_case_proves_for_that_case_only(
    client, hijack, twilio
):
    """The attacker's own case carries the victim's email and the attacker's phone: a code
    by text to that phone proves a new contact for the attacker's case, never for the
    victim's customer."""
    victim, attacker = hijack
    request_code(client, attacker, "other@evil.example", "sms")
    (item,) = outbox_to(ATTACKER_PHONE)[-1:]
    code = re.search(r"\b(\d{6})\b", item.body).group(1)
    assert verify(client, attacker, "other@evil.example", code).status_code == 200
    assert (
        client.get(
            f"/api/v1/track/{attacker}", query_string={"contact": "other@evil.example"}
        ).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/track/{victim}", query_string={"contact": "other@evil.example"}
        ).status_code
        == 404
    )
    assert (
        db.session.scalar(db.select(ContactPoint).where(ContactPoint.value == "other@evil.example"))
        is None
    )


# --- the tracking page: the contact stays out of the URL -----------------------------------


def test_the_tracking_page_posts_and_remembers_the_proof_for_this_browser(app, client):
    reference = file(client, email=VICTIM_EMAIL)
    r = client.post("/track", data={"reference": reference, "contact": VICTIM_EMAIL})
    assert r.status_code == 303 and r.location == f"/track/{reference}"
    page = client.get(r.location)
    assert page.status_code == 200 and DEBT.encode() in page.data
    other = app.test_client()
    assert other.get(f"/track/{reference}").status_code == 303  # no proof in that browser


def test_the_tracking_page_proves_a_new_contact_with_a_code(client):
    reference = file(client, email=VICTIM_EMAIL)
    refused = client.post("/track", data={"reference": reference, "contact": "+12025550199"})
    assert refused.status_code == 404
    assert b"Send a code by email" in refused.data
    sent = client.post(
        "/track/code",
        data={"reference": reference, "contact": "+12025550199", "send_by": "email"},
    )
    assert sent.status_code == 200 and b"Enter your code" in sent.data
    code = last_code(VICTIM_EMAIL)
    wrong = client.post(
        "/track/verify", data={"reference": reference, "contact": "+12025550199", "code": "1"}
    )
    assert wrong.status_code == 422 and b"That code is not right" in wrong.data
    done = client.post(
        "/track/verify",
        data={"reference": reference, "contact": "+12025550199", "code": code, "updates": "yes"},
    )
    assert done.status_code == 303 and done.location == f"/track/{reference}"
    assert client.get(done.location).status_code == 200
    assert case_of(reference).preferred_contact == "sms"


# --- staff merge two customers that are one person ----------------------------------------


def test_a_supervisor_merges_two_customers_after_seeing_both_histories(client, staff_token, twilio):
    by_text, _ = text_us(client, "A debt collector texts me at night about a paid debt.")
    texted = db.session.scalar(db.select(Case).where(Case.channel == "sms"))
    emailed = file(client, email=VICTIM_EMAIL)
    a, b = texted.customer_id, case_of(emailed).customer_id
    assert a != b
    supervisor = staff_token("supervisor@cfpb.example")
    seen = client.get(f"/api/v1/customers/{a}", headers=supervisor).get_json()
    assert [c["reference"] for c in seen["cases"]] == [texted.reference]
    assert seen["contacts"][0]["proven"] is True
    worker = staff_token("caseworker@cfpb.example")
    assert (
        client.post(f"/api/v1/customers/{a}/merge", json={"into": b}, headers=worker).status_code
        == 403
    )
    other_agency = staff_token("caseworker@ftc.example")
    assert client.get(f"/api/v1/customers/{a}", headers=other_agency).status_code == 404
    merged = client.post(
        f"/api/v1/customers/{a}/merge",
        json={"into": b, "reason": "Same person: she told us on the phone."},
        headers=supervisor,
    )
    assert merged.status_code == 200, merged.get_json()
    assert {c["reference"] for c in merged.get_json()["cases"]} == {texted.reference, emailed}
    db.session.expire_all()
    assert merge.merged_into(db.session.get(Customer, a)) == b
    for ref in (texted.reference, emailed):
        (event,) = [e for e in case_of(ref).events if e.kind == "customer_merged"]
        assert event.actor.email == "supervisor@cfpb.example"
    # Now the phone tracks the emailed case, and the email the texted one.
    assert (
        client.get(f"/api/v1/track/{emailed}", query_string={"contact": "+12025550143"}).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/track/{texted.reference}", query_string={"contact": VICTIM_EMAIL}
        ).status_code
        == 200
    )
    audit = db.session.scalar(db.select(CustomerMerge))
    assert (audit.from_customer_id, audit.into_customer_id) == (a, b)
    assert audit.actor.email == "supervisor@cfpb.example"
    assert audit.moved["cases"] == [texted.reference]


def test_the_workspace_shows_both_histories_before_a_merge(client, twilio):
    from tests.workspace_support import sign_in

    text_us(client, "A debt collector texts me at night about a paid debt.")
    texted = db.session.scalar(db.select(Case).where(Case.channel == "sms"))
    emailed = case_of(file(client, email=VICTIM_EMAIL))
    sign_in(client, "supervisor@cfpb.example")
    page = client.get(f"/staff/customers/{emailed.customer_id}")
    assert page.status_code == 200 and b"Merge another customer into this one" in page.data
    compare = client.get(
        f"/staff/customers/{emailed.customer_id}/merge", query_string={"case": texted.reference}
    )
    html = compare.get_data(as_text=True)
    assert compare.status_code == 200
    assert texted.reference in html and emailed.reference in html
    assert "+12025550143" in html and VICTIM_EMAIL in html
    assert merge.merged_into(db.session.get(Customer, texted.customer_id)) is None  # not yet
    done = client.post(
        f"/staff/customers/{emailed.customer_id}/merge",
        data={"from": texted.customer_id, "reason": "Same person."},
    )
    assert done.status_code == 302
    assert case_of(texted.reference).customer_id == emailed.customer_id


def test_staff_see_which_contacts_are_proven_and_which_are_on_the_case(client, hijack):
    from tests.workspace_support import sign_in

    _victim, attacker = hijack
    sign_in(client, ADMIN)
    html = client.get(f"/staff/cases/{attacker}").get_data(as_text=True)
    assert f"On this case: {VICTIM_EMAIL}, {ATTACKER_PHONE}" in html
