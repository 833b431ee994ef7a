"""Export files as streams of rows: a header, then ``(row number, cells)`` one at a time.

Each format yields rows lazily, so memory holds one row (and the reader's buffers),
not the file: CSV and JSON Lines are decoded as they are read, XLSX comes from
openpyxl's read-only mode. Row numbers count as a spreadsheet does (the header
is row 1; for JSON Lines, the line number). A CSV or XLSX row is the list of its
cells in header order; a JSON Lines row is its object, or ``None`` when the line
is not a JSON object (the reader reports it).

The encoding of CSV and JSON Lines is settled before the first row is read, by a
pass that decodes the whole file in chunks without keeping it: UTF-8 (a BOM is
allowed), else GBK (decoded with its superset GB 18030). A file that turns out to
be neither is refused before anything is sent.
"""

from __future__ import annotations

import codecs
import csv
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.errors import ExportError

#: Bytes decoded at a time while the encoding is checked.
CHUNK_BYTES = 1 << 20
_BOM = codecs.BOM_UTF8

Row = tuple[int, Any]


@dataclass
class Table:
    """One export as a header and a one-pass stream of rows."""

    header: list[Any]
    rows: Iterator[Row]
    encoding: str | None
    #: Rows the file appears to hold (lines or sheet rows after the header), for progress only.
    expected_rows: int | None
    close: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class TextEncoding:
    """How a text export is decoded: the codec for :func:`open`, and the name reports show."""

    codec: str
    name: str
    lines: int
    ends_with_newline: bool


def not_text_error(name: str, byte: int, position: int) -> ExportError:
    """The error for a file in neither UTF-8 nor GBK: the first bad byte and its offset."""
    return ExportError(
        f"{name} is neither UTF-8 nor GBK text (byte 0x{byte:02x} at offset "
        f"{position}); export it again as CSV in UTF-8 or GBK"
    )


def _first_error(path: Path, codec: str, skip: int, chunk_bytes: int) -> tuple[int, int] | None:
    """``(byte, offset)`` of the first byte ``codec`` cannot decode, or ``None`` if all decode."""
    decoder = codecs.getincrementaldecoder(codec)()
    consumed = skip
    with path.open("rb") as handle:
        handle.seek(skip)
        while chunk := handle.read(chunk_bytes):
            buffered = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                data = error.object
                return data[error.start], consumed - buffered + error.start
            consumed += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            return error.object[error.start], consumed - len(error.object) + error.start
    return None


def _count_lines(path: Path, chunk_bytes: int) -> tuple[int, bool]:
    lines, last = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines, last == b"\n"


def text_encoding(path: Path, *, chunk_bytes: int = CHUNK_BYTES) -> TextEncoding:
    """The encoding of a text export: ``utf-8-sig`` when a BOM leads, else UTF-8, else GBK.

    The file is decoded ``chunk_bytes`` at a time and not kept.

    Raises:
        ExportError: neither, naming the first byte UTF-8 cannot read and its offset.
    """
    with path.open("rb") as handle:
        bom = handle.read(len(_BOM)) == _BOM
    lines, ends = _count_lines(path, chunk_bytes)
    if bom:
        found = _first_error(path, "utf-8", len(_BOM), chunk_bytes)
        if found is not None:
            raise not_text_error(path.name, *found)
        return TextEncoding("utf-8-sig", "utf-8-sig", lines, ends)
    utf8_error = _first_error(path, "utf-8", 0, chunk_bytes)
    if utf8_error is None:
        return TextEncoding("utf-8", "utf-8", lines, ends)
    if _first_error(path, "gb18030", 0, chunk_bytes) is None:
        return TextEncoding("gb18030", "gbk", lines, ends)
    raise not_text_error(path.name, *utf8_error)


def _blank(cells: Sequence[Any]) -> bool:
    # A loop, not all(<generator>): called on every row, and a row's first cell is rarely blank.
    for cell in cells:  # noqa: SIM110
        if cell is not None and str(cell).strip() != "":
            return False
    return True


def csv_table(path: Path) -> Table:
    """A CSV export.

    Raises:
        ExportError: not UTF-8 or GBK text, or no header row.
    """
    encoding = text_encoding(path)
    handle = path.open(encoding=encoding.codec, newline="")
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        handle.close()
        raise ExportError("the export is empty: no header row")

    def rows() -> Iterator[Row]:
        with handle:
            for cells in reader:
                if not _blank(cells):
                    yield reader.line_num, cells

    lines = encoding.lines + (0 if encoding.ends_with_newline else 1)
    return Table(header, rows(), encoding.name, max(lines - 1, 0), handle.close)


def _json_lines(path: Path, codec: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value or None)`` of every non-blank line."""
    with path.open(encoding=codec) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line, parse_float=Decimal)
            except ValueError:
                yield number, None


def jsonl_table(path: Path) -> Table:
    """A JSON Lines export; the header is every key of every object, in order of appearance.

    The keys are gathered by a first pass over the file, so that a column present
    in some objects only is known before the first row is read.

    Raises:
        ExportError: not UTF-8 or GBK text, or no line holds a JSON object.
    """
    encoding = text_encoding(path)
    keys: dict[Any, None] = {}
    lines = 0
    for _, value in _json_lines(path, encoding.codec):
        lines += 1
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
    if not keys:
        raise ExportError("the export has no JSON object lines")

    def rows() -> Iterator[Row]:
        for number, value in _json_lines(path, encoding.codec):
            yield number, value if isinstance(value, dict) else None

    return Table(list(keys), rows(), encoding.name, lines)


def xlsx_table(path: Path) -> Table:
    """The first sheet of a workbook; its first non-blank row is the header.

    Raises:
        ExportError: not a readable workbook, or the first sheet is empty.
    """
    # Imported here: openpyxl is only needed for workbooks, and it is slow to import.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise ExportError(f"{path.name} is not a readable XLSX workbook: {error}") from None
    sheet = workbook.worksheets[0]
    table = enumerate(sheet.iter_rows(values_only=True), start=1)
    first = next(((n, list(cells)) for n, cells in table if not _blank(cells)), None)
    if first is None:
        workbook.close()  # read-only workbooks keep the file open until closed
        raise ExportError(f"{path.name}: the first sheet is empty")
    header_row, header_cells = first
    header = [str(cell) if cell is not None else "" for cell in header_cells]

    def rows() -> Iterator[Row]:
        try:
            for number, cells in table:
                if not _blank(cells):
                    yield number, list(cells)
        finally:
            workbook.close()

    last = sheet.max_row
    expected = None if last is None else max(last - header_row, 0)
    return Table(header, rows(), None, expected, workbook.close)
