"""Properties: check characters, round trips, and runtime/schema agreement on any bytes.

The check-character oracles here are the standards' own formulas, written
independently of :mod:`contracts.identifiers`: ISO 7064 MOD 11-2 for GB 11643
(weights 2^(17-i) mod 11) and the published GB 32100 weight list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import Registry, default_registry, parse
from contracts.identifiers import USCC_CHARSET, id_number_problem, uscc_problem
from tests.contract.strategies import PAYLOADS, envelopes_of
from tests.contract.support import SchemaJudge, runtime_verdict

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: GB 32100 weights of the 17 leading characters, as the standard publishes them.
USCC_PUBLISHED_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
DIGITS = "0123456789"


def iso7064_check(first17: str) -> str:
    """ISO 7064 MOD 11-2: the check value makes the weighted sum of all 18 ≡ 1 (mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def gb32100_check(first17: str) -> str:
    total = sum(
        USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_PUBLISHED_WEIGHTS, strict=True)
    )
    return USCC_CHARSET[(31 - total % 31) % 31]


id_numbers = st.text(DIGITS, min_size=17, max_size=17).map(lambda d: d + iso7064_check(d))
usccs = st.text(USCC_CHARSET, min_size=17, max_size=17).map(lambda s: s + gb32100_check(s))


def _replace(value: str, position: int, char: str) -> str:
    return value[:position] + char + value[position + 1 :]


@FAST
@given(id_numbers)
def test_generated_id_number_passes(value: str) -> None:
    assert id_number_problem(value) is None


@FAST
@given(usccs)
def test_generated_credit_code_passes(value: str) -> None:
    assert uscc_problem(value) is None


@FAST
@given(id_numbers, st.integers(0, 17), st.sampled_from(DIGITS + "X"))
def test_id_number_any_single_character_change_is_detected(
    value: str, position: int, char: str
) -> None:
    # Each weight is non-zero mod the prime 11 and a digit moves by less than 11, so
    # no single substitution keeps the sum; X is legal only as the check character.
    changed = _replace(value, position, char)
    if changed == value:
        return
    problem = id_number_problem(changed)
    assert problem is not None
    if position == 17 or char != "X":
        assert problem.startswith("check digit should be")


@FAST
@given(usccs, st.integers(0, 17), st.sampled_from(USCC_CHARSET))
def test_credit_code_any_single_character_change_is_detected(
    value: str, position: int, char: str
) -> None:
    # Same argument mod the prime 31: weights 3^i are non-zero, values differ by < 31.
    changed = _replace(value, position, char)
    if changed != value:
        assert uscc_problem(changed) is not None


@FAST
@given(
    st.one_of(
        id_numbers.map(lambda v: (v, id_number_problem)), usccs.map(lambda v: (v, uscc_problem))
    ),
    st.integers(0, 16),
)
def test_identifier_adjacent_transposition_is_detected(
    case: tuple[str, Any], position: int
) -> None:
    value, problem = case
    a, b = value[position], value[position + 1]
    if a != b:
        assert problem(value[:position] + b + a + value[position + 2 :]) is not None


@FAST
@given(
    st.one_of(
        id_numbers.map(lambda v: (v, DIGITS, id_number_problem)),
        usccs.map(lambda v: (v, USCC_CHARSET, uscc_problem)),
    )
)
def test_identifier_some_double_change_goes_undetected(case: tuple[str, str, Any]) -> None:
    # A check character catches every single error, not every pair: two substitutions
    # can cancel out (w_i·d_i + w_j·d_j ≡ 0). The check is a typo guard, not a proof.
    value, alphabet, problem = case
    undetected = (
        changed
        for i in range(17)
        for j in range(i + 1, 17)
        for ci in alphabet
        if ci != value[i]
        for cj in alphabet
        if cj != value[j] and problem(changed := _replace(_replace(value, i, ci), j, cj)) is None
    )
    assert next(undetected, None) is not None


def test_strategies_cover_every_payload_of_the_catalogue(registry: Registry) -> None:
    assert {cv.payload for cv in registry} <= PAYLOADS.keys()


@pytest.mark.parametrize("contract", list(default_registry()), ids=lambda cv: cv.tag)
def test_generated_message_round_trips_and_passes_its_schema(
    contract: Any, judge: SchemaJudge
) -> None:
    @MESSAGES
    @given(envelopes_of(contract))
    def check(envelope: Any) -> None:
        raw = envelope.to_json()
        assert raw == envelope.model_dump_json().encode()  # the serializer's bytes, unchanged
        assert parse(raw) == envelope
        assert type(envelope).model_validate_json(raw) == envelope
        assert judge.errors(raw) == []

    check()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_of_arbitrary_bytes_raises_nothing_but_rejected(raw: bytes) -> None:
    runtime_verdict(raw)  # anything but Rejected propagates and fails the test


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _tweaks(value: Any) -> list[Any]:
    """Near misses of a JSON value: what a careless producer might send instead."""
    if isinstance(value, bool):
        return [int(value), str(value).lower(), None]
    if isinstance(value, int):
        return [float(value), str(value), value + 1, -value - 1, None]
    if isinstance(value, str):
        return [
            value + "\n",
            " " + value,
            value.translate(_FULLWIDTH),
            value.upper(),
            value.lower(),
            value.replace("T", " "),
            value[:-1],
            "",
            None,
        ]
    return [None, "", 0, [], {}]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message of any type, then truncated, a byte flipped, a field deleted or tweaked."""
    contract = draw(st.sampled_from(list(default_registry())))
    raw: bytes = draw(envelopes_of(contract)).to_json()
    how = draw(st.sampled_from(["truncate", "flip", "delete", "tweak", "tweak"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    message = json.loads(raw)
    *parents, last = draw(st.sampled_from(_paths(message)))
    node = message
    for key in parents:
        node = node[key]
    if how == "delete" and isinstance(node, dict):
        del node[last]
    else:
        node[last] = draw(st.sampled_from(_tweaks(node[last])))
    return json.dumps(message, ensure_ascii=False).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated())
def test_mutated_message_gets_the_same_verdict_from_runtime_and_schema(
    raw: bytes, judge: SchemaJudge
) -> None:
    rejected = runtime_verdict(raw)
    errors = judge.errors(raw)
    assert (rejected is None) == (not errors), (rejected, errors[:3])
