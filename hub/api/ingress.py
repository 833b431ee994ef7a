"""The one way the API hands messages to the hub: the service the AMQP gate uses.

HTTP ingress must have the same effect as publishing to ``sihub.in``: the same
parse, authentication, dedup and transaction (:meth:`HubService.process`), the
same metrics (:class:`~hub.observe.Observer`), and the relay woken after a commit
so that what the message caused leaves at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final

from starlette.requests import Request
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from contracts.codes import Department, RejectReason
from hub.api.problems import refusal, unavailable
from hub.runtime import HubRuntime
from hub.service import Inbound, Verdict
from hub.store.errors import Conflict, Unavailable

log = logging.getLogger("sihub.api.ingress")

#: A case changed under the request (a concurrent message for it): re-apply at once, a few times.
CONFLICT_ATTEMPTS: Final = 5
#: HTTP headers carried into the service as the AMQP headers of the same name (DESIGN §4).
SIGNATURE_HEADERS: Final = ("x-sihub-signature", "x-sihub-key-id")


async def read_body(request: Request, limit_bytes: int) -> bytes:
    """The request body, read as it streams in and refused as ``oversized`` past ``limit_bytes``.

    Raises:
        ProblemError: 413 ``oversized`` (before reading, when Content-Length says so).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise refusal(RejectReason.OVERSIZED, f"body is {declared} bytes; the limit is {limit_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise refusal(RejectReason.OVERSIZED, f"body exceeds the limit of {limit_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def inbound(body: bytes, department: Department, headers: Mapping[str, str]) -> Inbound:
    """An HTTP message as the service takes it: sent by the token's department, no routing key."""
    carried = {name: headers[name] for name in SIGNATURE_HEADERS if name in headers}
    return Inbound(body=body, sender=department.value, routing_key=None, headers=carried,
                   transport="http")  # fmt: skip


@contextmanager
def ledger() -> Iterator[None]:
    """Around reads and writes of the ledger outside the service: unavailable → 503.

    Raises:
        ProblemError: 503 when the database is unavailable.
    """
    try:
        yield
    except Unavailable as error:
        log.warning("database unavailable: %s", error)
        raise unavailable("the case ledger is unavailable; retry the same request") from None


def submit(runtime: HubRuntime, batch: Sequence[Inbound]) -> list[Verdict]:
    """Process ``batch`` in one transaction; verdicts in order.

    Raises:
        ProblemError: 503 when the database is unavailable (the caller retries the request;
            message ids make that safe).
    """
    try:
        for attempt in Retrying(retry=retry_if_exception_type(Conflict),
                                stop=stop_after_attempt(CONFLICT_ATTEMPTS), reraise=True):  # fmt: skip
            with attempt:
                verdicts = runtime.service.process(batch)
    except Unavailable as error:
        log.warning("database unavailable; %d HTTP message(s) refused for now: %s", len(batch), error)
        raise unavailable("the case ledger is unavailable; retry the same request") from None
    runtime.observer.verdicts(verdicts)
    if any(verdict.outcome == "applied" for verdict in verdicts):
        runtime.wake_relay()
    return verdicts


def refused_or(verdict: Verdict) -> Verdict:
    """``verdict``, unless it is a refusal: then its problem is raised.

    Raises:
        ProblemError: the refusal (reason code and status of :mod:`hub.api.problems`).
    """
    if verdict.outcome == "rejected" and verdict.reason is not None:
        raise refusal(verdict.reason, verdict.detail)
    return verdict
