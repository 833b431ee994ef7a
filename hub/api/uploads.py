"""Reading an uploaded payment-detail export as a stream: records out, one row at a time.

The tax adapter's reader (:mod:`adapters.tax.export`) takes a whole file; an upload
may be 100 MB, so this module reads the spooled upload row by row with the same
column mapping and row rules (:func:`~adapters.tax.export.column_keys`,
:func:`~adapters.tax.rows.to_record`): memory holds one row, the ids seen so far,
and the problems reported. The text encoding is settled by a first pass over the
bytes (UTF-8, UTF-8 with a BOM, else GBK read as GB 18030) so that a file in neither
is refused before any of it is sent.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Final, Literal

from adapters.errors import ExportError
from adapters.tax.export import column_keys, header_names
from adapters.tax.rows import ColumnMap, RowProblem, first_cells, to_record
from contracts.messages.payment import PaymentRecord
from contracts.values import ValidationSettings

UploadFormat = Literal["csv", "jsonl"]
#: Problems listed in a report; more are only counted (a broken export must not make a huge answer).
MAX_PROBLEMS_LISTED: Final = 1000
_CHUNK_BYTES: Final = 1 << 20
_BOM: Final = codecs.BOM_UTF8


@dataclass
class RowReport:
    """What reading the upload found, row by row."""

    format: UploadFormat
    encoding: str | None = None
    rows: int = 0
    records: int = 0
    problem_count: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, problem: RowProblem) -> None:
        """Count a bad row; list it while the list is short."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_LISTED:
            self.problems.append(problem)


def detect_encoding(file: IO[bytes]) -> str:
    """The codec the whole of ``file`` decodes with (``utf-8-sig``, ``utf-8`` or ``gb18030``).

    Leaves the file at its start.

    Raises:
        ExportError: the bytes are neither UTF-8 nor GBK.
    """
    file.seek(0)
    bom = file.read(len(_BOM)) == _BOM
    candidates = ("utf-8-sig",) if bom else ("utf-8", "gb18030")
    for codec in candidates:
        file.seek(0)
        decoder = codecs.getincrementaldecoder(codec)()
        try:
            for chunk in iter(lambda: file.read(_CHUNK_BYTES), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        file.seek(0)
        return codec
    file.seek(0)
    raise ExportError("the upload is neither UTF-8 nor GBK text; export it again as CSV in UTF-8 or GBK")


def _csv_rows(text: IO[str], mapping: ColumnMap) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        raise ExportError("the upload is empty: no header row")
    keys = column_keys(header, mapping)  # a missing required column stops the whole file
    header_of = header_names(keys)
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield reader.line_num, first_cells(keys.items(), dict(zip(header, cells, strict=False))), header_of


def _jsonl_rows(
    text: IO[str], mapping: ColumnMap, report: RowReport
) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
    known: dict[tuple[str, ...], tuple[dict[str, list[Any]], dict[str, str]]] = {}
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            report.rows += 1
            report.refuse(RowProblem(number, "(line)", "not a JSON object"))
            continue
        shape = tuple(value)
        if shape not in known:
            try:
                keys = column_keys(shape, mapping)
            except ExportError as error:  # a line lacking a column is that line's problem
                report.rows += 1
                report.refuse(RowProblem(number, "(line)", str(error)))
                continue
            known[shape] = keys, header_names(keys)
        keys, header_of = known[shape]
        yield number, first_cells(keys.items(), value), header_of


def read_records(
    file: IO[bytes], report: RowReport, *, mapping: ColumnMap, settings: ValidationSettings
) -> Iterator[PaymentRecord]:
    """The valid records of an upload, in order; bad and repeated rows go to ``report``.

    Raises:
        ExportError: the upload cannot be read at all (encoding, no header, missing column).
    """
    report.encoding = detect_encoding(file)
    text = io.TextIOWrapper(file, encoding=report.encoding, newline="" if report.format == "csv" else None)
    try:
        rows = _csv_rows(text, mapping) if report.format == "csv" else _jsonl_rows(text, mapping, report)
        seen: dict[str, int] = {}
        for number, values, header_of in rows:
            report.rows += 1
            outcome = to_record(values, number, mapping, header_of, settings)
            if isinstance(outcome, RowProblem):
                report.refuse(outcome)
            elif outcome.record_id in seen:
                column = header_of.get("record_id", "record_id")
                report.refuse(RowProblem(number, column, f"record id repeats row {seen[outcome.record_id]}"))
            else:
                seen[outcome.record_id] = number
                report.records += 1
                yield outcome
    finally:
        text.detach()  # the caller owns the file
