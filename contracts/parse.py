"""The one parse entry point: bytes in, a typed envelope out, or :class:`Rejected`.

Nothing but :class:`Rejected` leaves :func:`parse`, whatever the bytes: invalid
UTF-8, truncated JSON, deep nesting and oversized bodies all map to a reason code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, from_json

from contracts.codes import RejectReason
from contracts.envelope import AnyEnvelope
from contracts.errors import Rejected
from contracts.registry import Registry, default_registry
from contracts.values import ValidationSettings

#: Default body size limit (DESIGN §4): 4 MiB.
MAX_BODY_BYTES = 4 * 1024 * 1024

#: Error types raised by value validators that carry a reason code of their own.
_OWN_REASONS = {
    "invalid_id_number": RejectReason.INVALID_ID_NUMBER,
    "invalid_uscc": RejectReason.INVALID_USCC,
}
_JSON_ERRORS = frozenset({"json_invalid", "json_type"})
#: At most this many characters of a refused type or version are echoed in a detail,
#: which travels in an AMQP header: a 4 MiB type string must not become a 4 MiB header.
_ECHO_CHARS = 64
_DEFAULT_SETTINGS = ValidationSettings()


def parse(
    data: bytes | bytearray | memoryview | str,
    *,
    registry: Registry | None = None,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    max_bytes: int = MAX_BODY_BYTES,
) -> AnyEnvelope:
    """Validate one message body and return its envelope, upcast to the newest version.

    Raises:
        Rejected: with exactly one reason code and a detail naming the field path.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise Rejected(
            RejectReason.OVERSIZED, f"body is {len(raw)} bytes; the limit is {max_bytes}"
        )
    reg = registry or default_registry()
    try:
        envelope = reg.adapter().validate_json(raw, context=settings.as_context())
    except ValidationError as error:
        raise _rejection(error, raw, reg) from None
    except Exception as error:  # the contract: nothing but Rejected escapes
        raise Rejected(
            RejectReason.MALFORMED_JSON, f"body could not be read: {type(error).__name__}"
        ) from None
    return reg.upcast(envelope)


def _rejection(error: ValidationError, raw: bytes, registry: Registry) -> Rejected:
    errors = error.errors(include_url=False, include_input=False)
    first = errors[0]
    kind = first["type"]
    if kind in _JSON_ERRORS:
        return Rejected(RejectReason.MALFORMED_JSON, f"body is not valid JSON: {first['msg']}")
    head = _peek(raw)
    claimed = head.get("message_id")
    # Only a plausible id travels on (into logs and an AMQP short-string property).
    message_id = claimed if isinstance(claimed, str) and 0 < len(claimed) <= 64 else None
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _header_rejection(head, registry, message_id)
    reason = _OWN_REASONS.get(kind, RejectReason.SCHEMA_VIOLATION)
    loc = tuple(first["loc"])
    field = (first.get("ctx") or {}).get("field") if kind == "sihub_rule" else None
    if field:
        loc = (*loc, str(field))
    return Rejected(reason, f"{field_path(loc)}: {_message(first)}", message_id)


def _header_rejection(head: dict[str, Any], registry: Registry, message_id: str | None) -> Rejected:
    type_, version = head.get("type"), head.get("schema_version")
    if not isinstance(type_, str):
        return Rejected(
            RejectReason.SCHEMA_VIOLATION, "type: a message type string is required", message_id
        )
    if not registry.knows(type_):
        return Rejected(
            RejectReason.UNKNOWN_TYPE, f"type: unknown message type {_echo(type_)}", message_id
        )
    if type(version) is not int:
        return Rejected(
            RejectReason.SCHEMA_VIOLATION, "schema_version: an integer is required", message_id
        )
    known = ", ".join(str(cv.version) for cv in registry.versions(type_))
    return Rejected(
        RejectReason.UNSUPPORTED_VERSION,
        f"schema_version: {type_} version {_echo(version)} is not supported (supported: {known})",
        message_id,
    )


def _echo(value: str | int) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _ECHO_CHARS else f"{text[:_ECHO_CHARS]}... ({len(text)} characters)"


def _peek(raw: bytes) -> dict[str, Any]:
    """The top-level object of a body already known to be valid JSON ({} if not an object)."""
    try:
        value = from_json(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def field_path(loc: Sequence[int | str]) -> str:
    """``('case.registered@1', 'payload', 'records', 2, 'amount_paid')`` → ``payload.records[2].amount_paid``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "@" in item or item.startswith("function-"):
            continue  # union tags and validator names are not fields
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(message)"


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    return message[len("Value error, ") :] if message.startswith("Value error, ") else message
