"""Every message of the real-world corpora in /work/shared/data/email (bounces, auto-replies,
spam, broken and foreign-charset mail, replies from 11 mail clients) goes through the real
email processor, and its outcome is checked against the reviewed, checked-in expectations
(tests/fixtures/email/corpus_expected.tsv)."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage
from channels.email import parse_message, trim_reply
from channels.email.parse import mbox_messages
from tests.helpers import SHARED_DATA

CORPUS = Path(os.environ.get("EMAIL_CORPUS_DIR") or SHARED_DATA / "email")
EXPECTED = Path(__file__).parent / "fixtures" / "email" / "corpus_expected.tsv"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no email corpus at {CORPUS}")


def _expectations() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, outcome, kind, why = line.split("\t")
            rows.append((rel, outcome, kind, why))
    return rows


def _raw(rel: str) -> bytes:
    path, _, index = rel.partition("#")
    return mbox_messages(CORPUS / path)[int(index) - 1] if index else (CORPUS / path).read_bytes()


def test_every_corpus_file_is_listed():
    """A file added to the corpus without an expectation fails here, not silently."""
    listed = {rel.partition("#")[0] for rel, *_ in _expectations()}
    skip = re.compile(r"(LICENSE|SOURCE\.txt|README\.upstream\.md|_reply_text|_signature)$")
    present = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and not skip.search(p.name)
    }
    assert present == listed
    assert len(_expectations()) >= 900


def _durable(on: bool) -> None:
    """Per-commit durability is not what this test is about: ~2,400 commits without an fsync
    each keep it fast on both backends (restored afterwards)."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(db.text(f"PRAGMA synchronous = {'FULL' if on else 'OFF'}"))
    else:
        db.session.execute(db.text(f"SET synchronous_commit = {'on' if on else 'off'}"))
    db.session.commit()


def test_every_corpus_message_has_its_expected_outcome(app):
    app.config["EMAIL_SENDER_LIMIT"] = 100_000  # the corpus reuses a few addresses a lot
    _durable(False)
    wrong = []
    seen = Counter()
    stored = []
    for rel, outcome, kind, _why in _expectations():
        if outcome == "none":  # an empty mbox file: no message in it at all
            assert mbox_messages(CORPUS / rel) == []
            continue
        row, _ = inbound.receive(
            "email", "file", _raw(rel), meta={"summary": rel}, process_later=False
        )
        stored.append((row.id, rel, outcome, kind))
    db.session.commit()  # the doors commit each message; one commit here keeps the test fast
    db.session.expunge_all()
    try:
        for inbound_id, rel, outcome, kind in stored:
            inbound.process(inbound_id)
            row = db.session.get(InboundMessage, inbound_id)
            got = (row.outcome, row.kind or "")
            seen[row.outcome] += 1
            if got != (outcome, kind):
                wrong.append(f"{rel}: expected {outcome}/{kind}, got {got} ({row.reason})")
            elif outcome == "failed":
                assert row.reason, rel  # a rejection always says why
            elif outcome == "case_opened":
                assert row.case is not None and row.message.case_id == row.case_id
            db.session.expunge_all()
    finally:
        app.config["EMAIL_SENDER_LIMIT"] = 20
        _durable(True)
    assert not wrong, "\n".join(wrong[:40])
    assert seen["ignored"] > 700 and seen["case_opened"] > 150 and seen["failed"] > 40


# --- quoted history and signatures on the talon replies (pure, no database) ---------------

REPLIES = CORPUS / "replies" / "standard_replies"


@pytest.mark.parametrize("client", ["iphone", "sparrow"])
def test_reply_text_matches_talons_expected_reply(client):
    mail = parse_message((REPLIES / f"{client}.eml").read_bytes())
    expected = (REPLIES / f"{client}_reply_text").read_text().strip()
    trimmed = trim_reply(mail.text)
    assert trimmed.quoted
    # talon keeps "Sent from my iPhone"; we also drop that footer for the caseworker.
    assert expected.startswith(trimmed.text)
    assert trimmed.text == expected.splitlines()[0].strip()


@pytest.mark.parametrize(
    "name", sorted(p.name for p in REPLIES.glob("*.eml")) if REPLIES.is_dir() else []
)
def test_replies_from_every_mail_client_lose_their_quoted_history(name):
    mail = parse_message((REPLIES / name).read_bytes())
    trimmed = trim_reply(mail.text)
    assert trimmed.text.strip()
    assert trimmed.quoted, mail.text[:300]
    assert len(trimmed.text) < len(mail.text.strip())
    assert not any(line.startswith(">") for line in trimmed.text.splitlines())
    assert "wrote:" not in trimmed.text and "Original Message" not in trimmed.text


@pytest.mark.parametrize(
    "name",
    ["gmail.html", "thunderbird.html", "ms_outlook_2010.html", "hotmail.html", "yandex_ru.html"],
)
def test_html_replies_lose_their_quoted_history(name):
    from channels.email.html import html_to_text

    path = CORPUS / "replies" / "html_replies" / name
    text = html_to_text(path.read_text(errors="replace"))
    trimmed = trim_reply(text)
    assert trimmed.quoted and trimmed.text.strip()
    assert len(trimmed.text) < len(text) / 1.5
