"""The pure email channel (channels/email): parsing never crashes on junk, charsets decode,
references in subjects are checked, quoted history is trimmed. No database."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email import Unreadable, classify, parse_message, subject_references, trim_reply
from channels.email.html import html_to_text, text_to_html
from channels.email.parse import decode_bytes, mbox_messages
from channels.reference import ALPHABET, new_reference


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_parse_or_are_rejected_with_a_reason(raw):
    try:
        mail = parse_message(raw)
    except Unreadable as exc:
        assert str(exc)
        return
    classify(mail)  # and classification never crashes either
    trim_reply(mail.text)


header_lines = st.lists(
    st.tuples(
        st.sampled_from(["From", "To", "Subject", "Content-Type", "Message-ID", "X-Junk"]),
        st.text(max_size=80),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(header_lines, st.text(max_size=500))
def test_messy_headers_and_bodies_never_crash_the_parser(headers, body):
    raw = "".join(f"{name}: {value}\n" for name, value in headers) + "\n" + body
    try:
        mail = parse_message(raw.encode("utf-8", "surrogatepass"))
    except Unreadable:
        return
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("café".encode(), "utf-8", "café"),
        ("café".encode("latin-1"), "iso-8859-1", "café"),
        ("“quoted” €5".encode("cp1252"), "iso-8859-1", "“quoted” €5"),  # mislabeled
        ("“quoted”".encode("cp1252"), None, "“quoted”"),  # undeclared, not UTF-8
        ("naïve".encode(), None, "naïve"),  # undeclared UTF-8
        ("日本語のメール".encode("iso-2022-jp"), "iso-2022-jp", "日本語のメール"),
        ("日本語のメール".encode("iso-2022-jp"), None, "日本語のメール"),  # by its escapes
        ("한국어".encode("cp949"), "ks_c_5601-1987", "한국어"),
        (b"plain", "x-unknown-charset", "plain"),
    ],
)
def test_charsets_declared_undeclared_and_mislabeled(data, charset, text):
    assert decode_bytes(data, charset) == text


def test_subject_references_are_checked_by_their_check_character():
    ref = new_reference()
    assert subject_references(f"Re: About your complaint [{ref}]") == [ref]
    assert subject_references(f"re: {ref.lower().replace('-', ' ')}") == [ref]
    body = ref.replace("-", "")[2:]
    for i in range(len(body)):  # every single mistyped symbol is caught
        wrong = ALPHABET[(ALPHABET.index(body[i]) + 1) % len(ALPHABET)]
        typo = body[:i] + wrong + body[i + 1 :]
        assert subject_references(f"[RX-{typo[:4]}-{typo[4:]}]") == []


def test_bracketed_reference_wins_over_one_merely_mentioned():
    first, second = new_reference(), new_reference()
    assert subject_references(f"{first} is my old case, see [{second}]")[0] == second


def test_html_is_sanitized_before_it_becomes_text():
    text = html_to_text(
        "<script>steal()</script><style>x{}</style><p onclick='x()'>Hello&nbsp;<b>there</b></p>"
        "<iframe src='https://evil.example'></iframe><p>Line two<br>line three</p>"
    )
    assert text == "Hello there\n\nLine two\nline three"


def test_outbound_html_alternative_escapes_and_links():
    html = text_to_html("Hi <Ana> & co,\n\nTrack it: https://redress.test/track?ref=RX-1")
    assert "Hi &lt;Ana&gt; &amp; co," in html
    assert '<a href="https://redress.test/track?ref=RX-1">' in html


def test_empty_mbox_files_hold_no_messages_and_mbox_splits(tmp_path):
    def split(data: bytes) -> list[bytes]:
        path = tmp_path / "box.mbox"
        path.write_bytes(data)
        return mbox_messages(path)

    assert split(b"") == [] and split(b"\n\n") == []
    two = (
        b"From a@x Mon Jan 1 00:00:00 2024\nSubject: one\n\n1\n"
        b"From b@x Mon Jan 1\nSubject: two\n\n2\n"
    )
    assert [m.split(b"\n")[0] for m in split(two)] == [b"Subject: one", b"Subject: two"]


def test_oversize_message_is_rejected_with_the_limit():
    with pytest.raises(Unreadable, match="limit is 1,000 bytes"):
        parse_message(b"Subject: x\n\n" + b"x" * 2000, max_message_bytes=1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Tue, Dec 1, 2026 at 9:00 AM Agency <a@b.gov> wrote:\n> old", "Thanks!"),
        ("Merci\n\nLe mar. 1 déc. 2026 à 09:00, Agence <a@b.gov> a écrit :\n> vieux", "Merci"),
        ("Danke\n\nAm Di., 1. Dez. 2026 um 09:00 Uhr schrieb Amt <a@b.gov>:\n> alt", "Danke"),
        (
            "Gracias\n\nEl mar, 1 dic 2026 a las 9:00, Agencia (<a@b.gov>) escribió:\n> viejo",
            "Gracias",
        ),
        ("Yes\n\n-----Original Message-----\nFrom: x\nSent: y\nTo: z\n\nold", "Yes"),
        ("Ok\n\nSent from my iPad", "Ok"),
        ("Ok\n\nEnviado desde mi iPhone", "Ok"),
        ("Fine\n-- \nAna\nPhone", "Fine"),
    ],
)
def test_quoted_history_and_signatures_in_several_languages(text, expected):
    assert trim_reply(text).text == expected
