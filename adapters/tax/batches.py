"""Splitting payment details into batches under the body size limit (DESIGN §4: 4 MiB).

The size of a batch is measured, not guessed: each record's JSON is serialized
once, and an envelope around one record gives the fixed overhead (with the longest
part id and the longest timestamp the adapter can produce), so the planned size is
the exact size of the body the hub will receive, give or take a few bytes of
timestamp. Records keep their order; parts are numbered ``<batch>-p001``,
``<batch>-p002``, ... (three digits, more past 999).

A :class:`Packer` packs one record at a time, for a batch read as a stream: each
part is handed out as soon as the next record would not fit, so memory holds one
part, not the batch. :func:`split` packs a whole list; the hub's payment upload
(``hub.api.payments``) packs with it too.

The bytes measured are the bytes sent: a :class:`Part` keeps its records' JSON as
the packer measured it, and :meth:`Part.body_of` splices them into the envelope's
body instead of serialising every record a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from contracts import AnyEnvelope, build
from contracts.codes import Department
from contracts.messages.payment import PaymentDetails, PaymentRecord

#: The longest ``occurred_at`` the adapter writes (microseconds and an offset).
_LONGEST_INSTANT = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8)))


def part_id(batch_id: str, number: int) -> str:
    """The id of part ``number`` (from 1) of ``batch_id``: ``<batch>-p001``."""
    return f"{batch_id}-p{number:03d}"


_RECORD_JSON = PaymentRecord.__pydantic_serializer__.to_json


def record_json(record: PaymentRecord) -> bytes:
    """The record's JSON exactly as it appears inside a body."""
    return _RECORD_JSON(record)


def record_size(record: PaymentRecord) -> int:
    """Bytes of the record's JSON inside a body."""
    return len(_RECORD_JSON(record))


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


class RecordTooLarge(ValueError):
    """One record alone does not fit in a body of the limit."""


@dataclass(frozen=True)
class Part:
    """One batch to publish, with its planned body size.

    ``records_json`` is the JSON of the records, comma-separated, as the packer
    measured them (empty if the part was made otherwise).
    """

    details: PaymentDetails
    planned_bytes: int
    records_json: bytes = b""

    def body_of(self, envelope: AnyEnvelope) -> bytes:
        """``envelope.to_json()`` of an envelope around :attr:`details`, records spliced in.

        The envelope is serialised with the first record alone, and the records'
        array is replaced by :attr:`records_json`: the same bytes, each record
        serialised once. Without ``records_json`` (or for another payload) it is
        plain ``to_json``.
        """
        records = self.details.records
        if not self.records_json or envelope.payload is not self.details:
            return envelope.to_json()
        first = record_json(records[0])
        one = envelope.model_copy(update={"payload": self.details.model_copy(update={"records": records[:1]})})
        body = one.to_json()
        at = body.rfind(b"[" + first + b"]")
        if at < 0:  # never seen: the records' array is written as [<record>]
            return envelope.to_json()
        return b"".join((body[: at + 1], self.records_json, body[at + 1 + len(first) :]))


class Packer:
    """Packs records, in order, into parts of at most ``limit_bytes`` each, as they come.

    :meth:`add` returns the part that the record closed (the record opens the next
    one), :meth:`finish` the last part. The overhead of a part is measured for its
    own part number, so past part 999 the longer id is counted.
    """

    def __init__(self, *, batch_id: str, collected_on: date, limit_bytes: int) -> None:
        self.batch_id = batch_id
        self.collected_on = collected_on
        self.limit_bytes = limit_bytes
        self.parts = 0
        self._records: list[PaymentRecord] = []
        self._json: list[bytes] = []
        self._used = 0
        self._overhead: dict[int, int] = {}  # by digits of the part number

    def _overhead_of(self, number: int, sample: PaymentRecord) -> int:
        digits = len(str(number))
        if digits not in self._overhead:
            self._overhead[digits] = envelope_overhead(self.batch_id, self.collected_on, sample, number)
        return self._overhead[digits]

    def add(self, record: PaymentRecord) -> Part | None:
        """Take one record; the part it closed, if it did not fit in the open one.

        Raises:
            RecordTooLarge: the record alone exceeds the limit.
        """
        data = _RECORD_JSON(record)
        size = len(data)
        closes = bool(self._records) and self._used + 1 + size > self.limit_bytes  # 1: a comma
        overhead = self._overhead_of(self.parts + (2 if closes else 1), record)
        if overhead + size > self.limit_bytes:
            raise RecordTooLarge(f"record {record.record_id!r} alone is {size} bytes; the limit is {self.limit_bytes}")
        closed = self._close() if closes else None
        if self._records:
            self._used += 1 + size
        else:
            self._used = overhead + size
        self._records.append(record)
        self._json.append(data)
        return closed

    def finish(self) -> Part | None:
        """The last, partly filled part (``None`` if no record is waiting)."""
        return self._close() if self._records else None

    def pack(self, records: Iterable[PaymentRecord]) -> Iterator[Part]:
        """Every part of ``records``, each as soon as it is full, then the last one."""
        for record in records:
            closed = self.add(record)
            if closed is not None:
                yield closed
        last = self.finish()
        if last is not None:
            yield last

    def _close(self) -> Part:
        self.parts += 1
        details = PaymentDetails(
            batch_id=part_id(self.batch_id, self.parts),
            collected_on=self.collected_on,
            records=tuple(self._records),
        )
        part = Part(details, self._used, b",".join(self._json))
        self._records, self._json, self._used = [], [], 0
        return part


def split(
    records: Sequence[PaymentRecord], *, batch_id: str, collected_on: date, limit_bytes: int
) -> list[Part]:
    """``records`` as parts of at most ``limit_bytes`` each, in order.

    Raises:
        ValueError: there are no records, or one record alone exceeds the limit.
    """
    if not records:
        raise ValueError("a batch needs at least one record")
    return list(Packer(batch_id=batch_id, collected_on=collected_on, limit_bytes=limit_bytes).pack(records))
