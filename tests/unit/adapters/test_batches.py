"""Splitting payment details under the body limit: size bound, order, ids."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.outbound import compose, compose_contract, request
from adapters.tax.batches import (
    Part,
    RecordTooLarge,
    envelope_overhead,
    part_id,
    record_json,
    record_size,
    split,
)
from contracts.codes import Department, InsuranceType, PayerKind
from contracts.messages.payment import PaymentRecord
from hub.domain.durations import COUNTY_TZ

ID_NUMBER = "11010519491231002X"
USCC = "91350100M000100Y43"
DAY = date(2026, 11, 26)


def record(number: int, name: str = "五河县某建材有限公司") -> PaymentRecord:
    return PaymentRecord(
        record_id=f"r-{number}",
        payer_kind=PayerKind.EMPLOYER,
        employer_uscc=USCC,
        employer_name=name,
        person_id_number=ID_NUMBER,
        insurance_type=InsuranceType.ENTERPRISE_PENSION,
        period_start="2026-10",
        period_end="2026-10",
        contribution_base=Decimal("4500.00"),
        amount_due=Decimal("1080.00"),
        amount_paid=Decimal(number % 1000) + Decimal("0.25"),
        late_fee=Decimal("0.00"),
        tax_voucher_no=f"3340322260000{number:05d}",
        paid_on=date(2026, 11, 20),
        treasury_on=None,
    )


def published_size(details_json: dict[str, object]) -> int:
    """The size of the body the tax adapter publishes for a part (compose, as the adapter does)."""
    now = datetime(2026, 11, 26, 18, 0, 0, 123456, tzinfo=COUNTY_TZ)
    _, body = compose(Department.TAX, details_json, now=now)
    return len(body)


@given(
    names=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60),
    slack=st.integers(min_value=0, max_value=3000),
)
def test_packing_covers_every_record_once_in_order_and_each_part_fits_and_is_full(names: list[int], slack: int) -> None:
    records = [record(n, name="某" * length) for n, length in enumerate(names, start=1)]
    overhead = envelope_overhead("b", DAY, records[0], parts=1)
    limit = overhead + max(record_size(r) for r in records) + slack
    parts = split(records, batch_id="b", collected_on=DAY, limit_bytes=limit)

    assert [r for p in parts for r in p.details.records] == records
    for part in parts:
        held = part.details.records
        assert len(held) > 0
        assert part.planned_bytes == overhead + sum(record_size(r) for r in held) + len(held) - 1 <= limit
    # Greedy: each part but the last was closed because the next record did not fit.
    for part, following in zip(parts, parts[1:], strict=False):
        assert part.planned_bytes + 1 + record_size(following.details.records[0]) > limit


def test_packing_refuses_a_record_that_alone_exceeds_the_limit() -> None:
    limit = envelope_overhead("b", DAY, record(1), parts=1) + record_size(record(1)) + 10
    with pytest.raises(RecordTooLarge, match="'r-2' alone"):
        split([record(1), record(2, name="某" * 90), record(3)], batch_id="b", collected_on=DAY, limit_bytes=limit)


def test_parts_are_numbered_with_three_digits_and_more_past_999() -> None:
    assert [part_id("tax-1", n) for n in (1, 2, 999, 1000)] == ["tax-1-p001", "tax-1-p002", "tax-1-p999", "tax-1-p1000"]


def test_split_bodies_stay_under_the_limit_keep_order_and_use_part_ids() -> None:
    records = [record(n, name="某公司" * (n % 7 + 1)) for n in range(1, 1201)]
    limit = 64 * 1024

    parts = split(records, batch_id="tax-20261126", collected_on=date(2026, 11, 26), limit_bytes=limit)

    assert len(parts) > 3
    assert [p.details.batch_id for p in parts] == [f"tax-20261126-p{n:03d}" for n in range(1, len(parts) + 1)]
    assert [r.record_id for p in parts for r in p.details.records] == [r.record_id for r in records]
    for part in parts:
        size = published_size(request("payment.details", part.details))
        # The plan is the measured size with the longest timestamp: exact to a few bytes, never under.
        assert size <= part.planned_bytes <= limit
        assert part.planned_bytes - size < 16
    assert all(p.details.collected_on == date(2026, 11, 26) for p in parts)


def test_split_fills_each_part_nearly_to_the_limit() -> None:
    records = [record(n) for n in range(1, 2001)]
    limit = 32 * 1024
    parts = split(records, batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=limit)

    biggest = max(record_size(r) for r in records)
    assert all(p.planned_bytes > limit - biggest - 1 for p in parts[:-1])


def test_a_batch_that_fits_is_one_part() -> None:
    parts = split([record(1), record(2)], batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=4 * 1024 * 1024)
    assert [(p.details.batch_id, len(p.details.records)) for p in parts] == [("b-p001", 2)]


def test_split_refuses_an_empty_batch() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        split([], batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=1024)


def _sealed(part: Part, *, splice: bool) -> tuple[bytes, bytes]:
    """The spliced body and the body serialised whole, for the same envelope."""
    now = datetime(2026, 11, 26, 18, 0, 0, 123456, tzinfo=COUNTY_TZ)
    envelope, body = compose_contract(
        Department.TAX, "payment.details", part.details, now=now, serialize=part.body_of if splice else None
    )
    return body, envelope.to_json()


@pytest.mark.parametrize(
    "name",
    ["五河县某建材有限公司", 'a "quoted" name', "back\\slash and \u2028 line separator", "tab\there", "emoji 🏗"],
)
def test_a_part_body_spliced_from_the_measured_records_is_the_body_serialised_whole(name: str) -> None:
    records = [record(n, name=name) for n in range(1, 400)]
    parts = split(records, batch_id="tax-20261126", collected_on=date(2026, 11, 26), limit_bytes=16 * 1024)
    assert len(parts) > 2

    for part in parts:
        spliced, whole = _sealed(part, splice=True)
        assert spliced == whole
        assert part.records_json == b",".join(record_json(r) for r in part.details.records)
        assert len(spliced) <= part.planned_bytes


def test_a_part_made_without_the_packer_is_serialised_whole() -> None:
    details = split([record(1), record(2)], batch_id="b", collected_on=date(2026, 11, 26), limit_bytes=1 << 20)[0].details
    part = Part(details, planned_bytes=0)  # no records_json

    spliced, whole = _sealed(part, splice=True)

    assert spliced == whole


def test_a_part_spliced_into_another_payload_is_serialised_whole() -> None:
    first, second = split([record(n) for n in range(1, 200)], batch_id="b", collected_on=date(2026, 11, 26),
                          limit_bytes=8 * 1024)[:2]
    now = datetime(2026, 11, 26, 18, 0, tzinfo=COUNTY_TZ)
    envelope, _ = compose_contract(Department.TAX, "payment.details", second.details, now=now)

    assert first.body_of(envelope) == envelope.to_json()  # not first's records
