"""Plain rows the store takes and gives back besides cases: outbox messages, replays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["HeaderValue", "OutboxMessage", "OutboxRow", "ReplayRecord"]

#: AMQP header values the outbox keeps (JSON-able, so they survive the database).
HeaderValue = str | int | bool


@dataclass(frozen=True)
class OutboxMessage:
    """A message to publish once the transaction that wrote it has committed."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, HeaderValue]
    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class OutboxRow(OutboxMessage):
    """An outbox message as stored: its id orders publication; ``sent_at`` is None until confirmed."""

    id: int = 0
    sent_at: datetime | None = field(default=None)


@dataclass(frozen=True)
class ReplayRecord:
    """One ``sihub dlq replay`` of a quarantined message: who, why, and what came of it."""

    id: int
    message_id: str
    replayed_at: datetime
    actor: str
    reason: str
    outcome: str
