"""The FastAPI application of ``sihub serve`` (DESIGN §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api import cases, contracts, messages, payments
from hub.api.auth import TokenSource, reload_on_sighup
from hub.api.batcher import GroupCommit
from hub.api.openapi import install_openapi
from hub.api.ops import ops_router
from hub.api.problems import install_problem_handlers
from hub.api.registration import CaseNumbers
from hub.runtime import HubRuntime

DESCRIPTION = """\
The HTTP surface of the county hub for social-insurance fee disputes.

Every `/v1` call carries `Authorization: Bearer <token>`; a token belongs to one
department and acts, and sees, as that department. Errors are RFC 9457 problem
details; a refused message carries the reason code of record in `reject_reason`.
`/metrics`, `/healthz` and `/readyz` need no token.
"""

TAGS = [
    {"name": "messages", "description": "HTTP ingress: the same gate as `sihub.in`."},
    {"name": "cases", "description": "The case ledger (工作台账)."},
    {"name": "payments", "description": "Payment details from the tax bureau (征缴明细传递)."},
    {
        "name": "contracts",
        "description": "JSON Schemas and the AsyncAPI document of the wire protocol.",
    },
    {"name": "operations", "description": "Prometheus metrics and probes; no token needed."},
]


def create_app(runtime: HubRuntime, tokens: TokenSource | None = None) -> FastAPI:
    """The HTTP surface over a hub runtime.

    ``tokens`` defaults to the runtime settings' ``SIHUB_TOKENS`` file.

    Raises:
        TokenFileError: the tokens file is unusable (the server must not start with it).
    """
    group_commit = GroupCommit.over(runtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        group_commit.start()
        try:
            yield
        finally:  # the requests in hand are applied before the runtime closes the store
            group_commit.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="sihub",
        version="1",
        summary="County hub for social-insurance fee disputes: ledger, routing, SLAs.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    app.state.runtime = runtime
    app.state.tokens = tokens if tokens is not None else TokenSource(runtime.settings.tokens)
    reload_on_sighup(app.state.tokens)
    app.state.case_numbers = CaseNumbers(runtime.store)
    app.state.group_commit = group_commit
    install_problem_handlers(app)
    app.include_router(messages.router)
    app.include_router(cases.router)
    app.include_router(payments.router)
    app.include_router(contracts.router)
    app.include_router(ops_router(runtime.registry, runtime.ready))
    install_openapi(
        app,
        [messages.EnvelopeIn, cases.RegistrationIn],
        examples={
            "postMessage": {"hrss signs for a case": messages.EXAMPLE_ENVELOPE},
            "registerCase": {"a dispute at the tax window": cases.EXAMPLE_REGISTRATION},
        },
    )
    return app
