"""The payment-detail export reader: encodings, formats, and every column rule of columns.toml."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from adapters.errors import ExportError
from adapters.tax.export import decode_text, read_export
from adapters.tax.rows import ColumnMap
from contracts.codes import InsuranceType, PayerKind

ID_NUMBER = "11010519491231002X"
ID_NUMBER_BAD = "110105194912310021"
USCC = "91350100M000100Y43"

HEADER = ["记录号", "缴费人识别号", "缴费人名称", "证件号码", "征收品目", "费款所属期起", "费款所属期止",
          "缴费基数", "应缴金额", "实缴金额", "滞纳金", "票证号码", "入库日期", "缴款日期"]
EMPLOYER_ROW = ["r1", USCC, "五河县某建材有限公司", ID_NUMBER, "企业职工基本养老保险费", "2026-10", "2026-10",
                "4500.00", "1080.00", "1080.00", "0.00", "334032226000012345", "2026-11-21", "2026-11-20"]


def row(**changes: str) -> list[str]:
    """The employer row with some cells changed, by header name."""
    cells = dict(zip(HEADER, EMPLOYER_ROW, strict=True))
    cells.update(changes)
    return [cells[name] for name in HEADER]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", header: list[str] = HEADER) -> Path:
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    path.write_bytes(text.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk_reads_the_same_records(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "export.csv", [row(), row(记录号="r2", 征收品目="职工基本医疗保险费")], encoding)

    report = read_export(path)

    assert report.encoding == encoding
    assert report.problems == []
    assert [r.record_id for r in report.records] == ["r1", "r2"]
    assert report.records[0].employer_name == "五河县某建材有限公司"  # Chinese text decoded right
    assert report.records[1].insurance_type is InsuranceType.EMPLOYEE_MEDICAL


def test_a_file_in_neither_utf8_nor_gbk_is_a_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", [row()], "utf-16")

    with pytest.raises(ExportError, match="neither UTF-8 nor GBK"):
        read_export(path)


def test_decoding_prefers_utf8_and_only_falls_back_to_gbk() -> None:
    text = "缴费人名称"
    assert decode_text(text.encode("utf-8")) == (text, "utf-8")
    assert decode_text(text.encode("gbk")) == (text, "gbk")


def test_json_lines_with_chinese_or_english_keys_and_numeric_amounts(tmp_path: Path) -> None:
    chinese = dict(zip(HEADER, EMPLOYER_ROW, strict=True))
    english = {
        "record_id": "e1", "payer_kind": "flexible_worker", "person_id_number": ID_NUMBER,
        "insurance_type": "110", "period_start": "202601", "period_end": "202612",
        "amount_due": 500.1, "amount_paid": 500.1, "late_fee": 0, "tax_voucher_no": "v-9",
        "paid_on": "2026-11-21",
    }
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(chinese, ensure_ascii=False), "", json.dumps(english), "[1, 2]", "{not json"]
    path.write_text("\n".join(lines), encoding="utf-8")

    report = read_export(path)

    assert [r.record_id for r in report.records] == ["r1", "e1"]
    assert report.records[1].amount_paid == Decimal("500.10")  # read as a decimal, never a float
    assert report.records[1].payer_kind is PayerKind.FLEXIBLE_WORKER
    assert [(p.row, p.column) for p in report.problems] == [(4, "(line)"), (5, "(line)")]


def test_xlsx_with_numbers_and_date_cells_is_read_like_text(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["r1", USCC, "五河县某建材有限公司", ID_NUMBER, 110, 202610, datetime(2026, 10, 1),
                  4500, 1080, 1080.5, None, 334032226000012, datetime(2026, 11, 21), date(2026, 11, 20)])
    sheet.append([None] * len(HEADER))  # blank rows are skipped, not refused
    sheet.append(["r3", USCC, "某公司", ID_NUMBER, "失业保险", "2026-10", "2026-10", None, "10", "10", "0",
                  "v-3", None, "20261120"])
    sheet.append(["r5", USCC, "某公司", ID_NUMBER, "110", "2026-10", "2026-10", None, "10", "10", "0",
                  334032226000012345, None, "20261120"])  # 18 digits in a number cell: digits lost
    path = tmp_path / "export.xlsx"
    workbook.save(path)

    report = read_export(path)

    assert [(p.row, p.column) for p in report.problems] == [(5, "票证号码")]
    assert "store the column as text" in report.problems[0].reason
    first, second = report.records
    assert (first.insurance_type, first.period_start, first.period_end) == (InsuranceType.ENTERPRISE_PENSION, "2026-10", "2026-10")
    assert (first.amount_paid, first.late_fee, first.contribution_base) == (Decimal("1080.50"), Decimal("0.00"), Decimal("4500.00"))
    assert first.tax_voucher_no == "334032226000012"  # an integral number cell loses its ".0"
    assert (first.treasury_on, first.paid_on) == (date(2026, 11, 21), date(2026, 11, 20))
    assert second.insurance_type is InsuranceType.UNEMPLOYMENT


def test_an_unreadable_workbook_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ExportError, match="not a readable XLSX"):
        read_export(path)


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "实缴金额"]
    path = write_csv(tmp_path / "export.csv", [EMPLOYER_ROW[:-1]], header=header)

    with pytest.raises(ExportError, match=r"实缴金额 \(amount_paid\)"):
        read_export(path)


def test_without_any_payer_column_the_payer_id_column_is_named(tmp_path: Path) -> None:
    header = [name for name in HEADER if name not in ("缴费人识别号", "证件号码")]
    path = write_csv(tmp_path / "export.csv", [["x"] * len(header)], header=header)

    with pytest.raises(ExportError, match="缴费人识别号"):
        read_export(path)


def test_an_unknown_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(ExportError, match="unknown export format"):
        read_export(path)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("企业职工基本养老保险费", "110"), ("企业职工基本养老保险", "110"), ("110", "110"), ("310", "310"),
     ("城乡居民基本医疗保险费", "390"), ("生育保险费", "510"), ("工伤保险", "410")],
)
def test_insurance_type_is_a_code_or_a_name(tmp_path: Path, cell: str, expected: str) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(征收品目=cell)]))
    assert [r.insurance_type.value for r in report.records] == [expected]


def test_the_insurance_type_column_may_be_called_xianzhong(tmp_path: Path) -> None:
    header = ["险种" if name == "征收品目" else name for name in HEADER]
    report = read_export(write_csv(tmp_path / "e.csv", [row(征收品目="210")], header=header))
    assert [r.insurance_type for r in report.records] == [InsuranceType.UNEMPLOYMENT]


@pytest.mark.parametrize("cell", ["2026-10", "202610", "2026-10-01", "2026/10", "2026-10-31"])
def test_fee_months_in_every_accepted_form(tmp_path: Path, cell: str) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(费款所属期起=cell)]))
    assert [r.period_start for r in report.records] == ["2026-10"]


@pytest.mark.parametrize(("cell", "paid_on"), [("20261120", date(2026, 11, 20)), ("2026/11/20", date(2026, 11, 20))])
def test_days_in_compact_and_slashed_forms(tmp_path: Path, cell: str, paid_on: date) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(缴款日期=cell)]))
    assert [r.paid_on for r in report.records] == [paid_on]


@pytest.mark.parametrize(
    ("cell", "amount"), [("1,080.00", "1080.00"), ("¥1080", "1080.00"), ("1080.5", "1080.50"), (" 0 ", "0.00")],
)
def test_money_forms_are_read_exactly(tmp_path: Path, cell: str, amount: str) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(实缴金额=cell, 应缴金额="2000")]))
    assert [r.amount_paid for r in report.records] == [Decimal(amount)]


def test_blank_late_fee_is_zero_and_blank_base_is_absent(tmp_path: Path) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(滞纳金="", 缴费基数="", 入库日期="")]))
    [record] = report.records
    assert (record.late_fee, record.contribution_base, record.treasury_on) == (Decimal("0.00"), None, None)


def test_record_ids_are_generated_from_the_row_number_when_blank(tmp_path: Path) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(记录号=""), row(记录号="k"), row(记录号="")]))
    assert [r.record_id for r in report.records] == ["r-2", "k", "r-4"]


def test_record_ids_are_generated_when_the_column_is_absent(tmp_path: Path) -> None:
    header = HEADER[1:]
    report = read_export(write_csv(tmp_path / "e.csv", [row()[1:], row()[1:]], header=header))
    assert [r.record_id for r in report.records] == ["r-2", "r-3"]


def test_payer_kinds_are_told_apart_by_identifier_and_insurance_type(tmp_path: Path) -> None:
    rows = [
        row(),
        row(记录号="p1", 缴费人识别号=ID_NUMBER, 证件号码="", 征收品目="110"),
        row(记录号="p2", 缴费人识别号=ID_NUMBER, 证件号码="", 征收品目="390"),
    ]
    report = read_export(write_csv(tmp_path / "e.csv", rows))

    employer, flexible, resident = report.records
    assert (employer.payer_kind, employer.employer_uscc, employer.person_id_number) == (PayerKind.EMPLOYER, USCC, ID_NUMBER)
    assert (flexible.payer_kind, flexible.person_id_number, flexible.employer_name) == (PayerKind.FLEXIBLE_WORKER, ID_NUMBER, None)
    assert resident.payer_kind is PayerKind.RESIDENT


def test_an_explicit_payer_kind_column_wins(tmp_path: Path) -> None:
    header = [*HEADER, "缴费人类型"]
    rows = [[*row(缴费人识别号=ID_NUMBER, 征收品目="110"), "城乡居民"], [*row(记录号="r2"), "外星人"]]
    report = read_export(write_csv(tmp_path / "e.csv", rows, header=header))

    assert [r.payer_kind for r in report.records] == [PayerKind.RESIDENT]
    assert [(p.row, p.column) for p in report.problems] == [(3, "缴费人类型")]


def test_english_field_names_are_accepted_as_headers(tmp_path: Path) -> None:
    header = ["record_id", "payer_kind", "employer_uscc", "employer_name", "person_id_number", "insurance_type",
              "period_start", "period_end", "contribution_base", "amount_due", "amount_paid", "late_fee",
              "tax_voucher_no", "paid_on", "treasury_on"]
    cells = ["e1", "employer", USCC, "某公司", ID_NUMBER, "510", "2026-10", "2026-10", "", "9", "9", "0", "v", "2026-11-20", ""]
    report = read_export(write_csv(tmp_path / "e.csv", [cells], header=header))

    [record] = report.records
    assert (record.payer_kind, record.employer_uscc, record.insurance_type) == (PayerKind.EMPLOYER, USCC, InsuranceType.MATERNITY)


BAD_ROWS = [
    ({"征收品目": "999"}, "征收品目", "unknown insurance type"),
    ({"费款所属期起": "2026-13"}, "费款所属期起", "not a calendar month"),
    ({"费款所属期止": "十月"}, "费款所属期止", "fee month"),
    ({"费款所属期起": "2026-11", "费款所属期止": "2026-10"}, "费款所属期止", "before it starts"),
    ({"实缴金额": "-1"}, "实缴金额", "non-negative"),
    ({"实缴金额": "1.234"}, "实缴金额", "two decimal places"),
    ({"应缴金额": "abc"}, "应缴金额", "not an amount"),
    ({"实缴金额": ""}, "实缴金额", "required"),
    ({"缴款日期": "2026-02-30"}, "缴款日期", "not a calendar date"),
    ({"入库日期": "yesterday"}, "入库日期", "a date such as"),
    ({"票证号码": ""}, "票证号码", "required"),
    ({"缴费人识别号": "91350100M000100Y44"}, "缴费人识别号", "check character should be 3"),
    ({"证件号码": ID_NUMBER_BAD}, "证件号码", "check digit should be X"),
    ({"缴费人名称": "名" * 101}, "缴费人名称", "at most 100 characters"),
]


@pytest.mark.parametrize(("changes", "column", "reason"), BAD_ROWS)
def test_a_bad_row_is_reported_by_row_column_and_reason_and_the_good_rows_go_on(
    tmp_path: Path, changes: dict[str, str], column: str, reason: str
) -> None:
    rows = [row(记录号="good1"), row(记录号="bad", **changes), row(记录号="good2")]
    report = read_export(write_csv(tmp_path / "e.csv", rows))

    assert [r.record_id for r in report.records] == ["good1", "good2"]
    [problem] = report.problems
    assert (problem.row, problem.column) == (3, column)
    assert reason in problem.reason
    assert ID_NUMBER_BAD not in str(problem) and USCC not in str(problem)  # no personal data in reports
    assert report.rows == 3


def test_a_repeated_record_id_is_refused_after_its_first_row(tmp_path: Path) -> None:
    report = read_export(write_csv(tmp_path / "e.csv", [row(), row(), row(记录号="r2")]))
    assert [r.record_id for r in report.records] == ["r1", "r2"]
    assert [(p.row, p.column, p.reason) for p in report.problems] == [(3, "记录号", "record id repeats row 2")]


def test_the_shipped_column_mapping_names_every_record_field() -> None:
    mapping = ColumnMap.load()
    english = {names[-1] for names in mapping.columns.values()}
    assert {"amount_due", "amount_paid", "late_fee", "tax_voucher_no", "paid_on", "treasury_on",
            "period_start", "period_end", "insurance_type", "record_id", "person_id_number"} <= english
    assert set(mapping.insurance_types.values()) == set(InsuranceType)


def test_the_tax_package_exports_its_public_surface() -> None:
    import adapters.tax

    assert set(adapters.tax.__all__) == {"ColumnMap", "ExportReport", "PushResult", "RowProblem", "TaxAdapter",
                                         "read_export"}
    assert all(hasattr(adapters.tax, name) for name in adapters.tax.__all__)
