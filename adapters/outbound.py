"""Composing outbound envelopes: fill in what the adapter knows, then validate as the hub will.

Outbound work arrives as a request (``type``, ``payload``, optional ``case_id``,
``target``, ``correlation_id``, ``causation_id``) or as a full envelope; either is a
JSON object. The adapter fills ``message_id`` (a UUIDv7), ``source`` (its own code),
``occurred_at`` (now, county time), ``schema_version`` (the newest) and
``correlation_id`` (the message's own id) where missing, then runs
:func:`contracts.parse` on the bytes it will publish, so a message the hub would
quarantine is refused at the door with the same reason code and field detail.

A payload that is already a contract instance, validated field by field where it
was made (the tax adapter's payment-detail parts, built from records its export
reader validated row by row), need not go through JSON and back:
:func:`compose_contract` builds the envelope around it with
:func:`contracts.build` (nested instances are not validated again) and serialises
it once. Work that arrives as JSON (HTTP, outbox files) always takes
:func:`compose`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError

from adapters.errors import OutboundInvalid
from contracts import MAX_BODY_BYTES, AnyEnvelope, Rejected, ValidationSettings, build, parse
from contracts.codes import Department, RejectReason
from contracts.messages.base import Contract
from contracts.registry import default_registry
from hub.ids import uuid7

_DEFAULT_SETTINGS = ValidationSettings()


def request(
    type_: str,
    payload: Contract | Mapping[str, Any],
    *,
    case_id: str | None = None,
    target: Department | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    message_id: UUID | None = None,
) -> dict[str, Any]:
    """The JSON object of an outbound request (what ``POST /outbound`` and outbox files hold)."""
    body = payload.model_dump(mode="json") if isinstance(payload, Contract) else dict(payload)
    data: dict[str, Any] = {"type": type_, "payload": body, "case_id": case_id}
    for key, value in (
        ("target", target),
        ("correlation_id", correlation_id),
        ("causation_id", causation_id),
        ("message_id", message_id),
    ):
        if value is not None:
            data[key] = str(value)
    return data


def compose(
    source: Department,
    data: Mapping[str, Any],
    *,
    now: datetime,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    max_bytes: int = MAX_BODY_BYTES,
) -> tuple[AnyEnvelope, bytes]:
    """The validated envelope of ``data`` from ``source`` and the exact bytes to publish.

    Raises:
        OutboundInvalid: with the reason code the hub would quarantine it with.
    """
    if not isinstance(data, Mapping):
        raise OutboundInvalid(RejectReason.SCHEMA_VIOLATION, "(message): a JSON object is required")
    claimed = data.get("source")
    if claimed is not None and claimed != source.value:
        raise OutboundInvalid(
            RejectReason.SOURCE_MISMATCH,
            f"source: this adapter speaks for {source.value}, not {claimed}",
        )
    filled = dict(data)
    message_id = filled.get("message_id") or str(uuid7())
    filled["message_id"] = message_id
    filled["source"] = source.value
    filled.setdefault("occurred_at", now.isoformat())
    filled.setdefault("correlation_id", message_id)
    type_ = filled.get("type")
    registry = default_registry()
    if "schema_version" not in filled and isinstance(type_, str) and registry.knows(type_):
        filled["schema_version"] = registry.latest(type_).version
    try:
        draft = json.dumps(filled, ensure_ascii=False, separators=(",", ":")).encode()
        envelope = parse(draft, settings=settings, max_bytes=max_bytes)
    except Rejected as rejected:
        raise OutboundInvalid(rejected.reason, rejected.detail) from None
    except (TypeError, ValueError) as error:  # not JSON-able: a Python caller's mistake
        raise OutboundInvalid(RejectReason.MALFORMED_JSON, str(error)) from None
    body = envelope.to_json()
    if len(body) > max_bytes:  # canonical money and times can only lengthen a body a little
        raise OutboundInvalid(
            RejectReason.OVERSIZED, f"body is {len(body)} bytes; the limit is {max_bytes}"
        )
    return envelope, body


def compose_contract(
    source: Department,
    type_: str,
    payload: Contract,
    *,
    now: datetime,
    max_bytes: int = MAX_BODY_BYTES,
    message_id: UUID | None = None,
    serialize: Callable[[AnyEnvelope], bytes] | None = None,
) -> tuple[AnyEnvelope, bytes]:
    """The envelope around an already validated ``payload`` and its bytes, serialised once.

    Fills ``message_id`` (a UUIDv7 unless given), ``correlation_id`` (the message's
    own id) and ``occurred_at`` (``now``) as :func:`compose` does. ``serialize``
    gives the body instead of ``envelope.to_json()``, and must give the same bytes
    (the tax adapter splices records it has serialised already, see
    :meth:`adapters.tax.batches.Part.body_of`).

    Raises:
        OutboundInvalid: the envelope breaks a rule (``schema_violation``), or the body
            exceeds ``max_bytes`` (``oversized``).
    """
    message_id = message_id or uuid7()
    try:
        envelope = build(
            type_, payload, source=source, message_id=message_id, occurred_at=now, correlation_id=message_id
        )
    except ValidationError as error:
        raise OutboundInvalid(RejectReason.SCHEMA_VIOLATION, str(error.errors(include_url=False)[0]["msg"])) from None
    body = envelope.to_json() if serialize is None else serialize(envelope)
    if len(body) > max_bytes:
        raise OutboundInvalid(RejectReason.OVERSIZED, f"body is {len(body)} bytes; the limit is {max_bytes}")
    return envelope, body


def derived_id(cause: UUID, source: Department, type_: str) -> UUID:
    """A message id derived from the message that caused it: a repeat has the same id.

    Receipts and automatic answers use it, so an answer sent again after a crash is
    dropped by the hub's dedup instead of counting twice.
    """
    return uuid5(cause, f"{source.value}/{type_}")


def describe(envelope: AnyEnvelope) -> dict[str, str]:
    """What the HTTP endpoints answer for a message sent: its id, type and routing key."""
    return {"message_id": str(envelope.message_id), "type": envelope.type, "routing_key": envelope.key}
