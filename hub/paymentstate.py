"""Payment batches as plain JSON-able state for the store (and back).

Each part's amounts stay in the state's text form in memory (:class:`Amounts`), so
a batch read and written again does not turn thousands of amounts into
``Decimal`` and back; the part's total is kept next to them (``paid_total``; a
state written before it was kept works it out from the amounts).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contracts.codes import Department
from contracts.messages.payment import PaymentReceipt
from hub.domain.payments import Amounts, Part, PaymentBatch


def batch_to_state(batch: PaymentBatch) -> dict[str, Any]:
    """A JSON-able dict of ``batch`` (amounts as strings)."""
    return {
        "batch_id": batch.batch_id,
        "source": batch.source.value,
        "collected_on": batch.collected_on.isoformat(),
        "received_at": batch.received_at.isoformat(),
        "due_at": batch.due_at.isoformat(),
        "completed_at": batch.completed_at.isoformat() if batch.completed_at else None,
        "parts": {
            target.value: {
                "amounts": _amounts_text(part),
                "paid_total": f"{part.total:.2f}",
                "receipt": part.receipt.model_dump(mode="json") if part.receipt else None,
                "reconciled": part.reconciled,
                "problem": part.problem,
            }
            for target, part in batch.parts.items()
        },
    }


def _amounts_text(part: Part) -> dict[str, str]:
    text = part.amounts.text
    return text if isinstance(text, dict) else dict(text)


def batch_from_state(state: dict[str, Any]) -> PaymentBatch:
    """The batch ``batch_to_state`` wrote."""
    parts = {
        Department(target): Part(
            amounts=Amounts(
                part["amounts"],
                Decimal(part["paid_total"]) if part.get("paid_total") is not None else None,
            ),
            receipt=PaymentReceipt.model_validate(part["receipt"], strict=False)
            if part["receipt"]
            else None,
            reconciled=part["reconciled"],
            problem=part["problem"],
        )
        for target, part in state["parts"].items()
    }
    return PaymentBatch(
        batch_id=state["batch_id"],
        source=Department(state["source"]),
        collected_on=date.fromisoformat(state["collected_on"]),
        received_at=datetime.fromisoformat(state["received_at"]),
        due_at=datetime.fromisoformat(state["due_at"]),
        parts=MappingProxyType(parts),
        completed_at=datetime.fromisoformat(state["completed_at"])
        if state["completed_at"]
        else None,
    )
