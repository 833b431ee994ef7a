"""The tax bureau's adapter (县税务局, ``tax``).

* pushes payment-detail exports (征缴明细传递) as a stream: each row is read and
  validated once, packed into a part under the body limit, and each part is
  published with confirms as soon as it is full (on a background thread, while
  the next part is read), then the hub's consolidated ``payment.receipt`` of each
  part is recorded for ``sihub tax status``;
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
from adapters.outbound import compose_contract
from adapters.sender import Sealed
from adapters.sinks import InboundMessage
from adapters.tax import arrears, ledger
from adapters.tax.batches import Packer, Part
from adapters.tax.export import ExportReport, open_export
from adapters.tax.handoff import Handoff
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


#: Sealed parts waiting for the publishing thread (each at most one body, 4 MiB).
PARTS_IN_FLIGHT = 2


@dataclass(frozen=True)
class PushResult:
    """What one push sent: the batch id, the parts (id, records, bytes), and the report.

    ``report.accepted`` counts the records sent; the records themselves are not kept.
    """

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
        on_start: Callable[[int | None], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PushResult:
        """Read, pack and publish an export file as a stream; bad rows are reported, good rows go.

        ``on_start(rows)`` is called once the header is checked, with the rows the file
        appears to hold (``None`` if unknown); ``progress(rows)`` after each part is
        confirmed, with the rows (sent or refused) that part accounts for.

        Raises:
            ExportError: the file cannot be read, or has no valid row at all (nothing sent).
            OutboundInvalid: a part came out over the limit (a bug: the packer measures bodies).
            SendFailed: the broker did not confirm a part (parts before it were sent).
        """
        with open_export(path, settings=self.options.validation) as reader:
            if on_start is not None:
                on_start(reader.expected_rows)
            result = PushResult(batch_id or self.default_batch_id(), reader.report)
            packer = Packer(
                batch_id=result.batch_id,
                collected_on=collected_on or self.clock().date(),
                limit_bytes=self.options.batch_limit_bytes,
            )
            counted = 0

            def publish(item: tuple[Part, Sealed, int]) -> None:
                part, sealed, rows = item
                self._publish_part(part, sealed, result)
                if progress is not None:
                    progress(rows)

            with Handoff(publish, depth=PARTS_IN_FLIGHT, name="tax-push") as out:
                for part in packer.pack(reader):
                    rows, counted = reader.report.rows - counted, reader.report.rows
                    out.put((part, self._seal(part), rows))
        report = result.report
        if not report.accepted:
            raise ExportError(f"{path.name}: no valid rows to send ({len(report.problems)} row(s) refused)")
        log.info("batch %s: %d records in %d part(s), %d row(s) refused",
                 result.batch_id, report.accepted, packer.parts, len(report.problems))
        return result

    def _seal(self, part: Part) -> Sealed:
        """The part's envelope and body, built from its validated records, each serialised once (by the packer)."""
        return compose_contract(
            self.code, "payment.details", part.details, now=self.clock(), max_bytes=self.options.batch_limit_bytes,
            serialize=part.body_of,
        )

    def _publish_part(self, part: Part, sealed: Sealed, result: PushResult) -> None:
        """Note the part, publish it with a confirm, note that it was confirmed."""
        records = part.details.records
        total = sum((r.amount_paid for r in records), Decimal("0.00"))
        ledger.record_part(self.state, part.details.batch_id, len(records), total, len(sealed[1]))
        self.sender.publish([sealed])
        ledger.mark_published(self.state, part.details.batch_id, self.clock())
        result.parts.append((part.details.batch_id, len(records), len(sealed[1])))

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
