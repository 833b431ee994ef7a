"""The tax bureau's adapter (县税务局, ``tax``).

* pushes payment-detail exports (征缴明细传递): read and validate every row, split
  into parts under the body limit, publish with confirms, and record the hub's
  consolidated ``payment.receipt`` of each part for ``sihub tax status``;
* registers disputes from the tax window (``case.registered``, 首接负责);
* serves demands for payment (``arrears.notice``) and, once the hub has opened the
  window and every confirmation is in, applies to the court (``enforcement.applied``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter

from adapters.department import DepartmentAdapter
from adapters.errors import ExportError
from adapters.outbound import request
from adapters.sinks import InboundMessage
from adapters.tax import arrears, ledger
from adapters.tax.batches import Part, split
from adapters.tax.export import ExportReport, read_export
from adapters.tax.routes import router
from contracts import AnyEnvelope
from contracts.codes import Department
from contracts.messages.arrears import (
    ArrearsConfirmationRequested,
    ArrearsConfirmed,
    ArrearsNotice,
)
from contracts.messages.base import Contract
from contracts.messages.case import CaseRegistered
from contracts.messages.payment import PaymentReceipt
from hub.domain.payments import recipient_of

log = logging.getLogger("sihub.adapter.tax")


@dataclass(frozen=True)
class PushResult:
    """What one push sent: the batch id, the parts (id, records, bytes), and the report."""

    batch_id: str
    report: ExportReport
    parts: list[tuple[str, int, int]] = field(default_factory=list)


class TaxAdapter(DepartmentAdapter):
    """The ``tax`` adapter."""

    code: ClassVar[Department] = Department.TAX

    # -- payment details ------------------------------------------------------------------

    def default_batch_id(self) -> str:
        """``tax-<yyyymmddHHMMSS>`` in county time."""
        return f"tax-{self.clock():%Y%m%d%H%M%S}"

    def push(
        self,
        path: Path,
        *,
        batch_id: str | None = None,
        collected_on: date | None = None,
        on_plan: Callable[[list[Part]], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PushResult:
        """Read, split and publish an export file; bad rows are reported, good rows go.

        Raises:
            ExportError: the file cannot be read, or has no valid row at all.
            SendFailed: the broker did not confirm a part (parts before it were sent).
        """
        report = read_export(path, settings=self.options.validation)
        if not report.records:
            raise ExportError(
                f"{path.name}: no valid rows to send ({len(report.problems)} row(s) refused)"
            )
        batch_id = batch_id or self.default_batch_id()
        parts = split(
            report.records,
            batch_id=batch_id,
            collected_on=collected_on or self.clock().date(),
            limit_bytes=self.options.batch_limit_bytes,
        )
        if on_plan is not None:
            on_plan(parts)
        result = PushResult(batch_id, report)
        for part in parts:
            sealed = self.seal(request("payment.details", part.details))
            size = len(sealed[1])
            if size > self.options.batch_limit_bytes:  # the plan measures exactly: a bug if so
                raise AssertionError(f"{part.details.batch_id} is {size} bytes, over the limit")
            records = part.details.records
            total = sum((r.amount_paid for r in records), Decimal("0.00"))
            ledger.record_part(self.state, part.details.batch_id, len(records), total, size)
            self.sender.publish([sealed])
            ledger.mark_published(self.state, part.details.batch_id, self.clock())
            result.parts.append((part.details.batch_id, len(records), size))
            if progress is not None:
                progress(len(records))
        log.info("batch %s: %d records in %d part(s), %d row(s) refused",
                 batch_id, len(report.records), len(parts), len(report.problems))
        return result

    def batch_status(self, batch_id: str) -> list[ledger.PartStatus]:
        """The parts of a batch and the hub's receipt of each, from local state."""
        return ledger.parts(self.state, batch_id)

    def wait_for_receipts(
        self, batch_id: str, timeout_seconds: float, poll_seconds: float = 0.5
    ) -> list[ledger.PartStatus]:
        """Poll local state until every part has its receipt, or the time is up."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            status = self.batch_status(batch_id)
            if (status and all(p.receipt is not None for p in status)) or time.monotonic() >= deadline:
                return status
            time.sleep(poll_seconds)

    # -- inbound records --------------------------------------------------------------------

    def observe(self, message: InboundMessage) -> None:
        """Record receipts, confirmation requests (the window is open) and confirmations."""
        envelope = message.envelope
        payload = envelope.payload
        if isinstance(payload, PaymentReceipt):
            ledger.record_receipt(self.state, payload)
            log.info("receipt of %s: %d accepted, %d rejected, reconciled=%s", payload.batch_id,
                     payload.accepted, len(payload.rejected), payload.reconciled)
        elif envelope.case_id is None:
            return
        elif isinstance(payload, ArrearsConfirmationRequested):
            ledger.note_arrears(self.state, envelope.case_id, requested=payload.model_dump(mode="json"))
        elif isinstance(payload, ArrearsConfirmed):
            # The copy comes from the hub: the confirmer is the owner of the types it confirms.
            confirmer = recipient_of(payload.insurance_types[0]).value
            ledger.note_arrears(self.state, envelope.case_id, confirmation=(confirmer, payload.confirmed))

    # -- disputes and arrears -----------------------------------------------------------------

    def register_dispute(
        self, payload: CaseRegistered | Mapping[str, Any], case_id: str | None = None
    ) -> AnyEnvelope:
        """Register a dispute received at the tax window; ``case_id`` defaults to the next one."""
        return self.send("case.registered", payload, case_id=case_id or self.next_case_id())

    def serve_arrears_notice(
        self, notice: ArrearsNotice | Mapping[str, Any], case_id: str | None = None
    ) -> AnyEnvelope:
        """Serve a demand for payment (催告书): opens an arrears case at the hub."""
        envelope = self.send("arrears.notice", notice, case_id=case_id or self.next_case_id())
        assert envelope.case_id is not None and isinstance(envelope.payload, Contract)
        ledger.note_arrears(self.state, envelope.case_id, notice=envelope.payload.model_dump(mode="json"))
        return envelope

    def apply_for_enforcement(
        self,
        case_id: str,
        application_no: str,
        *,
        late_fee_until: date | None = None,
        court_case_ref: str | None = None,
    ) -> AnyEnvelope:
        """Apply to the court; refused locally (``NotAllowedYet``) before the window or confirmations."""
        file = ledger.arrears_file(self.state, case_id)
        payload = arrears.application(
            file,
            application_no,
            today=self.clock().date(),
            late_fee_until=late_fee_until,
            court_case_ref=court_case_ref,
        )
        return self.send("enforcement.applied", payload, case_id=case_id)

    def routers(self) -> list[APIRouter]:
        """The tax routes (see :mod:`adapters.tax.routes`)."""
        return [router(self)]
