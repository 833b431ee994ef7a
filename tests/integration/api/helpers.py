"""Request bodies for the API tests, made from the shared examples."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.contract.support import example


def registration(**payload_changes: Any) -> dict[str, Any]:
    """A ``POST /v1/cases`` body: the shared example's registration with ``payload_changes``."""
    payload = example("case.registered.json")["payload"]
    payload.update(payload_changes)
    return {"type": "case.registered", "payload": payload}


def envelope(name: str, case_id: str, **changes: Any) -> bytes:
    """The shared example ``name`` for ``case_id`` with a fresh message id, as wire bytes."""
    message = example(f"{name}.json")
    message.update(message_id=str(uuid.uuid4()), case_id=case_id, **changes)
    return json.dumps(message, ensure_ascii=False).encode()
