"""Reading one cell of an export: text, money, fee months, days (the rules of ``columns.toml``).

Pure functions over the values a reader found (text from CSV and JSON Lines;
numbers, dates and text from XLSX). A cell that cannot be read raises
:class:`CellError` naming the internal column and the reason, never the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class CellError(ValueError):
    """A cell that cannot be read; ``column`` is the internal column name."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


_MONTH = re.compile(r"([0-9]{4})[-/.]?([0-9]{1,2})(?:[-/.]?([0-9]{1,2}))?")
_DAY = re.compile(r"([0-9]{4})[-/.]?([0-9]{1,2})[-/.]?([0-9]{1,2})")


#: Integers from this size on are not exact in a spreadsheet's number cells (IEEE doubles).
EXACT_NUMBER_LIMIT = 2**53


def text(cell: Any, column: str = "(cell)") -> str | None:
    """A cell as text, ``None`` if blank; integral numbers lose their ``.0`` (voucher numbers).

    Raises:
        CellError: a number too long to have survived a spreadsheet's number cell.
    """
    if cell is None:
        return None
    if isinstance(cell, int | float) and not isinstance(cell, bool) and abs(cell) >= EXACT_NUMBER_LIMIT:
        raise CellError(column, "a number this long lost digits in a number cell; store the column as text")
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, datetime | date):
        cell = cell.isoformat()
    value = str(cell).strip()
    return value or None


def money(cell: Any, column: str) -> Decimal:
    """Yuan: ``1080``, ``1080.5``, ``"1,080.00"``, ``¥1080``; at most two places, not negative."""
    if isinstance(cell, float):
        cell = repr(cell)  # the shortest text that is this float: 1080.5, not 1080.49999…
    raw = text(cell, column)
    if raw is None:
        raise CellError(column, "an amount is required")
    cleaned = raw.replace(",", "").replace("，", "").lstrip("¥￥").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CellError(column, "not an amount in yuan") from None
    if not value.is_finite() or value < 0:
        raise CellError(column, "an amount must be a non-negative number of yuan")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise CellError(column, "an amount has at most two decimal places (fen)")
    return value.quantize(Decimal("0.01"))


def month(cell: Any, column: str) -> str:
    """A fee month ``YYYY-MM`` from ``2026-10``, ``202610``, ``2026-10-01``, ``2026/10`` or a date."""
    if isinstance(cell, datetime | date):
        return f"{cell.year:04d}-{cell.month:02d}"
    raw = text(cell, column)
    found = _MONTH.fullmatch(raw or "")
    if found is None:
        raise CellError(column, "a fee month such as 2026-10, 202610 or 2026-10-01 is required")
    year, month_, day_ = int(found[1]), int(found[2]), found[3]
    try:
        date(year, month_, int(day_) if day_ else 1)
    except ValueError:
        raise CellError(column, "not a calendar month") from None
    return f"{year:04d}-{month_:02d}"


def day(cell: Any, column: str) -> date:
    """A calendar day from ``2026-11-20``, ``20261120``, ``2026/11/20`` or a date cell."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    found = _DAY.fullmatch(text(cell, column) or "")
    if found is None:
        raise CellError(column, "a date such as 2026-11-20 or 20261120 is required")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise CellError(column, "not a calendar date") from None
