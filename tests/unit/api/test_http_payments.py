"""``POST /v1/payment-details``: tax uploads an export; good rows go to hrss and medins in batches."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from hub.api.app import create_app
from hub.runtime import HubRuntime
from tests.contract.support import example

from .helpers import auth

#: The export's own column names (columns.toml), in the order the tax system writes them.
CHINESE = {
    "record_id": "记录号", "employer_uscc": "缴费人识别号", "employer_name": "缴费人名称",
    "person_id_number": "证件号码", "insurance_type": "险种", "period_start": "费款所属期起",
    "period_end": "费款所属期止", "contribution_base": "缴费基数", "amount_due": "应缴金额",
    "amount_paid": "实缴金额", "late_fee": "滞纳金", "tax_voucher_no": "票证号码",
    "treasury_on": "入库日期", "paid_on": "缴款日期",
}  # fmt: skip


def _records(count: int = 3) -> list[dict[str, Any]]:
    """``count`` records made from the shared example batch (110, 310, 170, …), ids r-1, r-2, …."""
    base = example("payment.details.json")["payload"]["records"]
    made = []
    for number in range(1, count + 1):
        record = dict(base[(number - 1) % len(base)])
        record["record_id"] = f"r-{number}"
        made.append(record)
    return made


def _csv(records: list[dict[str, Any]], header: dict[str, str] | None = None) -> str:
    names = header or {key: key for key in records[0] if key != "payer_kind"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names.values())
    for record in records:
        writer.writerow(["" if record.get(key) is None else record[key] for key in names])
    return out.getvalue()


def _upload(client: TestClient, content: bytes, media_type: str = "text/csv", department: str = "tax",
            query: str = "") -> Any:  # fmt: skip
    return client.post(f"/v1/payment-details{query}", content=content,
                       headers={**auth(department), "Content-Type": media_type})  # fmt: skip


def _delivered(runtime: HubRuntime) -> Counter[str]:
    """Records the hub put in the outbox for each recipient, by routing key."""
    counts: Counter[str] = Counter()
    for row in runtime.store.pending_outbox(1000):
        if row.routing_key.endswith(".payment.details"):
            counts[row.routing_key] += len(json.loads(row.body)["payload"]["records"])
    return counts


def test_a_csv_upload_is_split_to_hrss_and_medins_and_its_bad_rows_are_reported(
    client: TestClient, runtime: HubRuntime
) -> None:
    records = _records(4)
    records[3]["person_id_number"] = "340322199207084569"  # wrong check digit, row 5
    answer = _upload(client, _csv(records, CHINESE).encode(), query="?batch_id=tax-20261126-0001")

    report = answer.json()
    assert answer.status_code == 200, answer.text
    assert (report["rows"], report["records"], report["refused_rows"], report["encoding"]) == (4, 3, 1, "utf-8")
    assert report["problems"] == [{"row": 5, "column": "证件号码", "reason": "check digit should be 8"}]
    assert [(b["batch_id"], b["records"], b["outcome"]) for b in report["batches"]] == [
        ("tax-20261126-0001-p001", 3, "applied")]
    assert _delivered(runtime) == {"hrss.payment.details": 2, "medins.payment.details": 1}


def test_a_gbk_csv_with_chinese_headers_is_read(client: TestClient, runtime: HubRuntime) -> None:
    answer = _upload(client, _csv(_records(3), CHINESE).encode("gbk"))

    assert (answer.json()["encoding"], answer.json()["records"]) == ("gbk", 3)
    assert sum(_delivered(runtime).values()) == 3


def test_a_json_lines_upload_is_read_line_by_line(client: TestClient, runtime: HubRuntime) -> None:
    lines = [json.dumps(record) for record in _records(3)]
    lines.insert(1, "not json")
    answer = _upload(client, "\n".join(lines).encode(), media_type="application/x-ndjson")

    report = answer.json()
    assert (report["format"], report["records"], report["refused_rows"]) == ("jsonl", 3, 1)
    assert report["problems"] == [{"row": 2, "column": "(line)", "reason": "not a JSON object"}]
    assert sum(_delivered(runtime).values()) == 3


def test_a_large_upload_is_cut_into_batches_that_each_fit_the_size_limit(
    make_runtime: Callable[..., HubRuntime],
) -> None:
    runtime = make_runtime(max_body_bytes=4096)
    with TestClient(create_app(runtime)) as client:
        answer = _upload(client, _csv(_records(40)).encode(), query="?batch_id=big")

    batches = answer.json()["batches"]
    assert len(batches) > 3
    assert [b["batch_id"] for b in batches] == [f"big-p{n:03d}" for n in range(1, len(batches) + 1)]
    assert {b["outcome"] for b in batches} == {"applied"}  # the service took every body: none over 4096
    assert sum(b["records"] for b in batches) == 40 == sum(_delivered(runtime).values())


def test_uploading_the_same_batch_id_again_changes_nothing(client: TestClient, runtime: HubRuntime) -> None:
    content = _csv(_records(3)).encode()
    _upload(client, content, query="?batch_id=tax-again")
    before = len(runtime.store.pending_outbox(1000))

    again = _upload(client, content, query="?batch_id=tax-again")

    assert [b["outcome"] for b in again.json()["batches"]] == ["duplicate"]
    assert len(runtime.store.pending_outbox(1000)) == before


def test_only_the_tax_bureau_uploads_payment_details(client: TestClient) -> None:
    answer = _upload(client, _csv(_records(1)).encode(), department="hrss")

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "not_permitted")


@pytest.mark.parametrize(("content", "problem"), [
    (b"record_id,amount_paid\nr-1,10.00\n", "missing required column"),
    ("记录号\n".encode("utf-16"), "neither UTF-8 nor GBK"),
    (b"", "no header row"),
])  # fmt: skip
def test_an_export_that_cannot_be_read_is_refused_whole(client: TestClient, content: bytes, problem: str) -> None:
    answer = _upload(client, content)

    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/unreadable_export")
    assert problem in answer.json()["detail"]


def test_an_upload_that_is_neither_csv_nor_json_lines_is_415(client: TestClient) -> None:
    answer = _upload(client, b"PK\x03\x04", media_type="application/zip")

    assert answer.status_code == 415
