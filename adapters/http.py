"""The adapter's HTTP endpoint for the department system (FastAPI; OpenAPI at ``/docs``).

* ``POST /outbound`` — an outbound request (``type``, ``payload``, ``case_id``, ...)
  or a full envelope; validated with ``contracts.parse`` before publishing:
  ``202`` with the message id, or ``422 {"reject_reason", "detail"}``;
* ``POST /cases/{case_id}/sign|transfer|object|report|joint`` — the case helpers;
* the department's own routes (receipts, arrears, enforcement, petitions);
* ``GET /healthz``.

Errors map to statuses: invalid → 422, not allowed yet → 409, refused by the
broker → 403, broker unreachable → 503 (nothing was published; send again).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from adapters.department import DepartmentAdapter
from adapters.errors import NotAllowedYet, OutboundInvalid, SendFailed, SendRefused
from adapters.outbound import describe
from contracts.codes import Department, Outcome, RejectReason
from contracts.parse import field_path


class SignRequest(BaseModel):
    """Sign for a case (签收)."""

    handler: str
    note: str | None = None


class TransferRequest(BaseModel):
    """Transfer a case, or object to it (returning it to ``to``)."""

    to: Department
    reason: str


class ReportRequest(BaseModel):
    """Report the handling result."""

    outcome: Outcome
    result: str
    handled_at: datetime | None = None


class JointRequest(BaseModel):
    """Ask for joint handling."""

    lead: Department
    participants: list[Department] = Field(min_length=1)
    reason: str


def _problem(status: int, reason: str, detail: str) -> JSONResponse:
    return JSONResponse({"reject_reason": reason, "detail": detail}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(OutboundInvalid)
    def invalid(_: Request, error: OutboundInvalid) -> JSONResponse:
        return _problem(422, error.reason.value, error.detail)

    @app.exception_handler(ValidationError)
    def contract(_: Request, error: ValidationError) -> JSONResponse:
        first = error.errors(include_url=False, include_input=False)[0]
        detail = f"{field_path(tuple(first['loc']))}: {first['msg']}"
        return _problem(422, RejectReason.SCHEMA_VIOLATION.value, detail)

    @app.exception_handler(NotAllowedYet)
    def not_yet(_: Request, error: NotAllowedYet) -> JSONResponse:
        return _problem(409, RejectReason.PRECONDITION_FAILED.value, str(error))

    @app.exception_handler(SendRefused)
    def refused(_: Request, error: SendRefused) -> JSONResponse:
        return _problem(403, RejectReason.NOT_PERMITTED.value, str(error))

    @app.exception_handler(SendFailed)
    def unavailable(_: Request, error: SendFailed) -> JSONResponse:
        return _problem(503, "broker_unavailable", str(error))


def create_app(adapter: DepartmentAdapter) -> FastAPI:
    """The HTTP app of one adapter: common routes plus the department's own."""
    code = adapter.code.value
    app = FastAPI(title=f"sihub {code} adapter", version="1")
    _install_errors(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"department": code, "status": "ok"}

    @app.post("/outbound", status_code=202)
    def outbound(data: Annotated[dict[str, Any], Body()]) -> dict[str, str]:
        return describe(adapter.submit(data))

    @app.post("/cases/{case_id}/sign", status_code=202)
    def sign(case_id: str, body: SignRequest) -> dict[str, str]:
        return describe(adapter.sign_for(case_id, body.handler, body.note))

    @app.post("/cases/{case_id}/transfer", status_code=202)
    def transfer(case_id: str, body: TransferRequest) -> dict[str, str]:
        return describe(adapter.transfer(case_id, body.to, body.reason))

    @app.post("/cases/{case_id}/object", status_code=202)
    def object_(case_id: str, body: TransferRequest) -> dict[str, str]:
        return describe(adapter.object(case_id, body.to, body.reason))

    @app.post("/cases/{case_id}/report", status_code=202)
    def report(case_id: str, body: ReportRequest) -> dict[str, str]:
        return describe(adapter.report(case_id, body.outcome, body.result, body.handled_at))

    @app.post("/cases/{case_id}/joint", status_code=202)
    def joint(case_id: str, body: JointRequest) -> dict[str, str]:
        return describe(adapter.request_joint(case_id, body.lead, body.participants, body.reason))

    for router in adapter.routers():
        app.include_router(router)
    return app


class HttpServer:
    """uvicorn in a thread, stopped by :meth:`stop` (the runtime owns the main thread).

    The socket is bound at construction, so port ``0`` picks a free port (see ``port``)
    and a port in use fails at once rather than in the server thread.
    """

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._socket = socket.create_server((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="sihub-adapter-http", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8081``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_seconds: float = 10.0) -> None:
        """Start serving; return once the server accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the adapter's HTTP server did not start on {self.url}")
            time.sleep(0.01)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Finish requests in flight and stop."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_seconds)
        self._socket.close()
