"""One row of a payment-detail export → a validated ``PaymentRecord``, or the problem with it.

Pure functions over plain values: the cells arrive as the reader found them (text
from CSV and JSON Lines; numbers, dates and text from XLSX) and are normalised by
the rules documented in ``columns.toml`` before the contract validates the record.
Problems name the column as the file has it (``实缴金额``), never the cell's value,
since cells hold personal data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from adapters.tax.cells import CellError, day, money, month, text
from contracts import ValidationSettings
from contracts.codes import InsuranceType, PayerKind
from contracts.identifiers import id_number_problem, uscc_problem
from contracts.messages.payment import PaymentRecord
from contracts.parse import field_path


@dataclass(frozen=True)
class ColumnMap:
    """The mapping of ``columns.toml``: header names per column, required columns, vocabularies."""

    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    payer_kinds: Mapping[str, PayerKind]
    insurance_types: Mapping[str, InsuranceType]
    resident_types: frozenset[InsuranceType]

    @classmethod
    def load(cls, text: str | None = None) -> ColumnMap:
        """The mapping in ``text`` (TOML), by default the shipped ``adapters/tax/columns.toml``."""
        if text is None:
            text = resources.files("adapters.tax").joinpath("columns.toml").read_text("utf-8")
        data = tomllib.loads(text)
        return cls(
            columns={key: tuple(names) for key, names in data["columns"].items()},
            required=tuple(data["required"]["columns"]),
            payer_kinds={name: PayerKind(kind) for name, kind in data["payer_kinds"].items()},
            insurance_types={
                name: InsuranceType(code) for name, code in data["insurance_types"].items()
            },
            resident_types=frozenset(
                InsuranceType(code) for code in data["derived"]["resident_insurance_types"]
            ),
        )

    def header_names(self, column: str) -> str:
        """How a problem names a column the file lacks: ``实缴金额 (amount_paid)``."""
        names = self.columns[column]
        return f"{'/'.join(names[:-1]) or names[-1]} ({names[-1]})"


@dataclass(frozen=True)
class RowProblem:
    """A row that could not become a record: where (row, column as in the file) and why."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.reason}"


def insurance_type(cell: Any, mapping: ColumnMap) -> InsuranceType:
    """An insurance type from its code (``110``) or its 征收品目 name."""
    raw = text(cell, "insurance_type")
    if raw is None:
        raise CellError("insurance_type", "an insurance type is required")
    name = raw.replace(" ", "")
    if name in mapping.insurance_types:
        return mapping.insurance_types[name]
    try:
        return InsuranceType(name)
    except ValueError:
        raise CellError("insurance_type", f"unknown insurance type {name[:30]!r}") from None


_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


@lru_cache(maxsize=1 << 16)  # a payer appears on many rows of an export
def _is_credit_code(payer_id: str) -> bool:
    """Whether a 缴费人识别号 is an employer's credit code rather than a person's ID number."""
    if len(payer_id) != 18 or id_number_problem(payer_id) is None:
        return False  # a valid ID number, or neither shape: read as a person's
    # 18 digits with a wrong ID check digit: a credit code only if its own check passes.
    return not _ID_SHAPE.fullmatch(payer_id) or uscc_problem(payer_id) is None


