"""The SMS conversation as pure code: keywords (en/es), threading choices, replies within
two segments, and GSM-7 / UCS-2 segment arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels import keywords
from channels.reference import new_reference
from channels.sms import replies, segments
from channels.sms.conversation import CaseFacts, Conversation, decide

REF_A, REF_B, REF_OLD = new_reference(), new_reference(), new_reference()
PROMISE = {
    "en": "We will respond to you by Friday, December 4.",
    "es": "Le responderemos a más tardar el viernes, 4 de diciembre.",
}
A = CaseFacts(REF_A, "in_progress", "CFPB", True, PROMISE)
B = CaseFacts(REF_B, "new", "FTC", True, PROMISE)
OLD = CaseFacts(REF_OLD, "resolved", "CFPB", False)


# --- segments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count double: 160 septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 7, "GSM-7", 2),  # 161 septets: two parts
        ("a" * 152 + "€" + "a" * 153, "GSM-7", 3),  # the escape pair cannot straddle parts
        ("ñé¿¡ü", "GSM-7", 1),  # Spanish letters GSM-7 has
        ("á" * 70, "UCS-2", 1),
        ("á" * 71, "UCS-2", 2),
        ("á" * 134, "UCS-2", 2),
        ("á" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
        ("a" + "😀" * 34 + "a", "UCS-2", 1),  # 70 units exactly
    ],
)
def test_segment_counts_follow_gsm7_and_ucs2_rules(text, encoding, count):
    got = segments.count(text)
    assert (got.encoding, got.count) == (encoding, count)


def test_surrogate_pair_never_splits_across_parts():
    # 66 units then an emoji (2 units) would straddle the 67-unit part boundary.
    text = "á" * 66 + "😀" + "á" * 60
    assert segments.count(text).units == 128
    assert segments.count(text).count == 2
    assert segments.count("á" * 66 + "😀" + "á" * 66).count == 3  # 134 units, but packed: 3


@given(st.text(max_size=400))
def test_compose_always_fits_two_segments(text):
    out = segments.compose([text or "x", "Track: https://example.gov/track?reference=RX"])
    assert segments.count(out).count <= 2
    assert out


def test_plain_keeps_gsm_accents_and_drops_the_rest():
    assert segments.plain("más información ¿sí? ñandú “ok”") == 'mas informacion ¿si? ñandu "ok"'
    assert segments.is_gsm7(segments.plain("Añadido a su caso — gracias"))


def test_compose_drops_optional_tail_before_cutting_the_reference():
    long_promise = "We aim to resolve your complaint by " + "a very long day " * 20
    out = segments.compose(["We received your complaint RX-1.", long_promise, "Track: x"])
    assert out == "We received your complaint RX-1."


# --- keywords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "meaning", "language"),
    [
        ("HELP", "help", "en"),
        ("info", "help", "en"),
        ("Ayuda!", "help", "es"),
        ("status", "status", "en"),
        ("Estado.", "status", "es"),
        ("NEW", "new", "en"),
        ("nuevo", "new", "es"),
        ("Nueva", "new", "es"),
        ("STOP", "stop", "en"),
        ("stopall", "stop", "en"),
        ("Unsubscribe", "stop", "en"),
        ("cancel", "stop", "en"),
        ("END", "stop", "en"),
        ("quit", "stop", "en"),
        ("PARAR", "stop", "es"),
        ("alto", "stop", "es"),
        ("Cancelar", "stop", "es"),
        ("baja", "stop", "es"),
        ("START", "start", "en"),
        ("unstop", "start", "en"),
        ("inicio", "start", "es"),
        ("Comenzar", "start", "es"),
        ("  stop  ", "stop", "en"),
    ],
)
def test_keywords_match_the_whole_message_in_any_case(body, meaning, language):
    found = keywords.parse(body)
    assert (found.meaning, found.language) == (meaning, language)


@pytest.mark.parametrize(
    "body",
    [
        "Stop calling me at work",
        "help me please, the landlord keeps my deposit",
        "status of my refund?",
        "new problem with my bank",
        "case",
        "yes",
        "",
        "STOP STOP",
    ],
)
def test_sentences_that_start_with_a_keyword_are_ordinary_text(body):
    assert keywords.parse(body) is None


def test_case_and_status_take_a_reference_in_any_spelling():
    ref = new_reference()
    loose = ref.lower().replace("-", " ")
    assert keywords.parse(f"case {loose}").reference == ref
    assert keywords.parse(f"ESTADO {ref}") == keywords.Keyword("status", "es", ref)
    assert keywords.parse("CASO RX-0000-000Z") is None  # a bad check character


# --- decisions -------------------------------------------------------------------------


def test_first_text_opens_a_case():
    decision = decide("My bank charged me twice", Conversation())
    assert decision.action == "open_case" and decision.reply is None


def test_text_goes_to_the_most_recent_open_case_and_the_reply_says_which():
    decision = decide("More details", Conversation(cases=(A, B, OLD)))
    assert decision.action == "add_to_case" and decision.case == REF_A
    assert REF_A in decision.reply and "2 open cases" in decision.reply


def test_case_keyword_switches_and_later_texts_follow_it():
    switched = decide(f"CASE {REF_B}", Conversation(cases=(A, B)))
    assert (switched.action, switched.case) == ("switch", REF_B)
    assert REF_B in switched.reply
    later = decide("and another thing", Conversation(cases=(A, B), current=REF_B))
    assert later.case == REF_B


def test_case_keyword_refuses_closed_and_unknown_cases():
    closed = decide(f"case {REF_OLD}", Conversation(cases=(A, OLD)))
    assert closed.action == "not_found" and "resolved" in closed.reply and "NEW" in closed.reply
    other = new_reference()
    unknown = decide(f"CASE {other}", Conversation(cases=(A,)))
    assert unknown.action == "not_found" and other in unknown.reply


def test_new_then_text_opens_another_case():
    assert decide("NEW", Conversation(cases=(A,))).action == "start_new"
    assert decide("Another problem", Conversation(cases=(A,), start_new=True)).action == (
        "open_case"
    )


def test_only_closed_cases_means_a_new_case():
    assert decide("It happened again", Conversation(cases=(OLD,))).action == "open_case"


def test_status_answers_with_status_and_next_due_date_in_plain_words():
    decision = decide("STATUS", Conversation(cases=(A, B)))
    assert decision.reply == (
        f"Case {REF_A} (CFPB) is being worked on. We will respond to you by Friday, December 4."
    )
    spanish = decide(f"estado {REF_B}", Conversation(cases=(A, B)))
    assert spanish.language == "es"
    assert spanish.reply.startswith(f"El caso {REF_B} (FTC) está recibida")
    assert "4 de diciembre" in spanish.reply
    nothing = decide("STATUS", Conversation())
    assert nothing.action == "not_found" and "no complaint" in nothing.reply


def test_status_of_a_resolved_case_has_no_due_date():
    decision = decide(f"STATUS {REF_OLD}", Conversation(cases=(A, OLD)))
    assert decision.reply == f"Case {REF_OLD} (CFPB) is resolved."


def test_empty_text_gets_a_polite_reply_but_a_photo_alone_is_a_complaint():
    assert decide("  ", Conversation()).action == "empty"
    assert decide("", Conversation(), has_media=True).action == "open_case"


@pytest.mark.parametrize("body", ["HELP", "AYUDA", "STOP", "PARAR", "START", "INICIO", "NEW"])
def test_keyword_replies_fit_two_segments(body):
    reply = decide(body, Conversation(cases=(A,))).reply
    assert reply and segments.count(reply).count <= 2


@pytest.mark.parametrize("language", ["en", "es"])
def test_acknowledgment_keeps_the_reference_within_two_segments(language):
    reference = new_reference()
    url = f"https://complaints.example.gov/track?reference={reference}"
    promise = PROMISE[language]
    text = replies.case_opened(reference, "CFPB", promise, url, language)
    assert reference in text and segments.count(text).count <= 2
    assert promise.replace("á", "a") in text or promise in text
    # A very long agency code still leaves the reference in.
    text = replies.case_opened(reference, "X" * 200, promise, url, language)
    assert segments.count(text).count <= 2 and reference in text


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    "key", ["help", "stop", "start", "empty", "limited", "new", "trouble", "no_cases"]
)
def test_every_fixed_reply_fits_two_segments_in_both_languages(key, language):
    reply = replies.simple(key, language)
    assert segments.count(reply).count <= 2
    assert not reply.endswith("...")  # fits whole, never cut


def test_a_reference_whose_symbols_start_with_rx_is_found_in_a_reply():
    # RX-RXDJ-Q8Q0 is valid; its body must not lose "RX" as if it were the prefix.
    reply = replies.case_opened("RX-RXDJ-Q8Q0", "CFPB", None, "https://x.gov/track", "en")
    from channels.reference import find_references

    assert find_references(reply) == ["RX-RXDJ-Q8Q0"]
    assert keywords.parse("case RX-RXDJ-Q8Q0").reference == "RX-RXDJ-Q8Q0"
