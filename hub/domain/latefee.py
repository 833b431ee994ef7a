"""Late fees on social-insurance arrears (社会保险法 art. 86).

An employer that does not pay in full and on time owes, on top of the arrears,
0.05 % of the arrears for every day from the day payment was due. The rule here:

* days: the day payment was due and the day counted up to are both counted
  (2026-02-16 to 2026-11-27 is 285 days); counting up to a day before the due
  day gives 0 days and a fee of 0.00;
* amount: ``principal × daily rate × days`` computed exactly in ``Decimal``, then
  rounded once to the fen (0.01 yuan) with ROUND_HALF_UP. Rounding the product,
  not each day's fee, keeps small daily amounts from vanishing: 1.00 yuan over
  15 days is 0.0075, shown as 0.01, where per-day rounding would give 0.00.

Example: 186 400.00 yuan from 2026-02-16 to 2026-11-27 → 285 days → 26 562.00 yuan.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Final

__all__ = ["DAILY_RATE", "FEN", "days_counted", "late_fee"]

#: 万分之五 per day, 社会保险法 art. 86.
DAILY_RATE: Final = Decimal("0.0005")
#: One fen, the smallest unit of the yuan: late fees are shown to it.
FEN: Final = Decimal("0.01")


def days_counted(from_day: date, until_day: date) -> int:
    """Days from ``from_day`` to ``until_day``, both counted; 0 if ``until_day`` is earlier."""
    return max(0, (until_day - from_day).days + 1)


def late_fee(
    principal: Decimal, from_day: date, until_day: date, daily_rate: Decimal = DAILY_RATE
) -> Decimal:
    """The late fee in yuan on ``principal`` yuan of arrears due on ``from_day``, to ``until_day``.

    Raises:
        ValueError: ``principal`` or ``daily_rate`` is negative or not a finite Decimal.
    """
    for label, value in (("principal", principal), ("daily_rate", daily_rate)):
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ValueError(f"{label} must be a finite, non-negative Decimal, not {value!r}")
    with localcontext() as exact:
        # Enough digits that the product is exact before the one rounding to the fen.
        exact.prec = 60
        product = principal * daily_rate * days_counted(from_day, until_day)
        return product.quantize(FEN, rounding=ROUND_HALF_UP)
