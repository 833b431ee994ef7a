"""Registering a case at an intake window (``POST /v1/cases``): the hub assigns the case id.

The request body is ``{"type": "case.registered" | "petition.registered", "payload": {...}}``.
The hub numbers the case ``<department>-<yyyy>-<seq:06d>`` (the year in the
county's time zone, the sequence from the ledger), wraps the payload in an
envelope from the token's department and runs it through the same service as
every other message, so the contracts and the domain rules decide as they would
over AMQP.

Case numbers are reserved from the ledger (``Tx.next_case_sequence``) a block at a
time, as a database sequence with a cache does: concurrent registrations then do
not queue on the ledger's counter row, numbers stay unique across hub processes,
and a restart leaves a gap of at most one block (as a refused registration leaves
a gap of one). Within one process numbers follow the order of registration.

Idempotency: with an ``Idempotency-Key``, the envelope's ``message_id`` is
``uuid5(department, key)``. The processed-message record of that id names the
case it registered, so a repeat answers with that case and registers nothing,
even when the first request's answer was lost. Without a key every request
registers a new case.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from contracts.codes import Department, RejectReason
from contracts.registry import default_registry
from hub.api.ingress import ledger, refused_or
from hub.api.problems import refusal
from hub.domain.durations import COUNTY_TZ
from hub.ids import uuid7
from hub.runtime import HubRuntime
from hub.service import Inbound, Verdict
from hub.store.errors import translated
from hub.store.schema import processed_messages
from hub.store.store import Store

#: Types ``POST /v1/cases`` registers.
REGISTRATION_TYPES: Final = ("case.registered", "petition.registered")
#: Namespace of message ids derived from idempotency keys.
IDEMPOTENCY_NAMESPACE: Final = uuid.UUID("5b0f3d8e-2f4c-5a49-9c1e-7d3a2b6c8e10")
#: Case numbers reserved per trip to the ledger.
CASE_NUMBER_BLOCK: Final = 20


class CaseNumbers:
    """Case numbers per (department, year), reserved from the ledger ``block`` at a time."""

    def __init__(self, store: Store, block: int = CASE_NUMBER_BLOCK) -> None:
        self._store = store
        self._block = block
        self._lock = threading.Lock()
        self._reserved: dict[tuple[str, int], tuple[int, int]] = {}  # next to hand out, last reserved

    def take_reserved(self, department: str, year: int) -> int | None:
        """The next case number if one is reserved and nobody is reserving: never waits.

        ``None`` when :meth:`take` would go to the ledger (or is going there for another
        caller): call :meth:`take` from a thread then.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._next_reserved((department, year))
        finally:
            self._lock.release()

    def take(self, department: str, year: int) -> int:
        """The next case number of ``department`` in ``year``.

        Raises:
            ProblemError: 503 when the ledger is unavailable.
        """
        with self._lock:
            number = self._next_reserved((department, year))
            if number is None:
                # One statement reserves the whole block: it is contiguous and nobody else's.
                with ledger(), self._store.transaction() as tx:
                    last = tx.next_case_sequence(department, year, count=self._block)
                self._reserved[(department, year)] = (last - self._block + 2, last)
                number = last - self._block + 1
            return number

    def _next_reserved(self, key: tuple[str, int]) -> int | None:
        """Hand out the next reserved number of ``key`` (the lock held), or ``None`` when none is left."""
        following, last = self._reserved.get(key, (1, 0))
        if following > last:
            return None
        self._reserved[key] = (following + 1, last)
        return following


@dataclass(frozen=True)
class Registered:
    """The case a registration request names; ``created``: registered by this request.

    ``verdict``: what applying the registration gave, when this request applied it.
    """

    case_id: str
    created: bool
    verdict: Verdict | None = None


def message_id_for(department: Department, key: str | None) -> uuid.UUID:
    """The envelope's message id: derived from the idempotency key, or a fresh UUIDv7."""
    if key is None:
        return uuid7()
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{department.value}\n{key}")


def read_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """The type and payload of a registration request.

    Raises:
        ProblemError: ``malformed_json`` (400) or ``schema_violation`` (422) naming the field.
    """
    try:
        document = json.loads(body)
    except ValueError:
        raise refusal(RejectReason.MALFORMED_JSON, "body is not valid JSON") from None
    if not isinstance(document, dict):
        raise refusal(RejectReason.SCHEMA_VIOLATION, "(request): must be an object {type, payload}")
    extra = sorted(set(document) - {"type", "payload"})
    if extra:
        raise refusal(RejectReason.SCHEMA_VIOLATION, f"{extra[0][:64]}: not a field of a registration")
    type_, payload = document.get("type"), document.get("payload")
    if type_ not in REGISTRATION_TYPES:
        raise refusal(RejectReason.SCHEMA_VIOLATION, "type: must be case.registered or petition.registered")
    if not isinstance(payload, dict):
        raise refusal(RejectReason.SCHEMA_VIOLATION, "payload: an object is required")
    return type_, payload


def envelope_body(type_: str, payload: dict[str, Any], *, department: Department, case_id: str,
                  message_id: uuid.UUID, now: datetime) -> bytes:  # fmt: skip
    """The envelope the department would have sent itself, as wire bytes."""
    envelope = {
        "message_id": str(message_id), "type": type_,
        "schema_version": default_registry().latest(type_).version, "source": department.value,
        "target": None, "case_id": case_id, "correlation_id": str(message_id), "causation_id": None,
        "occurred_at": now.isoformat(), "payload": payload,
    }  # fmt: skip
    return json.dumps(envelope, ensure_ascii=False).encode()


def registered_case(runtime: HubRuntime, message_id: uuid.UUID) -> str | None:
    """The case that message ``message_id`` registered, if it was processed."""
    query = select(processed_messages.c.case_id).where(processed_messages.c.message_id == str(message_id))
    with ledger(), translated(), runtime.store.engine.connect() as connection:
        return connection.scalar(query)


async def register(runtime: HubRuntime, apply_one: Callable[[Inbound], Awaitable[Verdict]],
                   numbers: CaseNumbers, department: Department, body: bytes, key: str | None) -> Registered:  # fmt: skip
    """Register the case ``body`` describes, or find the one ``key`` registered before.

    Runs on the event loop; what may wait on the ledger (the idempotency lookup, reserving
    a block of case numbers) runs in a worker thread. ``apply_one`` applies the envelope
    (the app's group commit).

    Raises:
        ProblemError: the request or the registration is refused (reason code and status),
            or the ledger is unavailable (503).
    """
    type_, payload = read_request(body)
    message_id = message_id_for(department, key)
    if key is not None:
        earlier = await run_in_threadpool(registered_case, runtime, message_id)
        if earlier is not None:
            return Registered(earlier, created=False)
    now = runtime.clock()
    year = now.astimezone(COUNTY_TZ).year
    # A refused registration leaves a gap, never a reuse.
    sequence = numbers.take_reserved(department.value, year)
    if sequence is None:
        sequence = await run_in_threadpool(numbers.take, department.value, year)
    case_id = f"{department.value}-{year}-{sequence:06d}"
    wire = envelope_body(type_, payload, department=department, case_id=case_id,
                         message_id=message_id, now=now)  # fmt: skip
    verdict = refused_or(await apply_one(Inbound(body=wire, sender=department.value, transport="http")))
    if verdict.outcome == "duplicate":  # the same key, registered concurrently
        earlier = await run_in_threadpool(registered_case, runtime, message_id)
        if earlier is not None:
            return Registered(earlier, created=False)
    return Registered(case_id, created=True, verdict=verdict)
