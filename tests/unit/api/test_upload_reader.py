"""Reading uploads as a stream, and packing records into batches that fit the size limit."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest

from adapters.errors import ExportError
from adapters.tax.rows import ColumnMap
from contracts import build
from contracts.codes import Department
from contracts.messages.payment import PaymentDetails, PaymentRecord
from contracts.values import ValidationSettings
from hub.api.payments import RecordTooLarge, pack
from hub.api.uploads import MAX_PROBLEMS_LISTED, RowReport, detect_encoding, read_records
from hub.domain.durations import COUNTY_TZ
from hub.ids import uuid7
from tests.contract.support import example

#: The longest ``occurred_at`` the API writes (microseconds, an offset).
LATEST = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=COUNTY_TZ)


def _body_size(details: PaymentDetails) -> int:
    return len(build("payment.details", details, source=Department.TAX, message_id=uuid7(), occurred_at=LATEST).to_json())


def _record(number: int) -> PaymentRecord:
    base = example("payment.details.json")["payload"]["records"][number % 3]
    return PaymentRecord.model_validate_json(json.dumps({**base, "record_id": f"r-{number:05d}"}))


@pytest.mark.parametrize(("data", "codec"), [
    ("缴款日期\n".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "缴款日期\n".encode(), "utf-8-sig"),
    ("缴款日期\n".encode("gbk"), "gb18030"),
    (b"plain ascii\n", "utf-8"),
])  # fmt: skip
def test_the_encoding_is_read_from_the_whole_file(data: bytes, codec: str) -> None:
    file = io.BytesIO(data)

    assert detect_encoding(file) == codec
    assert file.tell() == 0


def test_a_file_whose_end_is_neither_utf8_nor_gbk_is_refused_before_any_row() -> None:
    # Valid UTF-8 for a megabyte, then a byte no encoding takes: the whole file is judged.
    file = io.BytesIO(b"a" * (1 << 20) + "缴".encode() + b"\xff\xff")

    with pytest.raises(ExportError):
        detect_encoding(file)


def test_rows_are_numbered_as_a_spreadsheet_counts_and_repeated_ids_are_refused() -> None:
    text = ("record_id,payer_id,insurance_type,period_start,period_end,amount_due,amount_paid,"
            "tax_voucher_no,paid_on\n"
            "r-1,340322199207084568,110,2026-10,2026-10,100.00,100.00,V1,2026-11-20\n"
            "\n"
            "r-1,340322199207084568,310,2026-10,2026-10,50.00,50.00,V1,2026-11-20\n"
            "r-2,340322199207084568,310,2026-10,2026-09,50.00,50.00,V1,2026-11-20\n")  # fmt: skip
    report = RowReport("csv")

    records = list(read_records(io.BytesIO(text.encode()), report, mapping=ColumnMap.load(),
                                settings=ValidationSettings()))  # fmt: skip

    assert [r.record_id for r in records] == ["r-1"]
    assert [(p.row, p.column) for p in report.problems] == [(4, "record_id"), (5, "period_end")]
    assert "repeats row 2" in report.problems[0].reason
    assert (report.rows, report.records, report.problem_count) == (3, 1, 2)


def test_a_report_lists_the_first_problems_and_counts_them_all() -> None:
    report = RowReport("jsonl")
    lines = "\n".join(["{}"] * 0 + ["not json"] * (MAX_PROBLEMS_LISTED + 5))

    assert list(read_records(io.BytesIO(lines.encode()), report, mapping=ColumnMap.load(),
                             settings=ValidationSettings())) == []  # fmt: skip
    assert (len(report.problems), report.problem_count) == (MAX_PROBLEMS_LISTED, MAX_PROBLEMS_LISTED + 5)


@pytest.mark.parametrize("limit", [1500, 4096, 20_000])
def test_packed_batches_fit_the_limit_exactly_as_the_hub_measures_them(limit: int) -> None:
    records = [_record(n) for n in range(60)]

    batches = list(pack(iter(records), batch_id="tax-20261126-0001", collected_on=date(2026, 11, 26),
                        limit_bytes=limit))  # fmt: skip

    assert [r for b in batches for r in b.records] == records
    assert all(_body_size(details) <= limit for details in batches)
    # Packed tight: no batch could also have taken the first record of the next one.
    for details, following in zip(batches, batches[1:], strict=False):
        grown = PaymentDetails(batch_id=details.batch_id, collected_on=details.collected_on,
                               records=(*details.records, following.records[0]))  # fmt: skip
        assert _body_size(grown) > limit


def test_a_record_too_large_for_any_batch_is_refused() -> None:
    with pytest.raises(RecordTooLarge):
        list(pack([_record(1)], batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=300))
