"""Payment details (征缴明细传递): split a tax batch by insurance type, reconcile the receipts.

The tax bureau sends ``payment.details``; the hub sends each recipient the records
of its insurance types (pension, unemployment, work injury → hrss; medical and
maternity → medins). Each recipient answers ``payment.receipt``; the hub checks it
against what it delivered and, once every recipient has answered, sends tax one
consolidated receipt saying whether everything reconciles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from contracts.codes import Department, InsuranceType
from contracts.envelope import AnyEnvelope
from contracts.messages.payment import PaymentDetails, PaymentReceipt, PaymentRecord, RejectedRecord
from hub.domain.flow import Rules, payload_of
from hub.domain.model import Emit, not_permitted, precondition_failed
from hub.domain.routing import HRSS_TYPES

RECEIPT_KEY = "payment.receipt"


def recipient_of(insurance_type: InsuranceType) -> Department:
    """hrss for pension, unemployment and work injury; medins for medical and maternity."""
    return Department.HRSS if insurance_type in HRSS_TYPES else Department.MEDINS


def split(details: PaymentDetails) -> dict[Department, PaymentDetails]:
    """The batch's records grouped by recipient, each part keeping the batch id."""
    parts: dict[Department, list[object]] = {}
    for record in details.records:
        parts.setdefault(recipient_of(record.insurance_type), []).append(record)
    return {
        target: details.model_copy(update={"records": tuple(records)})
        for target, records in sorted(parts.items())
    }


_ZERO = Decimal("0.00")


class Amounts(Mapping[str, Decimal]):
    """record_id → amount_paid of a part, kept as the batch state writes them (``"1080.00"``).

    A part holds some 5 000 records and its state is saved three times (details,
    then each receipt) and read twice: the amounts stay in their text form, the
    total is worked out once, and an amount becomes a ``Decimal`` only when it is
    looked up (a rejected record's). Every amount has at most two places, so the
    text is exact.
    """

    __slots__ = ("_text", "_total")

    def __init__(self, text: Mapping[str, str], total: Decimal | None = None) -> None:
        self._text = text
        self._total = total

    @classmethod
    def of_records(cls, records: Iterable[PaymentRecord]) -> Amounts:
        """The amounts paid of ``records``, by record id."""
        return cls.of((record.record_id, record.amount_paid) for record in records)

    @classmethod
    def of(cls, amounts: Iterable[tuple[str, Decimal]]) -> Amounts:
        """(record_id, amount) pairs as amounts, the total worked out on the way."""
        text: dict[str, str] = {}
        total = _ZERO
        for record_id, amount in amounts:
            text[record_id] = f"{amount:.2f}"
            total += amount
        return cls(text, total)

    @property
    def text(self) -> Mapping[str, str]:
        """record_id → the amount as text with two places (the batch state's form)."""
        return self._text

    def total(self) -> Decimal:
        """The sum of the amounts."""
        if self._total is None:
            self._total = sum(map(Decimal, self._text.values()), _ZERO)
        return self._total

    def __getitem__(self, record_id: str) -> Decimal:
        return Decimal(self._text[record_id])

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._text

    def __iter__(self) -> Iterator[str]:
        return iter(self._text)

    def __len__(self) -> int:
        return len(self._text)

    def __repr__(self) -> str:
        return f"Amounts({len(self._text)} records, total {self.total():.2f})"


@dataclass(frozen=True)
class Part:
    """What the hub delivered to one recipient, and its answer."""

    amounts: Amounts  # record_id → amount_paid
    receipt: PaymentReceipt | None = None
    reconciled: bool | None = None
    problem: str | None = None

    @property
    def count(self) -> int:
        """Records delivered."""
        return len(self.amounts)

    @property
    def total(self) -> Decimal:
        """Amount paid over the records delivered."""
        return self.amounts.total()


