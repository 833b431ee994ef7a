"""The tax push as a stream: parts packed as records come, sealed once, published while reading."""

from __future__ import annotations

import csv
import threading
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.dedup import StateDB
from adapters.department import Options
from adapters.errors import OutboundInvalid
from adapters.outbound import compose, compose_contract, request
from adapters.sender import Sender
from adapters.tax.adapter import TaxAdapter
from adapters.tax.batches import Packer
from adapters.tax.export import read_export
from adapters.tax.handoff import Handoff
from contracts import parse
from contracts.codes import Department, InsuranceType, PayerKind, RejectReason
from contracts.messages.payment import PaymentDetails, PaymentRecord
from hub.bus.types import Consumer, Outgoing, Publisher
from hub.domain.durations import COUNTY_TZ
from hub.ids import uuid7

ID_NUMBER = "11010519491231002X"
USCC = "91350100M000100Y43"
NOW = datetime(2026, 11, 26, 18, 0, 0, 123456, tzinfo=COUNTY_TZ)
HEADER = ["记录号", "缴费人识别号", "缴费人名称", "征收品目", "费款所属期起", "费款所属期止", "应缴金额", "实缴金额",
          "票证号码", "缴款日期"]


def record(number: int, *, person_id_number: str = ID_NUMBER) -> PaymentRecord:
    return PaymentRecord(
        record_id=f"r-{number}", payer_kind=PayerKind.FLEXIBLE_WORKER, employer_uscc=None, employer_name=None,
        person_id_number=person_id_number, insurance_type=InsuranceType.ENTERPRISE_PENSION,
        period_start="2026-10", period_end="2026-10", contribution_base=None, amount_due=Decimal("100.00"),
        amount_paid=Decimal(number % 997) + Decimal("0.50"), late_fee=Decimal("0.00"),
        tax_voucher_no=f"v{number}", paid_on=date(2026, 11, 20), treasury_on=None,
    )


