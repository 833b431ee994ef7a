"""Operational endpoints: ``/metrics``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def ops_router(registry: CollectorRegistry, ready: Callable[[], bool]) -> APIRouter:
    """Routes for Prometheus and the orchestrator's probes."""
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    def metrics() -> Response:
        # An explicit route: mounting make_asgi_app() would redirect /metrics to /metrics/.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz", summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: connected to the broker and the database",
        responses={503: {"description": "not ready"}},
    )
    def readyz(response: Response) -> dict[str, str]:
        if ready():
            return {"status": "ready"}
        response.status_code = 503
        return {"status": "not ready"}

    return router
