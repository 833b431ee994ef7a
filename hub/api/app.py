"""The FastAPI application of ``sihub serve`` (DESIGN §6)."""

from __future__ import annotations

from fastapi import FastAPI

from hub.api.ops import ops_router
from hub.runtime import HubRuntime


def create_app(runtime: HubRuntime) -> FastAPI:
    """The HTTP surface over a running hub."""
    app = FastAPI(
        title="sihub",
        version="1",
        summary="County hub for social-insurance fee disputes: ledger, routing, SLAs.",
    )
    app.include_router(ops_router(runtime.registry, runtime.ready))
    return app
