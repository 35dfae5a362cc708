"""The public site in English and Spanish: language from the URL or the browser, a switch on
every page, Spanish recorded on the case, and a Spanish word for every public string."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo

from app.cases.models import Case
from app.directory.models import Agency, Category, ServiceStandard
from app.extensions import db
from app.notify.models import OutboxItem

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "app/public/translations/es/LC_MESSAGES/messages.mo"
PAGES = ("/", "/complaints/new", "/track", "/standards", "/complaints/RX-0000-0000/confirmation")


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def switch_link(html: str) -> tuple[str, str]:
    match = re.search(r'<a class="[^"]*redress-language" href="([^"]+)" lang="(\w+)"', html)
    assert match, "no language switch on the page"
    return match.group(1).replace("&amp;", "&"), match.group(2)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_in_spanish_from_the_url_and_links_back_to_english(app, path):
    client = app.test_client()
    sep = "&" if "?" in path else "?"
    r = client.get(f"{path}{sep}lang=es")
    html = r.get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "Presentar una queja" in text_of(r) and "Saltar al contenido principal" in text_of(r)
    href, lang = switch_link(html)
    assert lang == "en" and "lang=en" in href
    back = client.get(href)
    assert '<html lang="en">' in back.get_data(as_text=True) and "File a complaint" in text_of(back)


def test_language_from_the_browser_and_remembered_after_choosing(app):
    client = app.test_client()
    spanish = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert "Presente una queja ante una agencia federal" in text_of(spanish)
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Complain to a federal agency" in text_of(english)
    # A choice made with the switch outlasts the browser's preference for the visit.
    client.get("/track?lang=es", headers={"Accept-Language": "en-US"})
    assert "Consultar una queja" in text_of(
        client.get("/track", headers={"Accept-Language": "en-US"})
    )
    href, _ = switch_link(client.get("/standards").get_data(as_text=True))
    assert "Our service standards" in text_of(client.get(href))
    assert "Our service standards" in text_of(client.get("/standards"))


def file_in_spanish(client):
    """Ana files a debt-collection complaint on the Spanish form: (response, case)."""
    r = client.post(
        "/complaints/new",
        data={
            "description": "Una empresa de cobranza me llama todos los días al trabajo.",
            "category": "debt-collection",
            "email": "ana@example.org",
            "preferred_contact": "email",
            "language": "es",
        },
    )
    assert r.status_code == 303
    reference = r.headers["Location"].split("/")[2]
    return r, db.session.scalar(db.select(Case).where(Case.reference == reference))


def test_complaint_filed_in_spanish_is_recorded_as_spanish(app):
    client = app.test_client()
    form = client.get("/complaints/new?lang=es").get_data(as_text=True)
    assert '<option value="es" lang="es" selected' in form, "Spanish chosen for a Spanish page"
    r, case = file_in_spanish(client)
    assert case.language == "es"
    confirmation = client.get(r.headers["Location"])
    words = text_of(confirmation)
    assert "Recibimos su queja" in words and "a más tardar el" in words
    # Later messages follow the choice: the acknowledgment went out in Spanish.
    outbound = [m for m in case.messages if m.direction == "outbound"]
    assert outbound and "Hola" in outbound[0].body


def test_errors_on_the_spanish_form_are_in_spanish(app):
    client = app.test_client()
    client.get("/complaints/new?lang=es")
    r = client.post("/complaints/new", data={"description": "", "preferred_contact": "sms"})
    assert r.status_code == 422
    words = text_of(r)
    assert "Hay un problema" in words and "Describa su queja." in words
    assert "Escriba su número de teléfono para enviarle mensajes de texto" in words


def test_every_public_string_has_a_spanish_translation():
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    method_map = [("app/public/**.py", "python"), ("app/public/templates/**.html", "jinja2")]
    found = {
        (msg if isinstance(msg, str) else msg[0])
        for _file, _line, msg, *_ in extract_from_dir(str(ROOT), method_map, keywords=keywords)
        if msg
    }
    with CATALOG.open("rb") as handle:
        catalog = read_mo(handle)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    assert len(found) > 150
    assert found - translated == set(), "run pybabel update/compile (see app/public/translations)"


# --- The directory's words in Spanish ------------------------------------------------------

CFPB_ES = "Oficina para la Protección Financiera del Consumidor"
CFPB_EN = "Consumer Financial Protection Bureau"


def test_spanish_standards_page_shows_spanish_wording_and_agency_names(app):
    client = app.test_client()
    words = text_of(client.get("/standards?lang=es"))
    assert CFPB_ES in words and CFPB_EN not in words
    assert "Departamento de Trabajo de EE. UU., División de Horas y Salarios" in words
    assert "Cerramos la mayoría de las quejas en un plazo de 60 días" in words
    # A category's own standard is headed by the category's Spanish name.
    assert "Ayuda por discapacidad al viajar en avión: " in words
    assert "Las aerolíneas deben responder a las quejas por discapacidad" in words
    assert "We confirm that we received your complaint" not in words
    english = text_of(client.get("/standards?lang=en"))
    assert CFPB_EN in english and CFPB_ES not in english
    assert "We close most complaints within 60 days" in english
    # The API stays in the directory's English.
    api = client.get("/api/v1/performance?lang=es", headers={"Accept-Language": "es"}).json
    assert {r["agency"]["name"] for r in api["standards"]} >= {CFPB_EN}


def test_spanish_complaint_form_lists_spanish_categories_in_spanish_groups(app):
    html = app.test_client().get("/complaints/new?lang=es").get_data(as_text=True)
    groups = re.findall(r'<optgroup label="([^"]+)"', html)
    assert "Dinero y crédito" in groups and "Money and credit" not in groups
    assert groups[-1] == "Otros", "the catch-all group stays last"
    assert groups[:-1] == sorted(groups[:-1], key=lambda g: g.replace("é", "e").lower())
    assert (
        '<option value="credit-report">Hay información incorrecta en mi informe de crédito<' in html
    )
    assert "Wrong information on my credit report" not in html


def test_spanish_case_hears_the_agency_and_category_named_in_spanish(app):
    client = app.test_client()
    client.get("/complaints/new?lang=es")
    r, case = file_in_spanish(client)
    ack = db.session.scalar(
        db.select(OutboxItem).where(
            OutboxItem.case_id == case.id, OutboxItem.kind == "acknowledgment"
        )
    )
    category = "Un cobrador de deudas me llama o me amenaza"
    assert f"La atenderá la agencia {CFPB_ES} ({category})." in ack.body
    assert CFPB_EN not in ack.body and ack.body.rstrip().endswith(CFPB_ES)
    confirmation = text_of(client.get(r.headers["Location"]))
    assert CFPB_ES in confirmation and "Un cobrador de deudas me llama o me amenaza" in confirmation
    asked = {"reference": case.reference, "contact": "ana@example.org"}
    track = text_of(client.get("/track", query_string=asked))
    assert CFPB_ES in track and CFPB_EN not in track
    # Staff read the directory's English on the same case.
    assert case.agency.name == CFPB_EN


def test_words_without_a_spanish_translation_are_shown_in_english(app, fresh_directory):
    category = db.session.scalar(db.select(Category).where(Category.code == "credit-card"))
    category.translations = {"es": {"group": "Dinero y crédito"}}  # no Spanish name
    agency = db.session.scalar(db.select(Agency).where(Agency.code == "CFPB"))
    agency.translations = {}
    standard = db.session.scalar(
        db.select(ServiceStandard).where(
            ServiceStandard.agency_id == agency.id,
            ServiceStandard.category_id.is_(None),
            ServiceStandard.metric == "resolve",
        )
    )
    standard.translations = {}
    db.session.commit()
    client = app.test_client()
    form = client.get("/complaints/new?lang=es").get_data(as_text=True)
    assert '<option value="credit-card">Problem with a credit card<' in form
    assert '<option value="credit-report">Hay información incorrecta' in form
    standards = text_of(client.get("/standards?lang=es"))
    assert CFPB_EN in standards and "We close most complaints within 60 days" in standards
    assert "Enviamos su queja a la compañía" in standards  # its other standards are translated


def test_admin_directory_editor_keeps_and_saves_translations(app, fresh_directory):
    from html import unescape

    from tests.workspace_support import ADMIN, sign_in

    client = app.test_client()
    sign_in(client, ADMIN)
    page = client.get("/staff/admin").get_data(as_text=True)
    text = unescape(re.search(r'<textarea[^>]*id="directory"[^>]*>(.*?)</textarea>', page, re.S)[1])
    assert f"name: {CFPB_ES}" in text
    assert "es: {wording: Confirmamos que recibimos su queja en un plazo de 1 día hábil.}" in text
    renamed = text.replace(f"name: {CFPB_ES}", "name: Oficina del Consumidor (nuevo nombre)", 1)
    saved = client.post("/staff/admin", data={"directory": renamed}, follow_redirects=True)
    assert "Directory saved" in text_of(saved)
    form = text_of(app.test_client().get("/standards?lang=es"))
    assert "Oficina del Consumidor (nuevo nombre)" in form
    # Saved as written: the editor shows the same document again.
    again = client.get("/staff/admin").get_data(as_text=True)
    assert (
        unescape(re.search(r'<textarea[^>]*id="directory"[^>]*>(.*?)</textarea>', again, re.S)[1])
        == renamed
    )
    refused = client.post(
        "/staff/admin",
        data={
            "directory": renamed.replace(
                "    translations:\n      es:", "    translations:\n      fr:", 1
            )
        },
    )
    assert refused.status_code == 422
    assert re.search(
        r"directory:\d+: agencies\[0\]\.translations\.fr: is not a language", text_of(refused)
    )


# --- Form errors in the page's language ----------------------------------------------------

GOOD = {
    "description": "Me cobraron dos veces.",
    "category": "",
    "email": "ana@example.org",
    "preferred_contact": "email",
    "language": "es",
}
# What each mistake looks like on the Spanish form; none of the schema's English may show.
SPANISH_ERRORS = {
    "bad email": (
        {"email": "ana@@example"},
        "Escriba una dirección de correo electrónico con el formato correcto, por ejemplo, "
        "nombre@ejemplo.com.",
    ),
    "email without a domain": (
        {"email": "ana"},
        "Escriba una dirección de correo electrónico con el formato correcto",
    ),
    "bad phone": (
        {"phone": "12", "preferred_contact": "sms"},
        "Escriba un número de teléfono con el código de área, por ejemplo, 202-555-0123.",
    ),
    "invalid phone": (
        {"phone": "202-555-01"},
        "Escriba un número de teléfono con el código de área",
    ),
    "bad ZIP": (
        {"zip": "2000"},
        "Escriba un código postal (ZIP) de 5 dígitos, por ejemplo, 20500.",
    ),
    "unknown category": (
        {"category": "no-such-category"},
        "Elija una categoría de la lista, o elija “No estoy seguro/a”.",
    ),
    "category too long": ({"category": "x" * 61}, "Elija una categoría de la lista"),
    "name too long": ({"name": "N" * 201}, "Es demasiado largo. Use 200 caracteres o menos."),
    "description too long": (
        {"description": "x" * 20001},
        "Su descripción es demasiado larga. Use 20,000 caracteres o menos.",
    ),
    "missing description": ({"description": "  "}, "Describa su queja."),
    "missing contact": (
        {"email": ""},
        "Escriba su correo electrónico o elija otra forma de comunicarnos con usted.",
    ),
    "missing address": (
        {"preferred_contact": "mail"},
        "Escriba su dirección postal",
    ),
    "odd contact choice": ({"preferred_contact": "pigeon"}, "Elija cómo"),
    "odd language": ({"language": "fr"}, "Elija inglés o español."),
}
ENGLISH = re.compile(
    r"\b(email address|phone number|ZIP code|Longer than|Unknown category|Must be one of|"
    r"Needed to reach|not valid|must have|Enter|Choose|There is a problem)\b",
    re.I,
)


def error_messages(html: str) -> list[str]:
    summary = re.findall(r'<li><a href="#[^"]+">(.*?)</a></li>', html, re.S)
    inline = re.findall(
        r'<span class="usa-error-message"[^>]*>(?:<span[^>]*>[^<]*</span>)?(.*?)</span>', html, re.S
    )
    return [re.sub(r"\s+", " ", m).strip() for m in summary + inline]


@pytest.mark.parametrize("mistake", SPANISH_ERRORS)
def test_every_form_error_on_the_spanish_form_is_in_spanish(app, mistake):
    change, expected = SPANISH_ERRORS[mistake]
    client = app.test_client()
    client.get("/complaints/new?lang=es")
    r = client.post("/complaints/new", data=GOOD | change)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    messages = error_messages(html)
    assert messages, "no error shown"
    assert any(m.startswith(expected) for m in messages), messages
    for message in messages:
        assert not ENGLISH.search(message), message


def test_all_mistakes_at_once_are_listed_in_spanish(app):
    client = app.test_client()
    client.get("/complaints/new?lang=es")
    r = client.post(
        "/complaints/new",
        data={
            "description": "",
            "category": "no-such-category",
            "email": "not-an-address",
            "phone": "12",
            "zip": "ABCDE",
            "preferred_contact": "email",
            "language": "es",
        },
    )
    assert r.status_code == 422
    messages = error_messages(r.get_data(as_text=True))
    assert len(messages) >= 8  # each in the summary and beside its field
    assert not [m for m in messages if ENGLISH.search(m)]
    assert "Describa su queja." in messages


def test_the_api_keeps_its_english_messages(app):
    r = app.test_client().post(
        "/api/v1/complaints",
        json={"description": "x", "email": "ana@@example", "zip": "2000", "phone": "12"},
        headers={"Accept-Language": "es"},
    )
    assert r.status_code == 422
    errors = r.json["errors"]
    assert errors["zip"] == ["Enter a 5-digit ZIP code."]
    assert errors["phone"] == ["This phone number is not valid; include the area code."]
    assert "email" in errors and not errors["email"][0].startswith("Escriba")
