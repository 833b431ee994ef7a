"""``POST /v1/payment-details``: the tax bureau uploads a payment-detail export (征缴明细传递).

The body is the export itself, CSV (UTF-8 or GBK) or JSON Lines, streamed to a
temporary file as it arrives. Its rows are validated one by one (:mod:`hub.api.uploads`);
good rows are packed into ``payment.details`` batches that fit the body size limit
(``<batch>-p001``, ``-p002``, …) and each batch is run through the service as a
message from ``tax``, as soon as it is full. The answer lists every batch with its
outcome and every bad row with its row number, column and reason.

The message id of each batch is derived from its batch id, so uploading the same
``batch_id`` again changes nothing (its batches answer ``duplicate``).
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO, Annotated, Final

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from adapters.errors import ExportError
from adapters.tax.batches import Packer, RecordTooLarge
from adapters.tax.rows import ColumnMap
from contracts import build
from contracts.codes import Department, RejectReason
from contracts.messages.payment import PaymentDetails, PaymentRecord
from hub.api.deps import CurrentDepartment, RuntimeDep
from hub.api.ingress import submit
from hub.api.problems import ProblemError, problem_responses, refusal
from hub.api.uploads import RowReport, UploadFormat, read_records
from hub.api.views import BatchResult, RowProblemView, UploadReport
from hub.domain.durations import COUNTY_TZ
from hub.runtime import HubRuntime
from hub.service import Inbound

log = logging.getLogger("sihub.api.payments")

router = APIRouter(tags=["payments"])

#: Largest upload taken (it is spooled to disk, never held in memory).
MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024
#: Namespace of batch message ids (derived from the batch id: re-uploads are duplicates).
BATCH_NAMESPACE: Final = uuid.UUID("0b7e4c52-61a8-5f0e-8d3b-2a9c4e7f1d63")
_MEDIA_TYPES: Final[dict[str, UploadFormat]] = {
    "text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
    "application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "application/x-jsonlines": "jsonl",
    "application/json-seq": "jsonl",
}  # fmt: skip


def pack(records: Iterable[PaymentRecord], *, batch_id: str, collected_on: date,
         limit_bytes: int) -> Iterator[PaymentDetails]:  # fmt: skip
    """``records`` as consecutive batches whose ``payment.details`` bodies fit ``limit_bytes``.

    The tax adapter's :class:`~adapters.tax.batches.Packer` measures and packs them; batches
    are yielded as soon as they are full, so the records never sit in memory all at once.

    Raises:
        RecordTooLarge: one record alone does not fit.
    """
    packer = Packer(batch_id=batch_id, collected_on=collected_on, limit_bytes=limit_bytes)
    return (part.details for part in packer.pack(records))


def send_batch(runtime: HubRuntime, details: PaymentDetails) -> BatchResult:
    """Run one batch through the service as a ``payment.details`` message from tax."""
    message_id = uuid.uuid5(BATCH_NAMESPACE, details.batch_id)
    envelope = build("payment.details", details, source=Department.TAX, message_id=message_id,
                     occurred_at=runtime.clock().astimezone(COUNTY_TZ))  # fmt: skip
    [verdict] = submit(runtime, [Inbound(body=envelope.to_json(), sender=Department.TAX.value, transport="http")])
    outcome = verdict.outcome if verdict.outcome != "retry" else "rejected"
    return BatchResult(batch_id=details.batch_id, message_id=str(message_id), records=len(details.records),
                       outcome=outcome, reject_reason=verdict.reason, detail=verdict.detail)  # fmt: skip


def process_upload(runtime: HubRuntime, file: IO[bytes], upload_format: UploadFormat, batch_id: str,
                   collected_on: date) -> UploadReport:  # fmt: skip
    """Read, validate, pack and send a spooled upload; the report.

    Raises:
        ProblemError: 422 when the upload cannot be read at all; 413 for a record over the limit.
    """
    report = RowReport(upload_format)
    settings = runtime.service.validation
    records = read_records(file, report, mapping=ColumnMap.load(), settings=settings)
    batches: list[BatchResult] = []
    try:
        for details in pack(records, batch_id=batch_id, collected_on=collected_on,
                            limit_bytes=runtime.service.max_body_bytes):  # fmt: skip
            batches.append(send_batch(runtime, details))
    except ExportError as error:
        raise ProblemError(422, "unreadable_export", "The export cannot be read", str(error)) from None
    except RecordTooLarge as error:
        raise refusal(RejectReason.OVERSIZED, str(error)) from None
    log.info("upload %s: %d rows, %d records in %d batch(es), %d row(s) refused",
             batch_id, report.rows, report.records, len(batches), report.problem_count)  # fmt: skip
    return UploadReport(
        batch_id=batch_id, format=upload_format, encoding="gbk" if report.encoding == "gb18030" else report.encoding,
        rows=report.rows, records=report.records, refused_rows=report.problem_count,
        problems=[RowProblemView(row=p.row, column=p.column, reason=p.reason) for p in report.problems],
        problems_truncated=report.problem_count > len(report.problems), batches=batches,
    )  # fmt: skip


def _format_of(request: Request, given: UploadFormat | None) -> UploadFormat:
    if given is not None:
        return given
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    found = _MEDIA_TYPES.get(media_type)
    if found is None:
        raise ProblemError(415, "unsupported_media_type", "Send CSV or JSON Lines",
                           "content-type: use text/csv or application/x-ndjson, or pass format=")  # fmt: skip
    return found


@router.post(
    "/v1/payment-details",
    operation_id="uploadPaymentDetails",
    summary="Upload a payment-detail export (tax bureau only)",
    description=(
        "The body is the export: CSV in UTF-8 or GBK (`Content-Type: text/csv`) or JSON Lines "
        "(`application/x-ndjson`). Good rows are sent to hrss and medins in batches under the "
        "size limit; bad rows are reported by row number. Re-uploading a `batch_id` is a no-op."
    ),
    response_model=UploadReport,
    responses=problem_responses(401, 403, 413, 415, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }}},  # fmt: skip
)
async def upload_payment_details(
    request: Request, department: CurrentDepartment, runtime: RuntimeDep,
    batch_id: Annotated[str | None, Query(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$",
                                          description="Default: tax-<yyyymmddHHMMSS>-<random>.")] = None,
    collected_on: Annotated[date | None, Query(description="Default: today in the county.")] = None,
    upload_format: Annotated[UploadFormat | None, Query(alias="format",
                                                        description="Default: from Content-Type.")] = None,
) -> UploadReport:  # fmt: skip
    """Validate the export's rows and send the good ones, batch by batch."""
    if department is not Department.TAX:
        raise refusal(RejectReason.NOT_PERMITTED, "only the tax bureau uploads payment details")
    chosen = _format_of(request, upload_format)
    now = runtime.clock().astimezone(COUNTY_TZ)
    batch = batch_id or f"tax-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryFile(prefix="sihub-upload-") as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise refusal(RejectReason.OVERSIZED, f"upload exceeds {MAX_UPLOAD_BYTES} bytes")
            spool.write(chunk)
        return await run_in_threadpool(process_upload, runtime, spool, chosen, batch, collected_on or now.date())
