"""What hrss and medins share: payment receipts, arrears confirmation, routed cases.

Each receives the records of its insurance types from the tax bureau's batches
(the hub splits them) and answers a ``payment.receipt``: how many records it
received, accepted and rejected (each with a reason), and the amount paid over the
accepted ones. The department-side rules are in :func:`record_problem`. With
``auto_receipt`` (the default) the answer goes out as soon as the part reaches the
department system; without it, the system answers with :meth:`send_receipt`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from adapters.department import DepartmentAdapter, Reaction
from adapters.errors import NotAllowedYet
from adapters.outbound import describe
from adapters.sinks import InboundMessage
from contracts import AnyEnvelope
from contracts.messages.arrears import ArrearsConfirmationRequested, ArrearsConfirmed
from contracts.messages.payment import PaymentDetails, PaymentReceipt, PaymentRecord, RejectedRecord
from hub.domain.payments import recipient_of

PARTS = "payment-part"
ARREARS = "arrears-request"


def record_problem(record: PaymentRecord, department: str) -> str | None:
    """Why ``department`` cannot take ``record``, or ``None``: its rules, one sentence each."""
    owner = recipient_of(record.insurance_type)
    if owner.value != department:
        return f"insurance type {record.insurance_type.value} belongs to {owner.value}"
    if record.amount_paid > record.amount_due + record.late_fee:
        return "amount_paid exceeds amount_due plus late_fee"
    return None


def receipt_for(
    details: PaymentDetails, department: str, refused: Mapping[str, str] | None = None
) -> PaymentReceipt:
    """The receipt of one part: the rules' rejections plus ``refused`` (record id → reason)."""
    rejected: list[RejectedRecord] = []
    accepted_total = Decimal("0.00")
    for record in details.records:
        reason = record_problem(record, department) or (refused or {}).get(record.record_id)
        if reason is None:
            accepted_total += record.amount_paid
        else:
            rejected.append(RejectedRecord(record_id=record.record_id, reason=reason[:100]))
    return PaymentReceipt(
        batch_id=details.batch_id,
        received=len(details.records),
        accepted=len(details.records) - len(rejected),
        rejected=tuple(rejected),
        amount_paid_total=accepted_total,
    )


class ReceiptRequest(BaseModel):
    """``POST /payment-receipts/{batch_id}``: the records the department system refuses."""

    rejected: dict[str, str] = {}


class ConfirmRequest(BaseModel):
    """``POST /arrears/{case_id}/confirm``: confirm (or dispute) the arrears data."""

    confirmed: bool
    principal_confirmed: Decimal | None = None
    note: str | None = None


class InsuranceAdapter(DepartmentAdapter):
    """The hrss and medins adapters: see the module docstring."""

    def observe(self, message: InboundMessage) -> None:
        """Remember each confirmation request, and each payment part the system will answer itself."""
        envelope = message.envelope
        payload = envelope.payload
        if isinstance(payload, PaymentDetails) and not self.options.auto_receipt:
            self.state.put(PARTS, payload.batch_id, payload.model_dump(mode="json"))
        elif isinstance(payload, ArrearsConfirmationRequested) and envelope.case_id is not None:
            self.state.put(ARREARS, envelope.case_id, payload.model_dump(mode="json"))

    def react(self, message: InboundMessage) -> list[Reaction]:
        """Auto-sign (if on), answer payment parts (``auto_receipt``), confirm arrears (``auto_confirm``)."""
        reactions = super().react(message)
        envelope = message.envelope
        payload = envelope.payload
        if isinstance(payload, PaymentDetails) and self.options.auto_receipt:
            receipt = receipt_for(payload, self.code.value)
            reactions.append(Reaction("payment.receipt", receipt, None))
        if isinstance(payload, ArrearsConfirmationRequested) and self.options.auto_confirm:
            reactions.append(
                Reaction("arrears.confirmed", self._confirmation(payload, True, None, None), envelope.case_id)
            )
        return reactions

    def send_receipt(self, batch_id: str, refused: Mapping[str, str] | None = None) -> AnyEnvelope:
        """Answer a payment part received earlier; ``refused`` adds the system's own rejections."""
        stored = self.state.get(PARTS, batch_id)
        if stored is None:
            raise NotAllowedYet(
                f"no payment part {batch_id} awaits a receipt from {self.code.value} "
                "(with auto_receipt the adapter has answered it already)"
            )
        details = PaymentDetails.model_validate_json(_json(stored))
        return self.send("payment.receipt", receipt_for(details, self.code.value, refused))

    def confirm_arrears(
        self,
        case_id: str,
        confirmed: bool,
        principal_confirmed: Decimal | None = None,
        note: str | None = None,
    ) -> AnyEnvelope:
        """Confirm (or dispute, ``confirmed=False``) the arrears data the hub asked about."""
        stored = self.state.get(ARREARS, case_id)
        if stored is None:
            raise NotAllowedYet(f"the hub has not asked {self.code.value} to confirm case {case_id}")
        request = ArrearsConfirmationRequested.model_validate_json(_json(stored))
        payload = self._confirmation(request, confirmed, principal_confirmed, note)
        return self.send("arrears.confirmed", payload, case_id=case_id)

    def _confirmation(
        self,
        request: ArrearsConfirmationRequested,
        confirmed: bool,
        principal: Decimal | None,
        note: str | None,
    ) -> ArrearsConfirmed:
        mine = tuple(t for t in request.insurance_types if recipient_of(t) is self.code)
        return ArrearsConfirmed(
            notice_no=request.notice_no,
            confirmed=confirmed,
            insurance_types=mine or request.insurance_types,
            principal_confirmed=request.principal if principal is None else principal,
            note=note,
        )

    def routers(self) -> list[APIRouter]:
        """``POST /payment-receipts/{batch_id}`` and ``POST /arrears/{case_id}/confirm``."""
        router = APIRouter(tags=[self.code.value])

        @router.post("/payment-receipts/{batch_id}", status_code=202)
        def receipt(batch_id: str, body: ReceiptRequest) -> dict[str, str]:
            return describe(self.send_receipt(batch_id, body.rejected))

        @router.post("/arrears/{case_id}/confirm", status_code=202)
        def confirm(case_id: str, body: ConfirmRequest) -> dict[str, str]:
            return describe(self.confirm_arrears(case_id, body.confirmed, body.principal_confirmed, body.note))

        return [router]


def _json(value: Any) -> str:
    # Stored payloads are JSON; the strict contracts read enums and days only from JSON.
    return json.dumps(value, ensure_ascii=False)
