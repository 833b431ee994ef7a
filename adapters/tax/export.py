"""The payment-detail export reader: CSV (UTF-8, UTF-8 with BOM, GBK), JSON Lines, XLSX.

Every row is validated into a ``PaymentRecord``; a bad row is reported with its
row number (as a spreadsheet counts: the header is row 1), the column as the file
names it, and the reason, and the good rows go on. What stops the whole file is an
:class:`~adapters.errors.ExportError`: an unknown format, text in neither UTF-8 nor
GBK, an unreadable workbook, or a missing required column (named).

CSV text is read as UTF-8 (a BOM is allowed) and, if that fails, as GBK (decoded
with its superset GB 18030, which also covers rare characters in names).

The file is read as a stream (:mod:`adapters.tax.tables`): :func:`open_export`
checks the header and yields records one by one, so a caller can send them on
while the rest of the file is still being read; :func:`read_export` keeps them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adapters.errors import ExportError
from adapters.tax.converter import RowConverter
from adapters.tax.rows import ColumnMap, RowProblem
from adapters.tax.tables import Table, csv_table, jsonl_table, not_text_error, xlsx_table
from contracts import ValidationSettings
from contracts.messages.payment import PaymentRecord

ExportFormat = Literal["csv", "jsonl", "xlsx"]
SUFFIXES: Mapping[str, ExportFormat] = {
    ".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx",
}
_DEFAULT_SETTINGS = ValidationSettings()


@dataclass
class ExportReport:
    """What came out of one export file: rows read, records accepted, problems.

    ``records`` holds the accepted records only when the whole file was read into
    memory (:func:`read_export`); a streaming reader counts them in ``accepted``.
    """

    format: ExportFormat
    encoding: str | None
    rows: int = 0
    accepted: int = 0
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
            raise not_text_error(name, error.object[error.start], error.start + 3) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gbk"
        except UnicodeDecodeError:
            raise not_text_error(name, utf8_error.object[utf8_error.start], utf8_error.start) from None


def _normal(name: Any) -> str:
    return str(name or "").replace("\ufeff", "").strip().lower()


def header_names(keys: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Internal column → the file's header name read for it (for problems worded as the file has it)."""
    return {column: str(found[0]).replace("\ufeff", "").strip() for column, found in keys.items()}


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


def _positions(header: Sequence[Any], keys: Mapping[str, list[Any]]) -> dict[str, list[int]]:
    """Column keys as cell positions; a header name given twice is read from its last cell."""
    last = {key: index for index, key in enumerate(header)}
    return {column: list(dict.fromkeys(last[key] for key in found)) for column, found in keys.items()}


class ExportReader:
    """One export file, opened: its header checked, its rows read and validated as they are iterated.

    Iterating yields each accepted record once, in file order, and fills
    :attr:`report` (rows, accepted, problems) as it goes; memory holds the current
    row and the record ids seen so far (a repeat is refused, naming its first row).
    """

    def __init__(self, table: Table, kind: ExportFormat, mapping: ColumnMap, settings: ValidationSettings) -> None:
        self.report = ExportReport(kind, table.encoding)
        self.expected_rows = table.expected_rows
        self._table = table
        try:
            keys = column_keys(table.header, mapping)
        except ExportError:
            table.close()
            raise
        self._header_of = header_names(keys)
        by_position = _positions(table.header, keys) if kind != "jsonl" else keys
        self._converter = RowConverter(by_position, mapping, self._header_of, settings)

    def __iter__(self) -> Iterator[PaymentRecord]:
        report, convert = self.report, self._converter.convert
        seen: dict[str, int] = {}
        for number, row in self._table.rows:
            report.rows += 1
            if row is None:
                report.problems.append(RowProblem(number, "(line)", "not a JSON object"))
                continue
            outcome = convert(row, number)
            if isinstance(outcome, RowProblem):
                report.problems.append(outcome)
            elif outcome.record_id in seen:
                column = self._header_of.get("record_id", "record_id")
                report.problems.append(RowProblem(number, column, f"record id repeats row {seen[outcome.record_id]}"))
            else:
                seen[outcome.record_id] = number
                report.accepted += 1
                yield outcome

    def close(self) -> None:
        """Release the file (reading stops)."""
        self._table.close()

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_export(
    path: Path,
    *,
    mapping: ColumnMap | None = None,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    export_format: ExportFormat | None = None,
) -> ExportReader:
    """Open an export file for reading row by row; the header is checked now.

    Raises:
        ExportError: the file cannot be read at all (see the module docstring).
    """
    mapping = mapping or ColumnMap.load()
    kind = export_format or SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ExportError(f"{path.name}: unknown export format; use .csv, .jsonl or .xlsx")
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    table = {"csv": csv_table, "jsonl": jsonl_table, "xlsx": xlsx_table}[kind](path)
    return ExportReader(table, kind, mapping, settings)


def read_export(
    path: Path,
    *,
    mapping: ColumnMap | None = None,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    export_format: ExportFormat | None = None,
) -> ExportReport:
    """Read and validate every row of an export file, keeping every record in ``records``.

    Raises:
        ExportError: the file cannot be read at all (see the module docstring).
    """
    with open_export(path, mapping=mapping, settings=settings, export_format=export_format) as reader:
        reader.report.records.extend(reader)
        return reader.report
