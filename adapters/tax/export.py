"""The payment-detail export reader: CSV (UTF-8, UTF-8 with BOM, GBK), JSON Lines, XLSX.

Every row is validated into a ``PaymentRecord``; a bad row is reported with its
row number (as a spreadsheet counts: the header is row 1), the column as the file
names it, and the reason, and the good rows go on. What stops the whole file is an
:class:`~adapters.errors.ExportError`: an unknown format, text in neither UTF-8 nor
GBK, an unreadable workbook, or a missing required column (named).

CSV text is read as UTF-8 (a BOM is allowed) and, if that fails, as GBK (decoded
with its superset GB 18030, which also covers rare characters in names).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from adapters.errors import ExportError
from adapters.tax.rows import ColumnMap, RowProblem, to_record
from contracts import ValidationSettings
from contracts.messages.payment import PaymentRecord

ExportFormat = Literal["csv", "jsonl", "xlsx"]
SUFFIXES: Mapping[str, ExportFormat] = {
    ".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx",
}
_DEFAULT_SETTINGS = ValidationSettings()


@dataclass
class ExportReport:
    """What came out of one export file."""

    format: ExportFormat
    encoding: str | None
    rows: int = 0
    records: list[PaymentRecord] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def decode_text(data: bytes, name: str = "the file") -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 (``utf-8-sig`` when a BOM leads), else GBK.

    Raises:
        ExportError: the bytes are neither, with where the first bad byte is.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise _not_text(name, error, 3) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gbk"
        except UnicodeDecodeError:
            raise _not_text(name, utf8_error, 0) from None


def _not_text(name: str, error: UnicodeDecodeError, offset: int) -> ExportError:
    position = error.start + offset
    return ExportError(
        f"{name} is neither UTF-8 nor GBK text (byte 0x{error.object[error.start]:02x} at offset "
        f"{position}); export it again as CSV in UTF-8 or GBK"
    )


def _normal(name: Any) -> str:
    return str(name or "").replace("\ufeff", "").strip().lower()


def column_keys(header: Iterable[Any], mapping: ColumnMap) -> dict[str, list[Any]]:
    """Internal column → the file's header keys for it, in the order ``columns.toml`` lists names.

    Raises:
        ExportError: a required column is missing (named in Chinese and English).
    """
    by_name: dict[str, list[Any]] = {}
    for key in header:
        if _normal(key):
            by_name.setdefault(_normal(key), []).append(key)
    found = {
        column: [key for name in names for key in by_name.get(_normal(name), [])]
        for column, names in mapping.columns.items()
    }
    found = {column: keys for column, keys in found.items() if keys}
    missing = [column for column in mapping.required if column not in found]
    if not {"payer_id", "person_id_number", "employer_uscc"} & found.keys():
        missing.insert(0, "payer_id")
    if missing:
        names = ", ".join(mapping.header_names(column) for column in missing)
        raise ExportError(f"missing required column(s): {names}")
    return found


def _by_column(
    keys: Mapping[str, list[Any]], rows: Iterable[tuple[int, Mapping[Any, Any]]]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows keyed by internal column; of several keys for one column, the first non-blank cell."""
    for number, row in rows:
        values: dict[str, Any] = {}
        for column, candidates in keys.items():
            for key in candidates:
                cell = row.get(key)
                if cell is not None and cell != "":
                    values[column] = cell
                    break
        yield number, values


def read_export(
    path: Path,
    *,
    mapping: ColumnMap | None = None,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    export_format: ExportFormat | None = None,
) -> ExportReport:
    """Read and validate every row of an export file.

    Raises:
        ExportError: the file cannot be read at all (see the module docstring).
    """
    mapping = mapping or ColumnMap.load()
    kind = export_format or SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ExportError(f"{path.name}: unknown export format; use .csv, .jsonl or .xlsx")
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    if kind == "xlsx":
        header, rows = _xlsx_rows(path)
        report = ExportReport(kind, None)
    else:
        text, encoding = decode_text(path.read_bytes(), path.name)
        report = ExportReport(kind, encoding)
        header, rows = _csv_rows(text) if kind == "csv" else _jsonl_rows(text, report)
    keys = column_keys(header, mapping)
    header_of = {column: str(found[0]).replace("\ufeff", "").strip() for column, found in keys.items()}
    seen: dict[str, int] = {}
    for number, values in _by_column(keys, rows):
        report.rows += 1
        outcome = to_record(values, number, mapping, header_of, settings)
        if isinstance(outcome, RowProblem):
            report.problems.append(outcome)
        elif outcome.record_id in seen:
            column = header_of.get("record_id", "record_id")
            report.problems.append(
                RowProblem(number, column, f"record id repeats row {seen[outcome.record_id]}")
            )
        else:
            seen[outcome.record_id] = number
            report.records.append(outcome)
    return report


def _blank(cells: Sequence[Any]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in cells)


def _csv_rows(text: str) -> tuple[list[str], Iterator[tuple[int, Mapping[Any, Any]]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ExportError("the export is empty: no header row")

    def rows() -> Iterator[tuple[int, Mapping[Any, Any]]]:
        for cells in reader:
            if not _blank(cells):
                yield reader.line_num, dict(zip(header, cells, strict=False))

    return header, rows()


def _jsonl_rows(
    text: str, report: ExportReport
) -> tuple[list[str], Iterator[tuple[int, Mapping[Any, Any]]]]:
    parsed: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed.append((number, json.loads(line, parse_float=Decimal)))
        except ValueError:
            parsed.append((number, None))
    objects = [value for _, value in parsed if isinstance(value, dict)]
    if not objects:
        raise ExportError("the export has no JSON object lines")
    header = list(dict.fromkeys(key for value in objects for key in value))

    def rows() -> Iterator[tuple[int, Mapping[Any, Any]]]:
        for number, value in parsed:
            if isinstance(value, dict):
                yield number, value
            else:
                report.rows += 1
                report.problems.append(RowProblem(number, "(line)", "not a JSON object"))

    return header, rows()


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, Mapping[Any, Any]]]]:
    # Imported here: openpyxl is only needed for workbooks, and it is slow to import.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise ExportError(f"{path.name} is not a readable XLSX workbook: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        table = [(number, list(cells)) for number, cells in enumerate(sheet.iter_rows(values_only=True), 1)]
    finally:
        workbook.close()  # read-only workbooks keep the file open until closed
    table = [(number, cells) for number, cells in table if not _blank(cells)]
    if not table:
        raise ExportError(f"{path.name}: the first sheet is empty")
    header = [str(cell) if cell is not None else "" for cell in table[0][1]]
    return header, ((number, dict(zip(header, cells, strict=False))) for number, cells in table[1:])