def first_cells(keys: Iterable[tuple[str, Sequence[Any]]], row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row read by key, as internal column → cell: of several keys for one column, the first
    non-blank cell. ``keys`` as ``column_keys(...).items()`` gives them."""
    values: dict[str, Any] = {}
    for column, candidates in keys:
        for key in candidates:
            cell = row.get(key)
            if cell is not None and cell != "":
                values[column] = cell
                break
    return values


def inferred_payer_kind(
    payer_id: str | None, person: str | None, has_employer_uscc: bool, kind: InsuranceType, mapping: ColumnMap
) -> PayerKind:
    """The payer kind of a row that does not name it: an employer by its credit code (or, with
    no payer id, by an employer column and no person), else a resident or a flexible worker
    by the insurance type. Shared by this reader and the fast one (``adapters.tax.converter``)."""
    if _is_credit_code(payer_id) if payer_id else person is None and has_employer_uscc:
        return PayerKind.EMPLOYER
    return PayerKind.RESIDENT if kind in mapping.resident_types else PayerKind.FLEXIBLE_WORKER


def _payer(row: Mapping[str, Any], kind: InsuranceType, mapping: ColumnMap) -> dict[str, Any]:
    payer_id = text(row.get("payer_id"), "payer_id")
    person = text(row.get("person_id_number"), "person_id_number")
    named = text(row.get("payer_kind"), "payer_kind")
    if named is not None:
        if named not in mapping.payer_kinds:
            raise CellError("payer_kind", "unknown payer kind (单位, 灵活就业人员 or 城乡居民)")
        payer_kind = mapping.payer_kinds[named]
    else:
        payer_kind = inferred_payer_kind(payer_id, person, "employer_uscc" in row, kind, mapping)
    employer = payer_kind is PayerKind.EMPLOYER
    return {
        "payer_kind": payer_kind,
        "employer_uscc": (text(row.get("employer_uscc"), "employer_uscc") or payer_id) if employer else None,
        "employer_name": text(row.get("payer_name"), "payer_name") if employer else None,
        "person_id_number": person or (None if employer else payer_id),
    }


def record_values(row: Mapping[str, Any], row_number: int, mapping: ColumnMap) -> dict[str, Any]:
    """The ``PaymentRecord`` fields of one row (internal column → cell); raises ``CellError``."""
    kind = insurance_type(row.get("insurance_type"), mapping)
    base = row.get("contribution_base")
    return {
        "record_id": text(row.get("record_id"), "record_id") or f"r-{row_number}",
        **_payer(row, kind, mapping),
        "insurance_type": kind,
        "period_start": month(row.get("period_start"), "period_start"),
        "period_end": month(row.get("period_end"), "period_end"),
        "contribution_base": None if text(base, "contribution_base") is None else money(base, "contribution_base"),
        "amount_due": money(row.get("amount_due"), "amount_due"),
        "amount_paid": money(row.get("amount_paid"), "amount_paid"),
        "late_fee": money(row.get("late_fee") or "0", "late_fee"),
        "tax_voucher_no": _required_text(row.get("tax_voucher_no"), "tax_voucher_no"),
        "paid_on": day(row.get("paid_on"), "paid_on"),
        "treasury_on": None if text(row.get("treasury_on"), "treasury_on") is None
        else day(row.get("treasury_on"), "treasury_on"),
    }


def _required_text(cell: Any, column: str) -> str:
    value = text(cell, column)
    if value is None:
        raise CellError(column, "a value is required")
    return value


#: PaymentRecord field → the column it is read from when the file has no column of that name.
FIELD_COLUMNS = {
    "employer_uscc": "payer_id",
    "employer_name": "payer_name",
    "person_id_number": "payer_id",
}


def to_record(
    row: Mapping[str, Any],
    row_number: int,
    mapping: ColumnMap,
    header_of: Mapping[str, str],
    settings: ValidationSettings,
) -> PaymentRecord | RowProblem:
    """One row as a record, or the first problem with it (``header_of``: column → file header)."""
    try:
        values = record_values(row, row_number, mapping)
        return PaymentRecord.model_validate(values, context=settings.as_context())
    except CellError as error:
        return RowProblem(row_number, header_of.get(error.column, error.column), error.reason)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        loc = tuple(first["loc"])
        field = str((first.get("ctx") or {}).get("field") or (loc[0] if loc else "(row)"))
        column = field if field in header_of else FIELD_COLUMNS.get(field, field)
        message = first["msg"].removeprefix("Value error, ")
        where = header_of.get(column) or field_path(loc) or field
        return RowProblem(row_number, where, message)
