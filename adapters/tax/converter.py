"""Rows of one export → ``PaymentRecord``s, with the column work done once per file.

:func:`adapters.tax.rows.to_record` is the reference: it reads any cell (text,
numbers, dates), knows every rule of ``columns.toml`` and words every problem. It
is general, and so slow for the common case of a CSV export, whose cells are all
text in the usual forms. A :class:`RowConverter` is built once per file from its
header: it knows where each column sits in a row, and reads plain text cells in
the usual forms (``2026-10``, ``1,080.00``, ``2026-11-20``, ``20261120``, known
征收品目 names) with a few string operations. Anything else — a number or date
cell, an unusual form, a cell it cannot read, a record the contract refuses —
goes to ``to_record`` for that row, so every value it accepts is one ``to_record``
would produce and every problem is worded by ``to_record``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from adapters.tax.rows import ColumnMap, RowProblem, first_cells, inferred_payer_kind, to_record
from contracts import ValidationSettings
from contracts.codes import InsuranceType, PayerKind
from contracts.messages.payment import PaymentRecord

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_PLAIN_MONEY = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
# Year 0000 is left to to_record: it is not a calendar year.
_PLAIN_MONTH = re.compile(r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])")
_PLAIN_DAY = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})")
_CODES: Mapping[str, InsuranceType] = {kind.value: kind for kind in InsuranceType}
_VALIDATE = PaymentRecord.__pydantic_validator__.validate_python


class _Unusual(Exception):
    """A cell outside the plain forms: the row goes to ``to_record``."""


def _text(cell: Any) -> str | None:
    if cell is None:
        return None
    if type(cell) is not str:
        raise _Unusual
    return cell.strip() or None


# The same amounts, months and days come back on many rows of an export: each text is
# read once (the values are immutable), ``None`` standing for a text outside the plain forms.
_SEEN_TEXTS = 1 << 16


@lru_cache(maxsize=_SEEN_TEXTS)
def _plain_money(raw: str) -> Decimal | None:
    cleaned = raw.replace(",", "")
    if not _PLAIN_MONEY.fullmatch(cleaned):
        return None
    return Decimal(cleaned).quantize(_CENT)


@lru_cache(maxsize=_SEEN_TEXTS)
def _plain_day(raw: str) -> date | None:
    found = _PLAIN_DAY.fullmatch(raw)
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _money(cell: Any) -> Decimal:
    raw = _text(cell)
    value = None if raw is None else _plain_money(raw)
    if value is None:
        raise _Unusual
    return value


def _month(cell: Any) -> str:
    raw = _text(cell)
    if raw is None or not _PLAIN_MONTH.fullmatch(raw):
        raise _Unusual
    return raw


def _day(cell: Any) -> date:
    value = _plain_day(_text(cell) or "")
    if value is None:
        raise _Unusual
    return value


class RowConverter:
    """Turns the rows of one file into records; built from the file's column keys."""

    def __init__(
        self,
        keys: Mapping[str, Sequence[Any]],
        mapping: ColumnMap,
        header_of: Mapping[str, str],
        settings: ValidationSettings,
    ) -> None:
        """``keys``: internal column → the row keys (list indexes or object keys) it is read from."""
        self._keys = [(column, tuple(found)) for column, found in keys.items()]
        self._mapping = mapping
        self._header_of = header_of
        self._settings = settings
        self._context = settings.as_context()

    def values(self, row: Sequence[Any] | Mapping[Any, Any]) -> dict[str, Any]:
        """Internal column → cell; of several keys for one column, the first non-blank cell."""
        if isinstance(row, Mapping):
            return first_cells(self._keys, row)
        values: dict[str, Any] = {}
        size = len(row)
        for column, found in self._keys:
            for index in found:
                cell = row[index] if index < size else None
                if cell is not None and cell != "":
                    values[column] = cell
                    break
        return values

    def convert(self, row: Sequence[Any] | Mapping[Any, Any], number: int) -> PaymentRecord | RowProblem:
        """The record of one row, or its first problem (worded by ``to_record``)."""
        values = self.values(row)
        try:
            record: PaymentRecord = _VALIDATE(self._fields(values, number), context=self._context)
        except (_Unusual, ValidationError):
            return to_record(values, number, self._mapping, self._header_of, self._settings)
        return record

    def _fields(self, row: Mapping[str, Any], number: int) -> dict[str, Any]:
        """The record's fields of a row of plain text cells, as ``rows.record_values`` reads them."""
        mapping = self._mapping
        kind_name = _text(row.get("insurance_type"))
        if kind_name is None:
            raise _Unusual
        kind_name = kind_name.replace(" ", "")
        kind = mapping.insurance_types.get(kind_name) or _CODES.get(kind_name)
        if kind is None:
            raise _Unusual
        payer_id = _text(row.get("payer_id"))
        person = _text(row.get("person_id_number"))
        named = _text(row.get("payer_kind"))
        if named is not None:
            if named not in mapping.payer_kinds:
                raise _Unusual
            payer_kind = mapping.payer_kinds[named]
        else:
            payer_kind = inferred_payer_kind(payer_id, person, "employer_uscc" in row, kind, mapping)
        employer = payer_kind is PayerKind.EMPLOYER
        base = row.get("contribution_base")
        late_fee = row.get("late_fee")
        treasury_on = row.get("treasury_on")
        voucher = _text(row.get("tax_voucher_no"))
        if voucher is None:
            raise _Unusual
        return {
            "record_id": _text(row.get("record_id")) or f"r-{number}",
            "payer_kind": payer_kind,
            "employer_uscc": (_text(row.get("employer_uscc")) or payer_id) if employer else None,
            "employer_name": _text(row.get("payer_name")) if employer else None,
            "person_id_number": person or (None if employer else payer_id),
            "insurance_type": kind,
            "period_start": _month(row.get("period_start")),
            "period_end": _month(row.get("period_end")),
            "contribution_base": None if _text(base) is None else _money(base),
            "amount_due": _money(row.get("amount_due")),
            "amount_paid": _money(row.get("amount_paid")),
            "late_fee": _money(late_fee) if late_fee else _ZERO,
            "tax_voucher_no": voucher,
            "paid_on": _day(row.get("paid_on")),
            "treasury_on": None if _text(treasury_on) is None else _day(treasury_on),
        }
