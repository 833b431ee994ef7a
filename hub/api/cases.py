"""The case ledger over HTTP: register a case, read one, list them (DESIGN §6).

Which cases a department sees is :mod:`hub.api.visibility`; a case it may not see
answers 404 exactly as an unknown one does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from contracts.codes import Department, Tier
from contracts.messages.case import CaseRegistered, PetitionRegistered
from hub.api.deps import CaseNumbersDep, CurrentDepartment, GroupCommitDep, RuntimeDep
from hub.api.ingress import ledger, read_body
from hub.api.openapi import json_body
from hub.api.problems import not_found, problem_responses
from hub.api.registration import register
from hub.api.views import CasePage, CaseView, TimelineEntry, case_summary, case_view
from hub.api.visibility import LedgerQuery, follows, ledger_page, may_see, stage_names
from hub.domain.model import Case
from hub.runtime import HubRuntime
from hub.service import Verdict

router = APIRouter(tags=["cases"])

#: An example registration: an employee's pension arrears reported at the tax bureau's window.
EXAMPLE_REGISTRATION: dict[str, Any] = {
    "type": "case.registered",
    "payload": {
        "channel": "window", "received_at": "2026-11-23T09:12:00+08:00", "intake_clerk": "T-0317",
        "party": {"kind": "employee", "name": "李某某", "id_number": "340322198503151230",
                  "uscc": None, "phone": "13800000001"},
        "employer": {"name": "五河县某建材有限公司", "uscc": "91340322MA2T0A1B2M"},
        "jurisdiction": "340322101", "category": "enrollment_payment_benefit",
        "matters": ["arrears", "benefit"], "insurance_types": ["110"],
        "fee_period": {"start": "2023-01", "end": "2023-06"}, "amount_in_dispute": "8640.00",
        "summary": "单位2023年上半年欠缴养老保险费，职工办理退休时待遇无法核定。",
        "initial_opinion": "属流程调整前历史欠费，建议由人社局核实处理。", "urgent": False,
    },
}  # fmt: skip


class RegistrationIn(BaseModel):
    """A case to register: a dispute (``case.registered``) or, from the petition bureau, a
    petition (``petition.registered``). The hub assigns the case id."""

    type: str = Field(json_schema_extra={"enum": ["case.registered", "petition.registered"]})
    payload: CaseRegistered | PetitionRegistered


CaseIdPath = Annotated[str, Path(max_length=64, description="e.g. tax-2026-000123")]
StatusQuery = Annotated[str | None, Query(
    pattern="^(" + "|".join(stage_names()) + ")$",
    description="A stage (routed, accepted, …, closed) or open (any stage but closed).",
)]  # fmt: skip


def _load_view(runtime: HubRuntime, caller: Department, case_id: str) -> CaseView | None:
    with ledger(), runtime.store.transaction() as tx:
        case = tx.load_case(case_id)
        if case is None or not may_see(caller, case):
            return None
        entries = tx.audit_entries(case_id)
    return case_view(case, entries, runtime.clock(), personal=follows(caller, case))


def registered_view(verdict: Verdict, caller: Department, now: datetime) -> CaseView | None:
    """The view of the case ``verdict`` just created, as reading it back would give, without reading it.

    ``None`` when the verdict did not create a case (then the ledger is read).
    """
    applied, envelope = verdict.applied, verdict.envelope
    if verdict.outcome != "applied" or applied is None or envelope is None or verdict.previous is not None:
        return None
    case = applied.case
    if not may_see(caller, case) or verdict.handled_at is None:
        return None
    # A new case's audit chain is the registration alone (the service appends one entry per message);
    # the ledger gives its times back in UTC, and so does this view.
    entry = TimelineEntry(seq=1, at=verdict.handled_at.astimezone(UTC), occurred_at=envelope.occurred_at.astimezone(UTC),
                          type=envelope.type, source=envelope.source.value, trigger="message",
                          message_id=str(envelope.message_id))  # fmt: skip
    return case_view(case, [entry], now, personal=follows(caller, case))


@router.post(
    "/v1/cases",
    operation_id="registerCase",
    summary="Register a case at an intake window",
    description=(
        "The hub assigns `case_id` = `<department>-<yyyy>-<seq>` and routes the case by duty. "
        "With an `Idempotency-Key`, a repeat answers 200 with the case the key registered."
    ),
    status_code=201,
    response_model=CaseView,
    responses={
        200: {"model": CaseView, "description": "The case this Idempotency-Key registered before."},
        **problem_responses(400, 401, 403, 409, 413, 422, 503),
    },
    openapi_extra=json_body(RegistrationIn),
)
async def register_case(
    request: Request, department: CurrentDepartment, runtime: RuntimeDep,
    numbers: CaseNumbersDep, commit: GroupCommitDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200,
                                                  description="Repeats with the same key register once.")] = None,
) -> Response:  # fmt: skip
    """Register a case for the token's department and answer with it."""
    body = await read_body(request, runtime.service.max_body_bytes)
    registered = await register(runtime, commit.submit_async, numbers, department, body, idempotency_key)
    view = registered_view(registered.verdict, department, runtime.clock()) if registered.verdict else None
    if view is None:
        view = await run_in_threadpool(_load_view, runtime, department, registered.case_id)
    if view is None:  # the registering department is the intake: it always follows its case
        raise not_found("the case is not visible to the department that registered it")
    headers = {"Location": f"/v1/cases/{registered.case_id}"}
    if not registered.created:
        headers["Idempotent-Replayed"] = "true"
    # The view is already a validated CaseView: answer its JSON as is (returning the model would
    # have FastAPI validate it a second time against the response model, the costliest step left).
    return Response(view.model_dump_json(), status_code=201 if registered.created else 200,
                    headers=headers, media_type="application/json")  # fmt: skip


