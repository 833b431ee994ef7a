"""Helpers of the HTTP API unit tests: tokens, and envelopes made from the shared examples."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from contracts.codes import Department
from hub.domain.durations import COUNTY_TZ
from tests.contract.support import example

#: One token per calling department (every code but ``hub``).
TOKENS: dict[Department, str] = {d: f"{d.value}-unit-token-0123" for d in Department if d is not Department.HUB}
#: Monday morning in Wuhe: the clock the tests start from.
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=COUNTY_TZ)


def auth(department: Department | str) -> dict[str, str]:
    """The Authorization header of ``department``'s token."""
    return {"Authorization": f"Bearer {TOKENS[Department(department)]}"}


def registration(**payload_changes: Any) -> dict[str, Any]:
    """A ``POST /v1/cases`` body: the shared example's registration, with ``payload_changes``."""
    payload = example("case.registered.json")["payload"]
    payload.update(payload_changes)
    return {"type": "case.registered", "payload": payload}


def envelope(name: str, *, case_id: str | None = None, source: Department | str | None = None,
             **changes: Any) -> dict[str, Any]:  # fmt: skip
    """The shared example ``name`` (``case.accepted``) with a fresh message id and ``changes``."""
    message = example(f"{name}.json")
    message["message_id"] = str(uuid.uuid4())
    message["correlation_id"] = message["message_id"]
    if case_id is not None:
        message["case_id"] = case_id
    if source is not None:
        message["source"] = Department(source).value
    message.update(changes)
    return message


def body(message: object) -> bytes:
    """Wire bytes of ``message``."""
    return json.dumps(message, ensure_ascii=False).encode()
