"""The tax adapter's HTTP routes: disputes, demands, enforcement, payment-detail uploads."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, File, Form, UploadFile
from pydantic import BaseModel

from adapters.errors import ExportError, OutboundInvalid
from adapters.outbound import describe
from contracts.codes import RejectReason

if TYPE_CHECKING:
    from adapters.tax.adapter import TaxAdapter


class EnforcementRequest(BaseModel):
    """Apply to the court for enforcement of an arrears case."""

    application_no: str
    late_fee_until: date | None = None
    court_case_ref: str | None = None


def save_upload(data: bytes, suffix: str) -> Path:
    """An uploaded export in a temporary file of the right suffix (the reader goes by it)."""
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        handle.write(data)
        return Path(handle.name)


def router(adapter: TaxAdapter) -> APIRouter:
    """``POST /disputes``, ``/arrears-notices``, ``/enforcement/{case_id}``, ``/payment-details``;
    ``GET /batches/{batch_id}``."""
    routes = APIRouter(tags=["tax"])

    @routes.post("/disputes", status_code=202)
    def dispute(
        payload: Annotated[dict[str, Any], Body()], case_id: str | None = None
    ) -> dict[str, str]:
        envelope = adapter.register_dispute(payload, case_id)
        return {**describe(envelope), "case_id": envelope.case_id or ""}

    @routes.post("/arrears-notices", status_code=202)
    def notice(
        payload: Annotated[dict[str, Any], Body()], case_id: str | None = None
    ) -> dict[str, str]:
        envelope = adapter.serve_arrears_notice(payload, case_id)
        return {**describe(envelope), "case_id": envelope.case_id or ""}

    @routes.post("/enforcement/{case_id}", status_code=202)
    def enforce(case_id: str, body: EnforcementRequest) -> dict[str, str]:
        return describe(
            adapter.apply_for_enforcement(
                case_id,
                body.application_no,
                late_fee_until=body.late_fee_until,
                court_case_ref=body.court_case_ref,
            )
        )

    @routes.post("/payment-details", status_code=202)
    def upload(
        file: Annotated[UploadFile, File()],
        batch_id: Annotated[str | None, Form()] = None,
        collected_on: Annotated[date | None, Form()] = None,
    ) -> dict[str, Any]:
        suffix = Path(file.filename or "export.csv").suffix or ".csv"
        path = save_upload(file.file.read(), suffix)
        try:
            result = adapter.push(path, batch_id=batch_id, collected_on=collected_on)
        except ExportError as error:
            raise OutboundInvalid(RejectReason.SCHEMA_VIOLATION, str(error)) from error
        finally:
            path.unlink(missing_ok=True)
        return {
            "batch_id": result.batch_id,
            "records": result.report.accepted,
            "parts": [{"batch_id": p, "records": n, "bytes": size} for p, n, size in result.parts],
            "problems": [
                {"row": p.row, "column": p.column, "reason": p.reason} for p in result.report.problems
            ],
        }

    @routes.get("/batches/{batch_id}")
    def status(batch_id: str) -> list[dict[str, Any]]:
        return [
            {
                "part": part.part_id,
                "records": part.records,
                "amount_paid_total": f"{part.amount_paid_total:.2f}",
                "published_at": part.published_at,
                "receipt": None if part.receipt is None else part.receipt.model_dump(mode="json"),
            }
            for part in adapter.batch_status(batch_id)
        ]

    return routes
