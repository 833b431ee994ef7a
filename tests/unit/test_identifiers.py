"""Identifiers: check characters, masking, and the county settings that bear on them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import Rejected, RejectReason, ValidationSettings, parse
from contracts.identifiers import (
    ID_NUMBER_CHECK,
    ID_NUMBER_WEIGHTS,
    USCC_CHARSET,
    USCC_WEIGHTS,
    id_number_check_char,
    id_number_problem,
    mask,
    uscc_check_char,
    uscc_problem,
)

#: The examples DESIGN §4 gives as valid.
DESIGN_ID_NUMBER = "11010519491231002X"
DESIGN_USCC = "91350100M000100Y43"


def _registration(**payload: Any) -> dict[str, Any]:
    return {
        "message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a01",
        "type": "case.registered",
        "schema_version": 1,
        "source": "tax",
        "case_id": "tax-2026-000123",
        "occurred_at": "2026-11-23T09:15:00+08:00",
        "payload": {
            "channel": "window",
            "received_at": "2026-11-23T09:12:00+08:00",
            "intake_clerk": "T-0317",
            "party": {
                "kind": "employee",
                "name": "李某某",
                "id_number": DESIGN_ID_NUMBER,
                "uscc": None,
                "phone": None,
            },
            "employer": {"name": "某公司", "uscc": DESIGN_USCC},
            "jurisdiction": "340322101",
            "category": "other",
            "matters": ["arrears"],
            "insurance_types": ["110"],
            "fee_period": None,
            "amount_in_dispute": None,
            "summary": "摘要",
            "initial_opinion": "意见",
            "urgent": False,
            **payload,
        },
    }


def _raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def test_design_id_number_is_valid_with_check_character_x() -> None:
    assert id_number_check_char(DESIGN_ID_NUMBER[:17]) == "X"
    assert id_number_problem(DESIGN_ID_NUMBER) is None


def test_design_credit_code_is_valid_with_check_character_3() -> None:
    assert uscc_check_char(DESIGN_USCC[:17]) == "3"
    assert uscc_problem(DESIGN_USCC) is None


@pytest.mark.parametrize(
    ("first17", "check"),
    [("34032219850315123", "0"), ("34032219920708456", "8"), ("34032220010930024", "2")],
)
def test_id_number_check_character_of_the_shared_examples(first17: str, check: str) -> None:
    assert id_number_check_char(first17) == check


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11010519491231002x", "must be 17 digits"),  # lower-case x is not the check character
        ("1101051949123100", "must be 17 digits"),
        ("110105194912310020", "check digit should be X"),
        ("１１０１０５１９４９１２３１００２X", "must be 17 digits"),  # fullwidth digits
    ],
)
def test_id_number_problem_says_what_is_wrong(value: str, problem: str) -> None:
    found = id_number_problem(value)

    assert found is not None and found.startswith(problem)
    assert value not in found  # details never repeat personal data


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("91350100M000100Y42", "check character should be 3"),
        ("91350100M000100YI3", "must be 18 characters"),  # I is not in the character set
        ("91350100m000100y43", "must be 18 characters"),
        ("91350100M000100Y4", "must be 18 characters"),
    ],
)
def test_uscc_problem_says_what_is_wrong(value: str, problem: str) -> None:
    found = uscc_problem(value)

    assert found is not None and found.startswith(problem)


def test_mask_keeps_four_characters_at_each_end() -> None:
    assert mask("340322198503151232") == "3403**********1232"


def test_mask_hides_a_short_value_entirely() -> None:
    assert mask("13800") == "*****"
    assert mask("12345678") == "********"


def test_parse_refuses_a_failing_credit_code_as_invalid_uscc() -> None:
    employer = {"name": "某公司", "uscc": "91350100M000100Y42"}

    with pytest.raises(Rejected) as caught:
        parse(_raw(_registration(employer=employer)))

    assert caught.value.reason is RejectReason.INVALID_USCC
    assert caught.value.detail == "payload.employer.uscc: check character should be 3"


def test_parse_accepts_a_known_uscc_exception_of_the_county() -> None:
    early = "91350100M000100Y42"  # fails the checksum, listed by the county as genuine
    settings = ValidationSettings(uscc_exceptions=frozenset({early}))

    envelope = parse(
        _raw(_registration(employer={"name": "某公司", "uscc": early})), settings=settings
    )

    assert envelope.payload.employer.uscc == early


def test_parse_accepts_a_known_exception_only_where_listed() -> None:
    settings = ValidationSettings(uscc_exceptions=frozenset({"91350100M000100Y42"}))
    other = {"name": "某公司", "uscc": "91350100M000100Y41"}

    with pytest.raises(Rejected) as caught:
        parse(_raw(_registration(employer=other)), settings=settings)

    assert caught.value.reason is RejectReason.INVALID_USCC


def test_parse_refuses_a_jurisdiction_of_another_county_by_default() -> None:
    with pytest.raises(Rejected) as caught:
        parse(_raw(_registration(jurisdiction="340321101")))

    assert caught.value.reason is RejectReason.SCHEMA_VIOLATION
    assert (
        caught.value.detail == "payload.jurisdiction: must be a division code under county 340322"
    )


def test_parse_accepts_that_county_when_it_is_configured() -> None:
    settings = ValidationSettings(county_code="340321")

    envelope = parse(_raw(_registration(jurisdiction="340321101")), settings=settings)

    assert envelope.payload.jurisdiction == "340321101"
    with pytest.raises(Rejected):
        parse(_raw(_registration(jurisdiction="340322101")), settings=settings)


def test_design_identifiers_parse_inside_a_full_message() -> None:
    envelope = parse(_raw(_registration()))

    assert envelope.payload.party.id_number == DESIGN_ID_NUMBER
    assert envelope.payload.employer.uscc == DESIGN_USCC


# -- the fast check characters agree with the standards' weighted sums --------------------


def _reference_id_check(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_NUMBER_WEIGHTS, strict=True))
    return ID_NUMBER_CHECK[total % 11]


def _reference_uscc_check(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_id_number_check_char_is_the_weighted_sum_of_gb11643(first17: str) -> None:
    expected = _reference_id_check(first17)

    assert id_number_check_char(first17) == expected
    assert id_number_problem(first17 + expected) is None
    wrong = "X" if expected != "X" else "0"
    assert id_number_problem(first17 + wrong) == f"check digit should be {expected}"


@given(st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17))
def test_uscc_check_char_is_the_weighted_sum_of_gb32100(first17: str) -> None:
    expected = _reference_uscc_check(first17)

    assert uscc_check_char(first17) == expected
    assert uscc_problem(first17 + expected) is None
    wrong = "0" if expected != "0" else "1"
    assert uscc_problem(first17 + wrong) == f"check character should be {expected}"


@pytest.mark.parametrize("first17", ["3403221985031512", "340322198503151234", "3403221985031512a", "1_000000000000000"])
def test_id_number_check_char_still_refuses_what_it_cannot_read(first17: str) -> None:
    # int(..., 13) would read "a" and "_"; the fast path only takes 17 ASCII digits
    with pytest.raises(ValueError):
        id_number_check_char(first17)


@pytest.mark.parametrize("first17", ["91350100M000100Y", "91350100M000100Y43", "91350100I000100Y4", "91350100m000100Y4"])
def test_uscc_check_char_still_refuses_what_it_cannot_read(first17: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(first17)


def test_a_remembered_verdict_does_not_override_the_known_exceptions() -> None:
    early = "91350100M000100Y42"
    assert uscc_problem(early) == "check character should be 3"  # now cached
    assert uscc_problem(early, frozenset({early})) is None
    assert uscc_problem(early) == "check character should be 3"
    assert uscc_problem(early, frozenset({"91350100M000100Y41"})) == "check character should be 3"


@pytest.mark.parametrize(
    "value", ["11010519491231002X\n", " 11010519491231002X", "1101051949123100_2X", "+1010519491231002X"]
)
def test_id_number_problem_refuses_shapes_int_would_read(value: str) -> None:
    assert id_number_problem(value) == "must be 17 digits followed by a digit or 'X' (18 characters)"