def export(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            writer.writerow([f"k{n}", USCC, "某公司", "企业职工基本养老保险费", "2026-10", "2026-10", "100.00",
                             f"{n % 1000}.25", f"v{n}", "2026-11-20"])
    return path


# -- packing --------------------------------------------------------------------------------------


def test_the_packer_hands_out_a_full_part_before_it_has_seen_every_record() -> None:
    taken: list[int] = []

    def records() -> Iterator[PaymentRecord]:
        for n in range(1, 401):
            taken.append(n)
            yield record(n)

    parts = Packer(batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=16 * 1024).pack(records())
    first = next(parts)

    assert len(taken) == len(first.details.records) + 1  # the record that did not fit, no more
    assert [r.record_id for r in first.details.records] == [f"r-{n}" for n in range(1, len(taken))]
    rest = list(parts)
    assert [r.record_id for p in [first, *rest] for r in p.details.records] == [f"r-{n}" for n in range(1, 401)]


def test_past_part_999_every_body_still_fits_the_limit() -> None:
    sample = compose_contract(Department.TAX, "payment.details", PaymentDetails(
        batch_id="tax-b-p001", collected_on=date(2026, 11, 26), records=(record(1),)), now=NOW)[1]
    limit = len(sample) + 1  # one record per part, and the fourth digit of p1000 does not fit
    packer = Packer(batch_id="tax-b", collected_on=date(2026, 11, 26), limit_bytes=limit + 40)

    parts = list(packer.pack(record(n) for n in range(1, 1003)))

    assert [p.details.batch_id for p in parts[998:]] == ["tax-b-p999", "tax-b-p1000", "tax-b-p1001", "tax-b-p1002"]
    for part in parts[997:]:
        _, body = compose_contract(Department.TAX, "payment.details", part.details, now=NOW)
        assert len(body) <= part.planned_bytes <= limit + 40


def test_the_packer_refuses_a_record_that_alone_exceeds_the_limit() -> None:
    with pytest.raises(ValueError, match="'r-1' alone is"):
        Packer(batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=600).add(record(1))


# -- sealing once ---------------------------------------------------------------------------------


def test_compose_contract_gives_the_bytes_compose_gives_for_the_same_message() -> None:
    details = PaymentDetails(batch_id="tax-b-p001", collected_on=date(2026, 11, 26), records=(record(1), record(2)))
    message_id = uuid7()

    envelope, body = compose_contract(Department.TAX, "payment.details", details, now=NOW, message_id=message_id)

    _, expected = compose(Department.TAX, request("payment.details", details, message_id=message_id), now=NOW)
    assert body == expected
    assert parse(body) == envelope and envelope.correlation_id == message_id


def test_compose_contract_trusts_validated_records_while_compose_checks_raw_json() -> None:
    # A record made without validation (never done by the reader) shows which path validates.
    forged = record(1).model_copy(update={"person_id_number": "110105194912310021"})
    details = PaymentDetails(batch_id="tax-b-p001", collected_on=date(2026, 11, 26), records=(forged,))

    _, body = compose_contract(Department.TAX, "payment.details", details, now=NOW)

    assert b"110105194912310021" in body
    with pytest.raises(OutboundInvalid) as refused:
        compose(Department.TAX, request("payment.details", details), now=NOW)
    assert refused.value.reason is RejectReason.INVALID_ID_NUMBER


def test_compose_contract_keeps_the_size_check() -> None:
    details = PaymentDetails(batch_id="tax-b-p001", collected_on=date(2026, 11, 26), records=(record(1),))
    with pytest.raises(OutboundInvalid) as refused:
        compose_contract(Department.TAX, "payment.details", details, now=NOW, max_bytes=200)
    assert refused.value.reason is RejectReason.OVERSIZED and "limit is 200" in refused.value.detail


# -- the hand-off ---------------------------------------------------------------------------------


def test_the_handoff_handles_items_in_order_with_at_most_depth_waiting() -> None:
    release, handled = threading.Event(), []

    def handle(item: int) -> None:
        release.wait(5)
        handled.append(item)

    with Handoff(handle, depth=2) as out:
        for item in (1, 2, 3):  # 1 is being handled, 2 and 3 wait
            out.put(item)
        fourth = threading.Thread(target=out.put, args=(4,))
        fourth.start()
        fourth.join(0.3)
        assert fourth.is_alive()  # the producer is held back: memory stays bounded
        release.set()
        fourth.join(5)
    assert handled == [1, 2, 3, 4]


def test_the_handoff_stops_at_the_first_error_and_raises_it_to_the_producer() -> None:
    handled: list[int] = []

    def handle(item: int) -> None:
        if item == 2:
            raise RuntimeError("broker said no")
        handled.append(item)

    out: Handoff[int] = Handoff(handle, depth=1)
    with pytest.raises(RuntimeError, match="broker said no"):
        for item in range(1, 50):
            out.put(item)
        out.join()
    assert handled == [1]


# -- the push -------------------------------------------------------------------------------------


class DroppingPublisher:
    """Confirms every message and keeps only its size (so memory measures the tax side alone)."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes

    def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
        self.sizes.extend(len(m.body) for m in messages)

    def close(self) -> None:
        """Nothing to close."""


class DroppingBroker:
    """A broker that takes and forgets what is published."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def publisher(self) -> Publisher:
        return DroppingPublisher(self.sizes)

    def consumer(self, queue: str, prefetch: int = 256) -> Consumer:
        raise NotImplementedError("the tax push only publishes")

    def queue_depth(self, queue: str) -> int:
        return 0

    def close(self) -> None:
        """Nothing to close."""


def test_a_push_holds_a_few_parts_in_memory_not_the_whole_file(tmp_path: Path) -> None:
    path = export(tmp_path / "e.csv", 12000)
    broker = DroppingBroker()
    tax = TaxAdapter(Sender(Department.TAX, broker), StateDB(tmp_path / "tax.db"),
                     Options(batch_limit_bytes=64 * 1024), lambda: NOW)
    expected: list[int | None] = []
    progressed: list[int] = []

    tax.push(export(tmp_path / "warm-up.csv", 10), batch_id="tax-w")  # imports and caches: not the file's share
    broker.sizes.clear()
    tracemalloc.start()
    try:
        whole = read_export(path)
        _, read_peak = tracemalloc.get_traced_memory()
        del whole
        tracemalloc.reset_peak()
        result = tax.push(path, batch_id="tax-s", on_start=expected.append, progress=progressed.append)
        _, push_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.report.accepted == 12000 and result.report.records == []
    assert len(broker.sizes) == len(result.parts) > 20 and max(broker.sizes) <= 64 * 1024
    assert expected == [12000] and sum(progressed) == 12000 and len(progressed) == len(result.parts)
    assert push_peak < read_peak / 4, (push_peak, read_peak)
