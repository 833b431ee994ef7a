"""Build an envelope in code (what the hub and adapters emit)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.codes import Department
from contracts.envelope import AnyEnvelope
from contracts.messages.base import Contract
from contracts.registry import Registry, default_registry


def build(
    type_: str,
    payload: Contract,
    *,
    source: Department,
    message_id: UUID,
    occurred_at: datetime,
    case_id: str | None = None,
    target: Department | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    registry: Registry | None = None,
) -> AnyEnvelope:
    """A validated envelope of the newest version of ``type_`` around ``payload``.

    Raises:
        pydantic.ValidationError: the payload is not of the type's contract, or a rule fails.
    """
    version = (registry or default_registry()).latest(type_)
    envelope_model: type[AnyEnvelope] = version.envelope
    return envelope_model(
        message_id=message_id,
        type=type_,
        schema_version=version.version,
        source=source,
        target=target,
        case_id=case_id,
        correlation_id=correlation_id or message_id,
        causation_id=causation_id,
        occurred_at=occurred_at,
        payload=payload,
    )