@router.get(
    "/v1/cases/{case_id}",
    operation_id="getCase",
    summary="A case with its owners, deadlines and timeline",
    response_model=CaseView,
    responses=problem_responses(401, 404, 422, 503),
)
def get_case(case_id: CaseIdPath, department: CurrentDepartment, runtime: RuntimeDep) -> CaseView:
    """The case, if the token's department may see it; 404 otherwise, as for an unknown case."""
    view = _load_view(runtime, department, case_id)
    if view is None:
        raise not_found("no case with this id")
    return view


@router.get(
    "/v1/cases",
    operation_id="listCases",
    summary="The ledger, filtered and paginated",
    response_model=CasePage,
    responses=problem_responses(401, 422, 503),
)
def list_cases(
    department: CurrentDepartment,
    runtime: RuntimeDep,
    status: StatusQuery = None,
    follower: Annotated[Department | None, Query(
        alias="department", description="Cases this department follows.")] = None,
    tier: Tier | None = None,
    overdue: Annotated[bool | None, Query(description="Whether an SLA deadline has passed.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64, description="The last case_id of the previous page.")] = None,
) -> CasePage:  # fmt: skip
    """Cases the token's department may see, by case id, ``limit`` at a time."""
    query = LedgerQuery(status=status, department=follower, tier=tier, overdue=overdue, limit=limit, after=after)
    now = runtime.clock()
    with ledger(), runtime.store.transaction() as tx:

        def fetch(filters: Mapping[str, Any], cursor: str | None, count: int) -> Sequence[Case]:
            return tx.list_cases(**filters, after=cursor, limit=count)

        cases, next_after = ledger_page(fetch, department, query, now, chunk=max(200, limit + 1))
    return CasePage(items=[case_summary(case, now) for case in cases],
                    next=_next_url(query, next_after) if next_after is not None else None)  # fmt: skip


def _next_url(query: LedgerQuery, after: str) -> str:
    params = {
        "status": query.status, "department": query.department.value if query.department else None,
        "tier": query.tier.value if query.tier else None,
        "overdue": str(query.overdue).lower() if query.overdue is not None else None,
        "limit": str(query.limit), "after": after,
    }  # fmt: skip
    return "/v1/cases?" + urlencode({k: v for k, v in params.items() if v is not None})
