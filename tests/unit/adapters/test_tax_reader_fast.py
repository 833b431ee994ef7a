"""The fast export reader agrees with the reference rules: the row converter and the encoding check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import ExportError
from adapters.tax.converter import RowConverter
from adapters.tax.export import column_keys, decode_text, header_names, open_export
from adapters.tax.rows import ColumnMap, RowProblem, first_cells, to_record
from adapters.tax.tables import text_encoding
from contracts import ValidationSettings
from contracts.messages.payment import PaymentRecord

MAPPING = ColumnMap.load()
SETTINGS = ValidationSettings()
ID_NUMBER = "11010519491231002X"
ID_NUMBER_BAD = "110105194912310021"
USCC = "91350100M000100Y43"

#: Cells per header in plain forms that make a valid row in any combination (the fast path).
GOOD: Mapping[str, Sequence[str]] = {
    "记录号": ["r1", " r2 ", ""],
    "缴费人识别号": [USCC, ID_NUMBER],
    "缴费人名称": ["五河县某建材有限公司", ""],
    "缴费人类型": ["", "", "灵活就业人员"],
    "证件号码": [ID_NUMBER, ""],
    "征收品目": ["企业职工基本养老保险费", "110", "390", "城乡居民基本医疗 保险费", " 510 "],
    "费款所属期起": ["2026-10", "2026-09"],
    "费款所属期止": ["2026-10", "2026-11"],
    "缴费基数": ["4500.00", "", "4,500"],
    "应缴金额": ["1080.00", "1,080.00", "1080", "1080.5"],
    "实缴金额": ["1080.1", "0", "00012.30"],
    "滞纳金": ["0.00", "", "12.5"],
    "票证号码": ["334032226000012345", " v-1 "],
    "入库日期": ["2026-11-21", "", "20261121", "2026-1121"],
    "缴款日期": ["2026-11-20", "20261120"],
}
#: More cells per header: unusual forms that only to_record reads, and bad ones.
ODD: Mapping[str, Sequence[str]] = {
    "记录号": ["x" * 101],
    "缴费人识别号": [ID_NUMBER_BAD, "", "123", "91350100M000100Y44", "913501001000100143"],
    "缴费人名称": [" 某公司 "],
    "缴费人类型": ["单位", "城乡居民", "个体"],
    "证件号码": [ID_NUMBER_BAD],
    "征收品目": ["医疗", "", "170"],
    "费款所属期起": ["202610", "2026/10", "2026-10-01", "0000-01", "2026-13", ""],
    "费款所属期止": ["2026-9", "20261", "2026-10-32", "", "2025-12"],
    "缴费基数": ["¥4500", "-1", "1.234", "  "],
    "应缴金额": ["一百元", "", "1080.123", "１０８０", "1，080"],
    "实缴金额": ["1e3", "NaN", "1,0.5"],
    "滞纳金": ["abc", " "],
    "票证号码": [""],
    "入库日期": ["2026/11/21", "2026-02-30", "20261332"],
    "缴款日期": ["2026-1120", "", "2026-02-29", "0000-01-01", "2026.11.20"],
}
HEADER = list(GOOD)


def reference(header: Sequence[str], cells: Sequence[str], number: int) -> PaymentRecord | RowProblem:
    """What the reader did before it was made fast: cells by header name, then ``to_record``."""
    keys = column_keys(header, MAPPING)
    values = first_cells(keys.items(), dict(zip(header, cells, strict=False)))
    return to_record(values, number, MAPPING, header_names(keys), SETTINGS)


def converter_for(header: Sequence[str]) -> RowConverter:
    keys = column_keys(header, MAPPING)
    header_of = {column: str(found[0]).strip() for column, found in keys.items()}
    positions = {column: [header.index(key) for key in found] for column, found in keys.items()}
    return RowConverter(positions, MAPPING, header_of, SETTINGS)


@st.composite
def rows(draw: st.DrawFn) -> list[str]:
    """A valid row of plain cells, with up to two cells replaced by any cell (odd, bad or plain)."""
    cells = [draw(st.sampled_from(GOOD[name])) for name in HEADER]
    for name in draw(st.lists(st.sampled_from(HEADER), max_size=2, unique=True)):
        cells[HEADER.index(name)] = draw(st.sampled_from([*GOOD[name], *ODD[name]]))
    return cells


@settings(max_examples=500, deadline=None)
@given(cells=rows(), number=st.integers(2, 10**6))
def test_the_row_converter_gives_what_to_record_gives_for_any_row(cells: list[str], number: int) -> None:
    assert converter_for(HEADER).convert(cells, number) == reference(HEADER, cells, number)


def test_the_row_converter_reads_plain_rows_itself_and_leaves_odd_ones_to_to_record() -> None:
    plain = ["r1", USCC, "某公司", "", ID_NUMBER, "110", "2026-10", "2026-10", "4500.00", "1,080.00", "1080.00",
             "", "v-1", "20261121", "2026-11-20"]
    record = converter_for(HEADER).convert(plain, 2)
    assert isinstance(record, PaymentRecord)
    assert (record.employer_uscc, record.person_id_number, str(record.amount_due)) == (USCC, ID_NUMBER, "1080.00")
    odd = [*plain[:9], "1080.5x", *plain[10:]]
    assert converter_for(HEADER).convert(odd, 7) == RowProblem(7, "应缴金额", "not an amount in yuan")


def test_a_short_row_reads_its_missing_cells_as_blank() -> None:
    cells = ["r1", USCC, "某公司", "", ID_NUMBER, "110", "2026-10", "2026-10", "", "10", "10", "", "v-1"]
    assert converter_for(HEADER).convert(cells, 3) == RowProblem(3, "缴款日期", "a date such as 2026-11-20 or 20261120 is required")


def test_a_header_name_given_twice_is_read_from_its_last_cell(tmp_path: Path) -> None:
    header = ["记录号", "缴费人识别号", "征收品目", "费款所属期起", "费款所属期止", "应缴金额", "实缴金额", "实缴金额",
              "票证号码", "缴款日期"]
    path = tmp_path / "e.csv"
    path.write_text(",".join(header) + f"\nr1,{ID_NUMBER},110,2026-10,2026-10,10,1,2,v,2026-11-20\n", "utf-8")
    with open_export(path) as reader:
        [record] = list(reader)
    assert str(record.amount_paid) == "2.00"


TEXTS = st.text(alphabet=st.sampled_from("ab,\n 缴费人名称五河县𠀀\ufeff"), max_size=40)
ENCODED = st.one_of(
    st.tuples(TEXTS, st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])).map(lambda t: t[0].encode(t[1])),
    st.binary(max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ENCODED, chunk=st.integers(1, 9))
def test_the_chunked_encoding_check_agrees_with_decoding_the_whole_file(
    tmp_path: Path, data: bytes, chunk: int
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    try:
        expected: str | ExportError = decode_text(data, path.name)[1]
    except ExportError as error:
        expected = error
    try:
        found: str | ExportError = text_encoding(path, chunk_bytes=chunk).name
    except ExportError as error:
        found = error
    if isinstance(expected, ExportError):
        assert isinstance(found, ExportError) and str(found) == str(expected)
    else:
        assert found == expected


def test_a_file_in_neither_encoding_is_refused_naming_the_first_bad_byte_past_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"a" * 10 + "缴费".encode("utf-16"))
    with pytest.raises(ExportError, match=r"byte 0xff at offset 10\)"):
        text_encoding(path, chunk_bytes=4)
