"""A case's status in plain words for the customer, in English and Spanish.

One table for every channel that answers "what is happening with my complaint" in a
sentence (SMS STATUS, the status email): "Case RX-… is being worked on."
"""

from __future__ import annotations

STATUS_WORDS = {
    "en": {
        "new": "received and waiting for a caseworker",
        "assigned": "assigned to a caseworker",
        "in_progress": "being worked on",
        "waiting_on_customer": "waiting for information from you",
        "resolved": "resolved",
        "closed": "closed",
    },
    "es": {
        "new": "recibida, en espera de un gestor",
        "assigned": "asignada a un gestor",
        "in_progress": "en trámite",
        "waiting_on_customer": "esperando información de usted",
        "resolved": "resuelta",
        "closed": "cerrada",
    },
}


def status_words(status: str, language: str) -> str:
    table = STATUS_WORDS.get(language, STATUS_WORDS["en"])
    return table.get(status, status.replace("_", " "))
