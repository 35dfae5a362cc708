"""The public site through the Flask test client: form, confirmation, tracking, standards."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app import create_app
from app.cases import presenters
from app.cases.models import Case
from app.common.time import frozen_time
from app.directory.models import Agency, ServiceStandard
from app.extensions import db
from tests.helpers import act, ny

VALID = {
    "description": "Equifax shows a credit card account that is not mine.",
    "category": "credit-report",
    "name": "Maria Lopez",
    "email": "maria.lopez@example.org",
    "phone": "",
    "address": "",
    "zip": "20500",
    "preferred_contact": "email",
    "language": "en",
}
NOT_FOUND_TEXT = (
    "We could not find a complaint with that reference and contact. Check both and try again."
)


class _Form(HTMLParser):
    """Collects the form controls, labels and elements by id of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.labels: dict[str, str] = {}
        self.ids: dict[str, dict] = {}
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self._in_fieldset_legend = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids[attrs["id"]] = {"tag": tag, **attrs}
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            self.controls.append({"tag": tag, **attrs})
        if tag == "label":
            self._label_for = attrs.get("for")
            self._label_text = []

    def handle_data(self, data):
        if self._label_for is not None:
            self._label_text.append(data)

    def handle_endtag(self, tag):
        if tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None


def parse(html: bytes) -> _Form:
    parser = _Form()
    parser.feed(html.decode())
    return parser


