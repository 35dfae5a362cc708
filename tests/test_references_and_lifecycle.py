"""Case references (speakable, random, typo-catching) and the status lifecycle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cases.lifecycle import ALLOWED_FROM, next_status
from app.cases.reference import ALPHABET, find_references, new_reference, normalize_reference
from app.common.errors import Conflict

refs = st.builds(lambda _: new_reference(), st.integers())


def test_references_are_short_and_not_sequential():
    made = {new_reference() for _ in range(2000)}
    assert len(made) == 2000
    for ref in list(made)[:50]:
        assert len(ref) == 12 and ref.startswith("RX-")
        assert normalize_reference(ref) == ref
        assert not set(ref[3:].replace("-", "")) & set("ILOU")


@given(refs, st.integers(min_value=3, max_value=11), st.sampled_from(ALPHABET))
def test_any_single_mistyped_symbol_is_caught(ref, index, symbol):
    if ref[index] == "-" or ref[index] == symbol:
        return
    typo = ref[:index] + symbol + ref[index + 1 :]
    assert normalize_reference(typo) is None


@given(refs, st.integers(min_value=3, max_value=10))
def test_swapping_two_neighbouring_symbols_is_caught(ref, index):
    body = ref[3:].replace("-", "")
    i = index - 3 if index - 3 < 7 else 6
    if body[i] == body[i + 1]:
        return
    swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
    # Luhn mod N misses only a swap of the first and last symbols (values 0 and 31).
    if abs(ALPHABET.index(body[i]) - ALPHABET.index(body[i + 1])) == 31:
        return
    assert normalize_reference(swapped) is None


def test_references_typed_loosely_are_understood():
    ref = new_reference()
    body = ref[3:].replace("-", "")
    assert normalize_reference(body.lower()) == ref
    assert normalize_reference(f"rx {body[:4]} {body[4:]}") == ref
    zeroed = ref.replace("0", "O")
    assert normalize_reference(zeroed) == ref
    assert find_references(f"Re: [{ref}] still waiting, also about {ref}") == [ref]
    assert normalize_reference("") is None and normalize_reference("RX-12") is None


def test_lifecycle_allows_the_expected_moves():
    assert next_status("assign", "new", has_assignee=False) == "assigned"
    assert next_status("assign", "in_progress", has_assignee=True) == "in_progress"
    assert next_status("request_info", "in_progress", has_assignee=True) == "waiting_on_customer"
    assert next_status("start", "waiting_on_customer", has_assignee=True) == "in_progress"
    assert next_status("resolve", "waiting_on_customer", has_assignee=True) == "resolved"
    assert next_status("reopen", "closed", has_assignee=False) == "new"
    assert next_status("transfer", "in_progress", has_assignee=True) == "new"


@pytest.mark.parametrize(
    "action, status",
    [
        (a, s)
        for a, allowed in ALLOWED_FROM.items()
        for s in ("new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed")
        if s not in allowed
    ],
)
def test_every_disallowed_move_is_refused_with_a_message(action, status):
    with pytest.raises(Conflict) as info:
        next_status(action, status, has_assignee=True)
    assert status.replace("_", " ") in info.value.message
