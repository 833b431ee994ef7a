"""Late fees on arrears (社会保险法 art. 86): 0.05 % a day, both ends counted, to the fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.latefee import days_counted, late_fee


def test_late_fee_on_186400_yuan_from_16_february_to_27_november_2026_is_26562() -> None:
    assert days_counted(date(2026, 2, 16), date(2026, 11, 27)) == 285
    assert late_fee(Decimal("186400.00"), date(2026, 2, 16), date(2026, 11, 27)) == Decimal(
        "26562.00"
    )


def test_days_counted_counts_both_the_first_and_the_last_day() -> None:
    assert days_counted(date(2026, 3, 1), date(2026, 3, 1)) == 1
    assert days_counted(date(2026, 2, 28), date(2026, 3, 1)) == 2
    assert days_counted(date(2024, 2, 28), date(2024, 3, 1)) == 3  # leap day


def test_late_fee_until_a_day_before_the_due_day_is_zero() -> None:
    assert days_counted(date(2026, 3, 2), date(2026, 3, 1)) == 0
    assert late_fee(Decimal("1000.00"), date(2026, 3, 2), date(2026, 3, 1)) == Decimal("0.00")


def test_late_fee_rounds_half_a_fen_up() -> None:
    # 10.00 × 0.0005 × 1 = 0.005: half-up gives 0.01 where banker's rounding gives 0.00.
    assert late_fee(Decimal("10.00"), date(2026, 3, 1), date(2026, 3, 1)) == Decimal("0.01")
    # 1234.56 × 0.0005 × 3 = 1.85184 → 1.85
    assert late_fee(Decimal("1234.56"), date(2026, 3, 1), date(2026, 3, 3)) == Decimal("1.85")


def test_late_fee_rounds_the_product_not_each_day() -> None:
    # 1.00 × 0.0005 = 0.0005 a day, 0.00 if rounded daily; over 15 days 0.0075 → 0.01.
    assert late_fee(Decimal("1.00"), date(2026, 3, 1), date(2026, 3, 15)) == Decimal("0.01")


def test_late_fee_uses_a_given_daily_rate() -> None:
    fee = late_fee(Decimal("1000.00"), date(2026, 3, 1), date(2026, 3, 10), Decimal("0.001"))
    assert fee == Decimal("10.00")


def test_late_fee_refuses_a_negative_or_non_finite_principal() -> None:
    for bad in (Decimal("-1.00"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError, match="principal"):
            late_fee(bad, date(2026, 3, 1), date(2026, 3, 2))


@given(
    principal=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    days=st.integers(min_value=1, max_value=3650),
)
def test_late_fee_is_the_exact_product_rounded_to_the_fen(principal: Decimal, days: int) -> None:
    start = date(2020, 1, 1)
    fee = late_fee(principal, start, start + timedelta(days=days - 1))
    exact = principal * Decimal("0.0005") * days
    assert fee.as_tuple().exponent == -2
    assert abs(fee - exact) <= Decimal("0.005")
