"""The payment contracts' amounts: ``Money`` is ``Yuan`` validated faster, with nothing else changed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from contracts.messages.base import Contract
from contracts.values import Money, Yuan


class Reference(Contract):
    amount: Yuan
    optional: Yuan | None = None


class Fast(Contract):
    amount: Money
    optional: Money | None = None


class _DecimalSubclass(Decimal):
    pass


def _outcome(model: type[Contract], data: Any, *, from_json: bool) -> tuple[str, Any]:
    try:
        if from_json:
            made = model.model_validate_json(json.dumps(data))
        else:
            made = model.model_validate(data)
    except ValidationError as error:
        return "refused", error.errors(include_url=False)
    return "made", (made.model_dump(), made.model_dump_json())


PYTHON_VALUES: list[Any] = [
    "1080.00", "1080", "0", "0.5", "00012.30", "9999999999999.99", "99999999999999", "1.234", "-1", "1e3",
    " 1", "1,080.00", "１０８０", "", "NaN", "1.", ".5", 1080, 10.5, None, True,
    Decimal("1080.00"), Decimal("1080"), Decimal("1080.5"), Decimal("1.234"), Decimal("-1.00"), Decimal("-0.00"),
    Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+3"), Decimal("1.00E+3"),
    Decimal("12345678901234567890.00"), _DecimalSubclass("5.00"), _DecimalSubclass("-5.00"),
]


@pytest.mark.parametrize("value", PYTHON_VALUES, ids=repr)
def test_money_accepts_and_refuses_exactly_what_yuan_does_in_python(value: Any) -> None:
    data = {"amount": value, "optional": value}
    assert _outcome(Fast, data, from_json=False) == _outcome(Reference, data, from_json=False)


@pytest.mark.parametrize("value", [v for v in PYTHON_VALUES if not isinstance(v, Decimal)], ids=repr)
def test_money_accepts_and_refuses_exactly_what_yuan_does_in_json(value: Any) -> None:
    data = {"amount": value, "optional": value}
    assert _outcome(Fast, data, from_json=True) == _outcome(Reference, data, from_json=True)


@given(st.one_of(st.text(alphabet="0123456789.,-+e ", max_size=18), st.decimals(allow_nan=True, places=None)))
def test_money_agrees_with_yuan_on_any_short_text_or_decimal(value: str | Decimal) -> None:
    data = {"amount": value}
    assert _outcome(Fast, data, from_json=False) == _outcome(Reference, data, from_json=False)
    if isinstance(value, str):
        assert _outcome(Fast, data, from_json=True) == _outcome(Reference, data, from_json=True)


def test_money_has_yuans_json_schema() -> None:
    for mode in ("validation", "serialization"):
        assert TypeAdapter(Money).json_schema(mode=mode) == TypeAdapter(Yuan).json_schema(mode=mode)
