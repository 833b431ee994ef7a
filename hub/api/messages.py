"""``POST /v1/messages``: the HTTP ingress for departments without AMQP (DESIGN §6).

One envelope per request, through the same gate as ``sihub.in``: parsed by the
contracts, sent by the token's department (which must be the envelope's
``source``), deduplicated by ``message_id``, applied with its audit entry and
outbox rows in one transaction. ``x-sihub-signature`` and ``x-sihub-key-id`` are
read from the HTTP headers of the same names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.codes import Department
from hub.api.deps import CurrentDepartment, GroupCommitDep, RuntimeDep
from hub.api.ingress import inbound, read_body, refused_or
from hub.api.openapi import json_body
from hub.api.problems import problem_responses
from hub.api.views import MessageReceipt

router = APIRouter(tags=["messages"])

#: An example body: hrss signs for a case routed to it.
EXAMPLE_ENVELOPE: dict[str, Any] = {
    "message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a02",
    "type": "case.accepted",
    "schema_version": 1,
    "source": "hrss",
    "target": None,
    "case_id": "tax-2026-000123",
    "correlation_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a01",
    "causation_id": None,
    "occurred_at": "2026-11-23T14:02:00+08:00",
    "payload": {"handler": "H-0042", "note": "已签收，安排稽核科核实欠费记录。"},
}


class EnvelopeIn(BaseModel):
    """A message envelope (DESIGN §4); ``payload`` follows the contract of ``type`` and
    ``schema_version``, served at ``GET /v1/contracts/{type}``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ENVELOPE]})

    message_id: str = Field(description="UUID; the idempotency key.", json_schema_extra={"format": "uuid"})
    type: str = Field(examples=["case.accepted"])
    schema_version: int = Field(ge=1)
    source: Department = Field(description="Must be the department of the bearer token.")
    target: Department | None = None
    case_id: str | None = Field(None, examples=["tax-2026-000123"])
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: datetime = Field(description="With an offset; the county works in Asia/Shanghai.")
    payload: dict[str, Any]


@router.post(
    "/v1/messages",
    operation_id="postMessage",
    summary="Send one message to the hub",
    description=(
        "The same validation and effect as publishing to `sihub.in` with routing key "
        "`<source>.<type>`. 202 when applied, 200 when the `message_id` was applied before. "
        "A refusal is a problem detail whose `reject_reason` is the reason code of record."
    ),
    status_code=202,
    response_model=MessageReceipt,
    responses={
        200: {"model": MessageReceipt, "description": "A duplicate: applied before, no second effect."},
        **problem_responses(400, 401, 403, 409, 413, 422, 503),
    },
    openapi_extra=json_body(EnvelopeIn),
)
async def post_message(
    request: Request, response: Response, department: CurrentDepartment, runtime: RuntimeDep,
    commit: GroupCommitDep,
) -> MessageReceipt:
    """Apply one envelope sent by the token's department."""
    body = await read_body(request, runtime.service.max_body_bytes)
    message = inbound(body, department, request.headers)
    verdict = refused_or(await commit.submit_async(message))
    assert verdict.message_id is not None  # a verdict that is not a refusal parsed
    if verdict.outcome == "duplicate":
        response.status_code = 200
        return MessageReceipt(message_id=verdict.message_id, outcome="duplicate")
    return MessageReceipt(message_id=verdict.message_id, outcome="applied")
