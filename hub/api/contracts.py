"""The contracts over HTTP: the catalogue, one JSON Schema per type, the AsyncAPI document.

The documents are those ``sihub contracts export`` writes (:mod:`contracts.export`),
with the county's validation settings (its jurisdiction pattern, its credit-code
exceptions). Each is rendered once per process and served from memory.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from contracts.export import asyncapi, dumps, json_schema
from contracts.registry import default_registry
from contracts.values import ValidationSettings
from hub.api.deps import CurrentDepartment, RuntimeDep
from hub.api.problems import not_found, problem_responses
from hub.api.views import ContractList, ContractSummary

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

_JSON_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {"description": "The document.", "content": {"application/json": {"schema": {"type": "object"}}}},
}


@cache
def _asyncapi(settings: ValidationSettings) -> bytes:
    return dumps(asyncapi(default_registry(), settings)).encode()


@cache
def _schema(type_: str, settings: ValidationSettings) -> bytes:
    return dumps(json_schema(default_registry().latest(type_), settings)).encode()


@router.get("", operation_id="listContracts", summary="The message catalogue", response_model=ContractList,
            responses=problem_responses(401))  # fmt: skip
def list_contracts(department: CurrentDepartment) -> ContractList:
    """Every message type, its versions, and where its schema is."""
    registry = default_registry()
    return ContractList(
        contracts=[
            ContractSummary(
                type=type_, versions=[cv.version for cv in registry.versions(type_)],
                latest=registry.latest(type_).version, description=registry.latest(type_).description,
                schema_url=f"/v1/contracts/{type_}",
            )  # fmt: skip
            for type_ in registry.types()
        ],
        asyncapi_url="/v1/contracts/asyncapi",
    )


@router.get("/asyncapi", operation_id="getAsyncApi", summary="The AsyncAPI 3.0 document of the wire protocol",
            response_class=Response, responses={**_JSON_DOCUMENT, **problem_responses(401)})  # fmt: skip
def get_asyncapi(department: CurrentDepartment, runtime: RuntimeDep) -> Response:
    """Every channel, operation and message of DESIGN §4."""
    return Response(_asyncapi(runtime.service.validation), media_type="application/json")


@router.get("/{type}", operation_id="getContractSchema", summary="The JSON Schema of a message type",
            response_class=Response, responses={**_JSON_DOCUMENT, **problem_responses(401, 404, 422)})  # fmt: skip
def get_contract(
    type_: Annotated[str, Path(alias="type", max_length=100, examples=["case.registered"])],
    department: CurrentDepartment,
    runtime: RuntimeDep,
) -> Response:
    """The whole-envelope JSON Schema (draft 2020-12) of the newest version of ``type``."""
    if not default_registry().knows(type_):
        raise not_found("no message type of this name; GET /v1/contracts lists them")
    return Response(_schema(type_, runtime.service.validation), media_type="application/json")
