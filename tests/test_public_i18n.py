"""The public site in English and Spanish: language from the URL or the browser, a switch on
every page, Spanish recorded on the case, and a Spanish word for every public string."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo

from app.cases.models import Case
from app.extensions import db

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


def test_complaint_filed_in_spanish_is_recorded_as_spanish(app):
    client = app.test_client()
    form = client.get("/complaints/new?lang=es").get_data(as_text=True)
    assert '<option value="es" lang="es" selected' in form, "Spanish chosen for a Spanish page"
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
    case = db.session.scalar(db.select(Case).where(Case.reference == reference))
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
