"""The tax adapter's local records: batch parts pushed, receipts back, arrears files.

All in the adapter's state file, so that ``sihub tax status BATCH`` (another
process) sees what ``sihub adapter run tax`` recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.dedup import StateDB
from adapters.tax.arrears import ArrearsFile
from contracts.codes import Department
from contracts.messages.arrears import ArrearsConfirmationRequested, ArrearsNotice
from contracts.messages.payment import PaymentReceipt

PARTS = "tax-part"
ARREARS = "tax-arrears"


@dataclass(frozen=True)
class PartStatus:
    """One part of a batch: what was sent and what came back."""

    part_id: str
    records: int
    amount_paid_total: Decimal
    body_bytes: int
    published_at: str | None
    receipt: PaymentReceipt | None

    @property
    def reconciled(self) -> bool | None:
        """The hub's verdict on the consolidated receipt (``None`` while none came back)."""
        return None if self.receipt is None else bool(self.receipt.reconciled)


def batch_of(part_id: str) -> str:
    """``tax-20261126-p003`` → ``tax-20261126``."""
    head, _, tail = part_id.rpartition("-p")
    return head if head and tail.isdigit() else part_id


def record_part(
    state: StateDB, part_id: str, records: int, amount_paid_total: Decimal, body_bytes: int
) -> None:
    """Note a part about to be published (before, so a quick receipt finds it)."""
    entry = {"records": records, "amount_paid_total": f"{amount_paid_total:.2f}", "body_bytes": body_bytes}
    state.update(PARTS, part_id, lambda old: {**(old or {}), **entry})


def mark_published(state: StateDB, part_id: str, at: datetime) -> None:
    """Note that the broker confirmed a part."""
    state.update(PARTS, part_id, lambda old: {**(old or {}), "published_at": at.isoformat()})


def record_receipt(state: StateDB, receipt: PaymentReceipt) -> None:
    """Keep the hub's consolidated receipt of a part."""
    body = receipt.model_dump(mode="json")
    state.update(PARTS, receipt.batch_id, lambda old: {**(old or {}), "receipt": body})


def parts(state: StateDB, batch_id: str) -> list[PartStatus]:
    """The parts of ``batch_id`` in order (a part id itself names just that part)."""
    found = state.items(PARTS, f"{batch_id}-p") or [
        (key, value) for key, value in state.items(PARTS, batch_id) if key == batch_id
    ]
    return [_status(key, value) for key, value in found]


def _status(part_id: str, value: dict[str, Any]) -> PartStatus:
    receipt = value.get("receipt")
    return PartStatus(
        part_id=part_id,
        records=int(value.get("records", 0)),
        amount_paid_total=Decimal(value.get("amount_paid_total", "0.00")),
        body_bytes=int(value.get("body_bytes", 0)),
        published_at=value.get("published_at"),
        receipt=None if receipt is None else PaymentReceipt.model_validate_json(json.dumps(receipt)),
    )


def arrears_file(state: StateDB, case_id: str) -> ArrearsFile:
    """The arrears file of ``case_id`` as recorded (empty if nothing is known)."""
    stored = state.get(ARREARS, case_id) or {}
    notice = stored.get("notice")
    requested = stored.get("requested")
    return ArrearsFile(
        case_id=case_id,
        notice=None if notice is None else ArrearsNotice.model_validate_json(json.dumps(notice)),
        requested=None
        if requested is None
        else ArrearsConfirmationRequested.model_validate_json(json.dumps(requested)),
        confirmations={Department(d): bool(ok) for d, ok in stored.get("confirmations", {}).items()},
    )


def note_arrears(state: StateDB, case_id: str, **update: Any) -> None:
    """Merge ``notice``, ``requested`` or one ``confirmation=(department, ok)`` into a file."""
    confirmation = update.pop("confirmation", None)

    def change(old: dict[str, Any] | None) -> dict[str, Any]:
        new = {**(old or {}), **update}
        if confirmation is not None:
            department, ok = confirmation
            new["confirmations"] = {**new.get("confirmations", {}), department: ok}
        return new

    state.update(ARREARS, case_id, change)