@dataclass(frozen=True)
class PaymentBatch:
    """One batch on its way from tax to the recipients and back."""

    batch_id: str
    source: Department
    collected_on: date
    received_at: datetime
    due_at: datetime
    parts: Mapping[Department, Part] = field(default_factory=lambda: MappingProxyType({}))
    completed_at: datetime | None = None

    @property
    def awaiting(self) -> tuple[Department, ...]:
        """Recipients that have not answered."""
        return tuple(t for t, p in self.parts.items() if p.receipt is None)


def receive_details(
    existing: PaymentBatch | None, envelope: AnyEnvelope, now: datetime, rules: Rules
) -> tuple[PaymentBatch, list[Emit]]:
    """Accept a batch from tax and deliver each recipient its part."""
    details = payload_of(envelope, PaymentDetails)
    if envelope.source is not Department.TAX:
        raise not_permitted("payment details come from the tax bureau")
    if existing is not None:
        raise precondition_failed(f"batch {details.batch_id} was already received")
    parts = split(details)
    due = rules.policy.schedule(RECEIPT_KEY, now, rules.calendar, rules.tz).due_at
    batch = PaymentBatch(
        batch_id=details.batch_id,
        source=envelope.source,
        collected_on=details.collected_on,
        received_at=now,
        due_at=due,
        parts=MappingProxyType(
            {target: Part(Amounts.of_records(part.records)) for target, part in parts.items()}
        ),
    )
    return batch, [Emit("payment.details", target, part) for target, part in parts.items()]


def receive_receipt(
    batch: PaymentBatch | None, envelope: AnyEnvelope, now: datetime
) -> tuple[PaymentBatch, list[Emit]]:
    """Reconcile one recipient's receipt; when all are in, answer tax with the consolidation."""
    receipt = payload_of(envelope, PaymentReceipt)
    if batch is None:
        raise precondition_failed(f"batch {receipt.batch_id} is not known to the hub")
    part = batch.parts.get(envelope.source)
    if part is None:
        raise not_permitted(f"{envelope.source.value} was not sent batch {batch.batch_id}")
    if part.receipt is not None:
        raise precondition_failed(
            f"{envelope.source.value} has already answered batch {batch.batch_id}"
        )
    problem = reconcile(part, receipt)
    parts = dict(batch.parts)
    parts[envelope.source] = replace(
        part, receipt=receipt, reconciled=problem is None, problem=problem
    )
    updated = replace(batch, parts=MappingProxyType(parts))
    if updated.awaiting:
        return updated, []
    updated = replace(updated, completed_at=now)
    return updated, [Emit("payment.receipt", batch.source, consolidate(updated))]


def reconcile(part: Part, receipt: PaymentReceipt) -> str | None:
    """Why a receipt disagrees with what was delivered, or ``None`` if it reconciles."""
    if receipt.received != part.count:
        return f"received {receipt.received} records, {part.count} were delivered"
    unknown = [r.record_id for r in receipt.rejected if r.record_id not in part.amounts]
    if unknown:
        return f"rejected records that were not delivered: {', '.join(unknown[:5])}"
    accepted_total = part.total - sum(
        (part.amounts[r.record_id] for r in receipt.rejected), Decimal("0.00")
    )
    if receipt.amount_paid_total != accepted_total:
        return f"amount_paid_total {receipt.amount_paid_total:.2f}, the accepted records total {accepted_total:.2f}"
    return None


def consolidate(batch: PaymentBatch) -> PaymentReceipt:
    """One receipt for tax over every recipient's answer."""
    receipts = [(t, p.receipt) for t, p in batch.parts.items() if p.receipt is not None]
    rejected: list[RejectedRecord] = [r for _, rc in receipts for r in rc.rejected]
    return PaymentReceipt(
        batch_id=batch.batch_id,
        received=sum(rc.received for _, rc in receipts),
        accepted=sum(rc.accepted for _, rc in receipts),
        rejected=tuple(rejected),
        amount_paid_total=sum((rc.amount_paid_total for _, rc in receipts), Decimal("0.00")),
        departments=tuple(t for t, _ in receipts),
        reconciled=all(p.reconciled for p in batch.parts.values()),
    )
