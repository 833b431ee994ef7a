"""Errors as RFC 9457 problem details (``application/problem+json``), and the status of each.

A refused message answers with the reason code of record in ``reject_reason`` (the
same code that goes into ``x-sihub-reject-reason`` over AMQP) and a problem
``type`` of ``https://sihub.example/problems/<reason>``. Problems that are not
about a message (no token, no such case, a bad query parameter) carry no
``reject_reason`` and a type of their own from :data:`PROBLEM_TYPE_BASE`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.codes import RejectReason
from contracts.parse import field_path

log = logging.getLogger("sihub.api")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_BASE: Final = "https://sihub.example/problems/"

#: HTTP status of each reason code of record (docs/api.md explains the choices).
REASON_STATUS: Final[Mapping[RejectReason, int]] = {
    RejectReason.MALFORMED_JSON: 400,
    RejectReason.SCHEMA_VIOLATION: 422,
    RejectReason.UNKNOWN_TYPE: 422,
    RejectReason.UNSUPPORTED_VERSION: 422,
    RejectReason.INVALID_ID_NUMBER: 422,
    RejectReason.INVALID_USCC: 422,
    RejectReason.OVERSIZED: 413,
    # The token authenticated the caller, but the message does not match it: forbidden.
    RejectReason.MISSING_USER_ID: 403,
    RejectReason.SOURCE_MISMATCH: 403,
    RejectReason.BAD_SIGNATURE: 403,
    RejectReason.NOT_PERMITTED: 403,
    # The case is not (or no longer) in a state that allows this: a conflict with its state.
    RejectReason.PRECONDITION_FAILED: 409,
}

_REASON_TITLES: Final[Mapping[RejectReason, str]] = {
    RejectReason.MALFORMED_JSON: "The body is not valid JSON",
    RejectReason.SCHEMA_VIOLATION: "The message breaks its contract",
    RejectReason.UNKNOWN_TYPE: "Unknown message type",
    RejectReason.UNSUPPORTED_VERSION: "Unsupported schema version",
    RejectReason.INVALID_ID_NUMBER: "Invalid resident ID number",
    RejectReason.INVALID_USCC: "Invalid unified social credit code",
    RejectReason.OVERSIZED: "The body is too large",
    RejectReason.MISSING_USER_ID: "The sender is not identified",
    RejectReason.SOURCE_MISMATCH: "The message claims another department as its source",
    RejectReason.BAD_SIGNATURE: "The signature does not verify",
    RejectReason.NOT_PERMITTED: "The sender may not do this",
    RejectReason.PRECONDITION_FAILED: "The case does not allow this now",
}


class Problem(BaseModel):
    """An RFC 9457 problem detail; ``reject_reason`` is set when a message was refused."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{
                "type": "https://sihub.example/problems/invalid_id_number",
                "title": "Invalid resident ID number",
                "status": 422,
                "detail": "payload.party.id_number: check digit should be 0",
                "reject_reason": "invalid_id_number",
            }]
        }
    )  # fmt: skip

    type: str = Field(description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str | None = Field(None, description="What went wrong, naming the field.")
    reject_reason: RejectReason | None = Field(
        None, description="The reason code of record, when a message was refused."
    )


class ProblemError(Exception):
    """Raised by a route to answer with a problem; see :func:`refusal` for message refusals."""

    def __init__(
        self, status: int, kind: str, title: str, detail: str | None = None, *,
        reason: RejectReason | None = None, headers: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(f"{status} {kind}: {detail}")
        self.problem = Problem(
            type=PROBLEM_TYPE_BASE + kind, title=title, status=status, detail=detail,
            reject_reason=reason,
        )  # fmt: skip
        self.headers = dict(headers or {})


def refusal(reason: RejectReason, detail: str | None) -> ProblemError:
    """The problem answering a message refused with ``reason``."""
    return ProblemError(REASON_STATUS[reason], reason.value, _REASON_TITLES[reason], detail, reason=reason)


def unauthorized(detail: str) -> ProblemError:
    """401 with the challenge RFC 6750 asks for."""
    return ProblemError(401, "unauthorized", "A valid bearer token is required", detail,
                        headers={"WWW-Authenticate": 'Bearer realm="sihub"'})  # fmt: skip


def not_found(detail: str) -> ProblemError:
    """404: no such resource, or none the caller may see (the two are not told apart)."""
    return ProblemError(404, "not_found", "Not found", detail)


def forbidden(detail: str) -> ProblemError:
    """403 for a call the caller's department may not make at all."""
    return ProblemError(403, "forbidden", "This department may not call this", detail)


def unavailable(detail: str) -> ProblemError:
    """503: the ledger cannot be reached; the caller should retry the same request."""
    return ProblemError(503, "unavailable", "The hub cannot take this now", detail,
                        headers={"Retry-After": "2"})  # fmt: skip


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON response of ``problem``."""
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=problem.status,
                        media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))  # fmt: skip


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting ``statuses`` as problem details."""
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, including FastAPI's own 404, 405 and 422, as a problem."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return problem_response(error.problem, error.headers)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        status = HTTPStatus(error.status_code)
        kind = status.phrase.lower().replace(" ", "_").replace("-", "_")
        headers = dict(error.headers or {})
        return problem_response(Problem(type=PROBLEM_TYPE_BASE + kind, title=status.phrase,
                                        status=status.value, detail=str(error.detail)), headers)  # fmt: skip

    async def on_invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problem_response(Problem(type=PROBLEM_TYPE_BASE + "invalid_request",
                                        title="The request is not valid", status=422,
                                        detail=validation_detail(error.errors())))  # fmt: skip

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)


def validation_detail(errors: Sequence[Any]) -> str:
    """``query.limit: Input should be less than or equal to 500; ...`` (never the input)."""
    parts = []
    for error in list(errors)[:5]:
        loc = [str(part) if not isinstance(part, int) else part for part in error.get("loc", ())]
        parts.append(f"{field_path(loc)}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def problem_media_types(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every error response under ``application/problem+json``.

    FastAPI documents additional responses under the route's media type and adds its
    own ``HTTPValidationError`` for 422; the API answers every error as a
    :class:`Problem`, so the document says exactly that.
    """
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    ours = ({"$ref": "#/components/schemas/Problem"}, {"$ref": "#/components/schemas/HTTPValidationError"})
    for operation in _operations(document):
        for response in operation.get("responses", {}).values():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema in ours:
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
    schemas = document.get("components", {}).get("schemas", {})
    for generated in ("HTTPValidationError", "ValidationError"):
        schemas.pop(generated, None)
    return document


def _operations(document: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield operation