def text_of(html: bytes) -> str:
    """The page's words, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


def file_complaint(client, **changes):
    return client.post("/complaints/new", data={**VALID, **changes})


# --- The complaint form ------------------------------------------------------------------


def test_form_has_a_label_tied_to_every_control(client):
    r = client.get("/complaints/new")
    assert r.status_code == 200
    page = parse(r.data)
    names = {c["name"] for c in page.controls}
    assert names == {
        "description", "category", "name", "address", "zip", "email", "phone",
        "preferred_contact", "language",
    }  # fmt: skip
    for control in page.controls:
        assert control.get("id"), control
        assert page.labels.get(control["id"]), f"no label for {control['id']}"
    # Hints are read with their field.
    zip_input = page.ids["zip"]
    assert "zip-hint" in zip_input["aria-describedby"]
    assert page.ids["zip-hint"]["tag"] == "div"
    assert b'<html lang="en"' in r.data
    assert b'id="main-content"' in r.data
    assert b'href="#main-content"' in r.data


def test_category_list_is_grouped_and_starts_with_not_sure(client):
    html = client.get("/complaints/new").data.decode()
    select = html[html.index('<select class="usa-select" id="category"') :]
    select = select[: select.index("</select>")]
    first = re.search(r"<option value=\"([^\"]*)\"[^>]*>([^<]*)<", select)
    assert first.groups() == ("", "I’m not sure")
    assert '<optgroup label="Money and credit">' in select
    assert '<option value="credit-report">' in select


def test_contact_choices_are_radios_with_the_contract_values(client):
    page = parse(client.get("/complaints/new").data)
    radios = [c for c in page.controls if c.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["email", "sms", "mail", "none"]
    assert [page.labels[r["id"]] for r in radios] == [
        "Email", "Text message", "Mail", "No contact needed",
    ]  # fmt: skip


def test_valid_complaint_redirects_to_confirmation_with_reference_agency_and_dates(client):
    # Wednesday before Thanksgiving 2026, 10:00 in Washington. Without workers the
    # acknowledgment goes out at once (inline), so the page says so and promises the rest.
    with frozen_time(ny(2026, 11, 25, 10, 0)):
        r = file_complaint(client)
        assert r.status_code == 303
        match = re.fullmatch(r"/complaints/(RX-[0-9A-Z]{4}-[0-9A-Z]{4})/confirmation", r.location)
        assert match, r.location
        reference = match.group(1)
        page = client.get(r.location)
    assert page.status_code == 200
    text = text_of(page.data)
    assert reference in text
    assert "Consumer Financial Protection Bureau" in text
    assert "Wrong information on my credit report" in text
    assert "We acknowledged your complaint on Wednesday, November 25." in text
    case = db.session.scalar(db.select(Case).where(Case.reference == reference))
    first = next(c for c in case.clocks if c.metric == "first_response")
    expected = presenters.plain_date(case, first.due_at, today=ny(2026, 11, 25, 10, 0))
    assert f"We will respond to you by {expected}." in text
    assert f"/track?reference={reference}" in page.data.decode()
    assert page.headers["Cache-Control"] == "no-store"
    case = db.session.scalar(db.select(Case).where(Case.reference == reference))
    assert case.channel == "web"
    assert case.preferred_contact == "email"
    assert case.customer.name == "Maria Lopez"


def test_complaint_without_category_or_contact_is_still_accepted(client):
    r = client.post("/complaints/new", data={"description": "Robocalls about my car warranty."})
    assert r.status_code == 303
    text = text_of(client.get(r.location).data)
    assert "No category chosen" in text


def test_invalid_complaint_is_422_with_error_summary_and_input_kept(client):
    r = file_complaint(
        client,
        description="   ",
        zip="123",
        email="not-an-email",
        name="Maria <Lopez>",
        preferred_contact="sms",
    )
    assert r.status_code == 422
    html = r.data.decode()
    assert "<title>Error: File a complaint | Redress</title>" in html
    summary = html[html.index('class="usa-alert usa-alert--error') :]
    summary = summary[: summary.index("</ul>")]
    assert "There is a problem" in summary
    links = re.findall(r'<a href="#([a-z_-]+)">([^<]+)</a>', summary)
    linked = [field for field, _ in links]
    # Every problem at once, in the order of the form.
    assert linked == ["description", "zip", "email", "phone"]
    page = parse(r.data)
    for field in linked:
        control = page.ids[field]
        assert "usa-input--error" in control["class"]
        assert f"{field}-error" in control["aria-describedby"].split()
        assert page.ids[f"{field}-error"]["class"] == "usa-error-message"
    assert html.count("usa-form-group--error") == 4
    # What the person typed is still there (escaped).
    assert 'value="Maria &lt;Lopez&gt;"' in html
    assert 'value="not-an-email"' in html
    assert 'value="123"' in html
    assert 'value="sms" checked' in html
    assert '<option value="credit-report" selected>' in html
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_unknown_category_is_shown_as_a_field_error(client):
    r = file_complaint(client, category="no-such-category")
    assert r.status_code == 422
    html = r.data.decode()
    assert '<a href="#category">Choose a category from the list' in html
    assert 'aria-describedby="category-hint category-error"' in html
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_description_typed_by_the_person_is_kept_after_an_error(client):
    r = file_complaint(client, description="My bank & I <disagree>", zip="abc")
    assert r.status_code == 422
    assert b"My bank &amp; I &lt;disagree&gt;</textarea>" in r.data


def test_confirmation_is_404_for_a_reference_not_filed_in_this_browser(app, client):
    r = file_complaint(client)
    location = r.location
    assert client.get(location).status_code == 200
    other_browser = app.test_client()
    page = other_browser.get(location)
    assert page.status_code == 404
    reference = location.split("/")[2]
    assert reference.encode() not in page.data
    assert client.get("/complaints/RX-0000-0000/confirmation").status_code == 404


def test_post_without_csrf_token_is_refused_when_csrf_is_on(app):
    secured = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        WTF_CSRF_ENABLED=True,
    )
    client = secured.test_client()
    try:
        form = client.get("/complaints/new")
        assert form.status_code == 200
        token = re.search(rb'name="csrf_token" value="([^"]+)"', form.data).group(1).decode()
        refused = client.post("/complaints/new", data=VALID)
        assert refused.status_code == 400
        assert db.session.scalar(db.select(db.func.count(Case.id))) == 0
        # The person's words survive, with a plain explanation.
        assert VALID["description"].encode() in refused.data
        assert b"We could not accept the form" in refused.data
        accepted = client.post("/complaints/new", data={**VALID, "csrf_token": token})
        assert accepted.status_code == 303
    finally:
        with secured.app_context():
            db.session.remove()
            db.engine.dispose()


# --- Tracking ------------------------------------------------------------------------------


def _filed(client, **changes) -> str:
    r = file_complaint(client, **changes)
    assert r.status_code == 303
    return r.location.split("/")[2]


def test_track_form_posts_and_keeps_a_bookmarked_reference(client):
    """The form is POSTed: the email address or phone number never goes into a URL."""
    r = client.get("/track?reference=RX-7K3M-9QXP")
    assert r.status_code == 200
    html = r.data.decode()
    assert '<form class="usa-form usa-form--large" method="post" action="/track"' in html
    assert 'value="RX-7K3M-9QXP"' in html
    assert "There is a problem" not in html
    page = parse(r.data)
    assert page.labels["reference"].startswith("Reference number")
    assert page.labels["contact"] == "Email address or phone number"


def test_track_with_the_right_contact_shows_status_agency_clocks_and_messages(client):
    with frozen_time(ny(2026, 11, 25, 10, 0)):
        reference = _filed(client, phone="202-555-0143")
        r = client.get("/track", query_string={"reference": reference, "contact": "(202) 555-0143"})
    assert r.status_code == 200
    text = text_of(r.data)
    assert reference in text
    assert "Status Received" in text
    assert "Consumer Financial Protection Bureau" in text
    assert "Received Wednesday, November 25" in text
    assert "Acknowledge your complaint Friday, November 27 Done on Wednesday, November 25" in text
    assert "You wrote on Wednesday, November 25" in text
    assert VALID["description"] in text
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_track_by_email_ignores_case_and_lowercase_reference(client):
    reference = _filed(client)
    r = client.get(
        "/track",
        query_string={"reference": reference.lower(), "contact": "Maria.Lopez@Example.org"},
    )
    assert r.status_code == 200
    assert b"Status" in r.data


def test_track_shows_replies_and_met_promises_but_never_internal_notes(client, staff_token):
    headers = staff_token("caseworker@cfpb.example")
    with frozen_time(ny(2026, 11, 25, 10, 0)):
        reference = _filed(client)
    with frozen_time(ny(2026, 11, 27, 9, 0)):
        act(client, headers, reference, action="note", body="Internal: looks like identity theft.")
        act(client, headers, reference, action="reply", body="We have contacted Equifax for you.")
        r = client.get("/track", query_string={"reference": reference, "contact": VALID["email"]})
    text = text_of(r.data)
    assert "Status Being worked on" in text
    assert "The agency wrote on Friday, November 27 We have contacted Equifax for you." in text
    assert "identity theft" not in text
    assert "Acknowledge your complaint Friday, November 27 Done on Wednesday, November 25" in text


def test_track_says_when_the_agency_waits_for_the_person(client, staff_token):
    reference = _filed(client)
    headers = staff_token("caseworker@cfpb.example")
    act(client, headers, reference, action="request_info", body="Which account is it?")
    r = client.get("/track", query_string={"reference": reference, "contact": VALID["email"]})
    text = text_of(r.data)
    assert "Status Waiting for information from you" in text
    assert (
        "Resolve your complaint A new date is set when you reply "
        "Paused while we wait for information from you"
    ) in text
    assert "Which account is it?" in text


def test_track_with_wrong_contact_or_reference_is_the_same_404(client):
    reference = _filed(client)
    wrong_contact = client.get(
        "/track", query_string={"reference": reference, "contact": "someone@example.org"}
    )
    no_such_case = client.get(
        "/track", query_string={"reference": "RX-7K3M-9QXP", "contact": VALID["email"]}
    )
    garbage = client.get("/track", query_string={"reference": "hello", "contact": "12"})
    for r in (wrong_contact, no_such_case, garbage):
        assert r.status_code == 404
        text = text_of(r.data)
        assert NOT_FOUND_TEXT in text
        assert "Consumer Financial Protection Bureau" not in text
        assert "Status" not in text


def test_track_with_a_box_left_empty_asks_for_it(client):
    r = client.get("/track", query_string={"reference": "RX-7K3M-9QXP", "contact": ""})
    assert r.status_code == 422
    html = r.data.decode()
    assert '<a href="#contact">Enter the email address or phone number you gave us.</a>' in html
    assert 'aria-describedby="contact-hint contact-error"' in html


# --- Home and standards ----------------------------------------------------------------------


def test_home_page_points_to_the_three_public_tasks(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.data.decode()
    text = text_of(r.data)
    assert "An official website of the United States government" in text
    assert "one front door to federal agencies" in text
    for href in ("/complaints/new", "/track", "/standards"):
        assert f'href="{href}"' in html
    assert 'aria-current="page"' not in html  # the home page is not in the main navigation


def test_standards_page_lists_each_agency_with_its_standards_and_results(client):
    r = client.get("/standards")
    assert r.status_code == 200
    html = r.data.decode()
    text = text_of(r.data)
    agencies = db.session.scalars(
        db.select(Agency).where(Agency.id.in_(db.select(ServiceStandard.agency_id)))
    ).all()
    assert len(agencies) >= 3
    for agency in agencies:
        heading = f'<h2 id="agency-{agency.code.lower()}">{agency.name}</h2>'
        assert heading in html.replace("&amp;", "&")
    standards = db.session.scalar(db.select(db.func.count(ServiceStandard.id)))
    # One table of measured results per posted standard, each with its caption.
    assert html.count('<caption class="usa-sr-only">Measured results</caption>') == standards
    assert "All complaints" in text
    assert re.search(r"\d+ business days?", text)
    assert re.search(r"goal: \d+% of complaints", text)
    assert "Figures computed" in text
    assert 'aria-current="page"' in html


def test_public_pages_reference_uswds_only_when_it_is_built(client):
    html = client.get("/").data.decode()
    if "vendor/uswds" in html:
        assert "/static/public/vendor/uswds/css/uswds.min.css" in html
        assert "/static/public/vendor/uswds/js/uswds.min.js" in html
    assert "/static/public/redress.css" in html
    assert client.get("/static/public/redress.css").status_code == 200
