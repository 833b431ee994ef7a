"""Splitting payment details into batches under the body size limit (DESIGN §4: 4 MiB).

The size of a batch is measured, not guessed: each record's JSON is serialized
once, and an envelope around one record gives the fixed overhead (with the longest
part id and the longest timestamp the adapter can produce), so the planned size is
the exact size of the body the hub will receive, give or take a few bytes of
timestamp. Records keep their order; parts are numbered ``<batch>-p001``,
``<batch>-p002``, ... (three digits, more past 999).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from contracts import build
from contracts.codes import Department
from contracts.messages.payment import PaymentDetails, PaymentRecord

#: The longest ``occurred_at`` the adapter writes (microseconds and an offset).
_LONGEST_INSTANT = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8)))


def part_id(batch_id: str, number: int) -> str:
    """The id of part ``number`` (from 1) of ``batch_id``: ``<batch>-p001``."""
    return f"{batch_id}-p{number:03d}"


def record_size(record: PaymentRecord) -> int:
    """Bytes of the record's JSON inside a body."""
    return len(PaymentRecord.__pydantic_serializer__.to_json(record))


def envelope_overhead(batch_id: str, collected_on: date, sample: PaymentRecord, parts: int) -> int:
    """Bytes of a ``payment.details`` body besides its records, for a batch of ``parts`` parts."""
    longest_id = part_id(batch_id, max(parts, 999))
    details = PaymentDetails(batch_id=longest_id, collected_on=collected_on, records=(sample,))
    envelope = build(
        "payment.details",
        details,
        source=Department.TAX,
        message_id=UUID(int=0),
        occurred_at=_LONGEST_INSTANT,
    )
    return len(envelope.to_json()) - record_size(sample)


def plan(sizes: Sequence[int], overhead: int, limit: int) -> list[range]:
    """Contiguous runs of record indexes whose bodies (``overhead`` + records + commas) fit ``limit``.

    Raises:
        ValueError: one record alone does not fit.
    """
    runs: list[range] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if overhead + size > limit:
            raise ValueError(f"record {index} alone is {size} bytes; the limit is {limit}")
        extra = size + (1 if index > start else 0)  # a comma between records
        if used + extra > limit:
            runs.append(range(start, index))
            start, used = index, overhead + size
        else:
            used += extra
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


@dataclass(frozen=True)
class Part:
    """One batch to publish, with its planned body size."""

    details: PaymentDetails
    planned_bytes: int


def split(
    records: Sequence[PaymentRecord], *, batch_id: str, collected_on: date, limit_bytes: int
) -> list[Part]:
    """``records`` as parts of at most ``limit_bytes`` each, in order.

    Raises:
        ValueError: there are no records, or one record alone exceeds the limit.
    """
    if not records:
        raise ValueError("a batch needs at least one record")
    sizes = [record_size(record) for record in records]
    overhead = envelope_overhead(batch_id, collected_on, records[0], parts=1)
    runs = plan(sizes, overhead, limit_bytes)
    if len(runs) > 999:  # a four-digit part number lengthens every body by a byte: plan again
        runs = plan(sizes, envelope_overhead(batch_id, collected_on, records[0], len(runs)), limit_bytes)
    return [
        Part(
            PaymentDetails(
                batch_id=part_id(batch_id, number),
                collected_on=collected_on,
                records=tuple(records[i] for i in run),
            ),
            overhead + sum(sizes[i] for i in run) + len(run) - 1,
        )
        for number, run in enumerate(runs, start=1)
    ]
