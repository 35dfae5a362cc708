"""What we text back, in English and Spanish, each within two SMS segments.

Every reply is a list of parts, most important first (the reference before the tracking
link before the keyword hints), so that `segments.compose` can drop the tail when a long
agency name or date would push it past the budget.
"""

from __future__ import annotations

from channels.case_status import status_words
from channels.sms.segments import compose

_TEXT = {
    "en": {
        "opened": "We received your complaint {reference} ({agency}).",
        "track": "Track: {url}",
        "opened_hint": "Reply to add details. Text STATUS for an update, HELP for help.",
        "added": "Added to your case {reference}.",
        "others": "You have {count} open cases; text CASE and a reference to pick another.",
        "added_hint": "Text STATUS for an update.",
        "switched": "Your texts now go to case {reference}.",
        "closed_case": "Case {reference} is {status}. Text NEW to start a new complaint.",
        "not_found": "We found no case {reference} for this phone number. Check the reference.",
        "no_cases": "We have no complaint from this number. Text your complaint to start one.",
        "new": "OK. Your next text starts a new complaint.",
        "status": "Case {reference} ({agency}) is {status}.",
        "help": (
            "Complaints line: text your complaint to open a case. STATUS: update. "
            "CASE + reference: choose a case. NEW: new complaint. STOP: no more texts. "
            "Msg&data rates may apply."
        ),
        "stop": (
            "You will get no more texts from us. We will answer by email or mail if we can. "
            "Text START to get texts again."
        ),
        "start": "You will get texts from us again. Text HELP for help, STOP to stop.",
        "empty": "Your text was empty. Please text your complaint in words, or HELP for help.",
        "limited": (
            "You sent many texts in a short time. They are saved; please wait a few "
            "minutes before texting again."
        ),
        "photo_only": "(Photo sent by text message, with no words.)",
        "trouble": "We received your text and will reply with your case reference soon.",
    },
    "es": {
        "opened": "Recibimos su queja {reference} ({agency}).",
        "track": "Estado: {url}",
        "opened_hint": "Responda para añadir detalles. ESTADO: novedades. AYUDA: ayuda.",
        "added": "Añadido a su caso {reference}.",
        "others": "Tiene {count} casos abiertos; envíe CASO y una referencia para elegir otro.",
        "added_hint": "ESTADO: novedades.",
        "switched": "Sus mensajes ahora van al caso {reference}.",
        "closed_case": "El caso {reference} está {status}. Envíe NUEVO para una nueva queja.",
        "not_found": "No hay un caso {reference} para este teléfono. Revise la referencia.",
        "no_cases": "No tenemos quejas de este teléfono. Envíe su queja para abrir una.",
        "new": "De acuerdo. Su próximo mensaje abrirá una nueva queja.",
        "status": "El caso {reference} ({agency}) está {status}.",
        "help": (
            "Línea de quejas: envíe su queja para abrir un caso. ESTADO: novedades. "
            "CASO + referencia: elegir caso. NUEVO: nueva queja. PARAR: no más mensajes. "
            "Pueden aplicarse tarifas."
        ),
        "stop": (
            "No le enviaremos más mensajes de texto. Le responderemos por correo si podemos. "
            "Envíe INICIO para recibirlos de nuevo."
        ),
        "start": "Volverá a recibir nuestros mensajes. AYUDA: ayuda. PARAR: dejar de recibirlos.",
        "empty": "Su mensaje estaba vacío. Escriba su queja con palabras, o AYUDA para ayuda.",
        "limited": (
            "Envió muchos mensajes en poco tiempo. Están guardados; espere unos minutos "
            "antes de enviar más."
        ),
        "photo_only": "(Foto enviada por mensaje de texto, sin palabras.)",
        "trouble": "Recibimos su mensaje y le enviaremos pronto la referencia de su caso.",
    },
}


def text(key: str, language: str, **values) -> str:
    """One phrase in the language (English when we do not have it)."""
    table = _TEXT.get(language, _TEXT["en"])
    return table[key].format(**values)


def case_opened(
    reference: str, agency: str, promise: str | None, tracking_url: str, language: str
) -> str:
    """The acknowledgment: the reference first, then when to expect an answer."""
    return compose(
        [
            text("opened", language, reference=reference, agency=agency),
            promise,
            text("track", language, url=tracking_url),
            text("opened_hint", language),
        ]
    )


def added(reference: str, open_count: int, language: str) -> str:
    others = text("others", language, count=open_count) if open_count > 1 else None
    return compose(
        [text("added", language, reference=reference), others, text("added_hint", language)]
    )


def status(reference: str, agency: str, state: str, promise: str | None, language: str) -> str:
    words = status_words(state, language)
    return compose(
        [text("status", language, reference=reference, agency=agency, status=words), promise]
    )


def simple(key: str, language: str, **values) -> str:
    return compose([text(key, language, **values)])
