"""A payment-detail upload on the real server, split by insurance type to hrss and medins."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from tests.contract.support import example

from .conftest import HubServer, drain

pytestmark = pytest.mark.integration


def _csv(count: int) -> bytes:
    """``count`` rows cycling through the shared example's records (110, 310, 170), one bad."""
    base = example("payment.details.json")["payload"]["records"]
    columns = [key for key in base[0] if key != "payer_kind"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for number in range(count):
        record = {**base[number % 3], "record_id": f"r-{number:04d}"}
        if number == count - 1:
            record["amount_paid"] = "-5.00"  # the last row is refused
        writer.writerow(["" if record[key] is None else record[key] for key in columns])
    return out.getvalue().encode("gbk")


def test_a_gbk_csv_upload_reaches_hrss_and_medins_by_insurance_type(hub_server: HubServer) -> None:
    batch_id = f"tax-it-{uuid.uuid4().hex[:8]}"
    with hub_server.client("tax") as tax:
        answer = tax.post(f"/v1/payment-details?batch_id={batch_id}", content=_csv(31),
                          headers={"Content-Type": "text/csv"})  # fmt: skip

    report = answer.json()
    assert answer.status_code == 200, answer.text
    assert (report["encoding"], report["rows"], report["records"], report["refused_rows"]) == ("gbk", 31, 30, 1)
    assert report["problems"][0]["row"] == 32
    assert [(b["batch_id"], b["outcome"]) for b in report["batches"]] == [(f"{batch_id}-p001", "applied")]

    def ours(message: dict[str, Any]) -> bool:
        return message.get("type") == "payment.details" and message["payload"]["batch_id"] == f"{batch_id}-p001"

    [to_hrss] = drain(hub_server, "hrss", ours, 1)
    [to_medins] = drain(hub_server, "medins", ours, 1)
    hrss, medins = to_hrss["payload"]["records"], to_medins["payload"]["records"]
    assert ({r["insurance_type"] for r in hrss}, {r["insurance_type"] for r in medins}) == ({"110", "170"}, {"310"})
    assert len(hrss) + len(medins) == 30


def test_a_department_other_than_tax_may_not_upload(hub_server: HubServer) -> None:
    with hub_server.client("medins") as medins:
        answer = medins.post("/v1/payment-details", content=_csv(3), headers={"Content-Type": "text/csv"})

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "not_permitted")
