"""Transport interfaces: what a message is on the wire, and what a broker offers.

This layer knows bytes, routing keys and headers, never the message contracts.
Two implementations stand behind these protocols: the in-process broker
(``hub.bus.memory``) and RabbitMQ through pika (``hub.bus.amqp``).

Errors::

    BusError                      root of every transport error
    ├── PublishFailed             some messages of a batch were not confirmed (see ``failed``)
    │   └── PublishRefused        ... and at least one was refused for permissions (also AccessRefused)
    ├── ConnectionLost            retryable: the connection dropped; reconnect and try again
    ├── AccessRefused             permanent: permissions or a spoofed user_id (RabbitMQ 403/406)
    │   └── PublishRefused
    ├── ManagementError           the management HTTP API failed (``hub.bus.management``)
    └── TopologyConflict          an object exists with other properties (``hub.bus.declare``)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

#: Header values an ``Outgoing`` may carry (AMQP field-table types we need).
HeaderValue = str | int | bool


def _frozen_headers(headers: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(headers))


@dataclass(frozen=True)
class Outgoing:
    """A message to publish; always sent persistent and mandatory."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    message_id: str | None = None
    #: Validated by RabbitMQ against the connection's user (406 when it differs).
    user_id: str | None = None
    correlation_id: str | None = None
    content_type: str = "application/json"
    #: Milliseconds since the Unix epoch; AMQP's own timestamp only has seconds.
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        # A caller mutating its dict after publishing must not change a message in flight.
        object.__setattr__(self, "headers", _frozen_headers(self.headers))


@dataclass(frozen=True)
class Delivery:
    """A message received from a queue, not yet acknowledged."""

    body: bytes
    exchange: str
    routing_key: str
    headers: Mapping[str, Any]
    message_id: str | None
    user_id: str | None
    correlation_id: str | None
    content_type: str | None
    timestamp_ms: int | None
    redelivered: bool
    delivery_tag: int
    #: ``x-delivery-count`` of quorum queues: earlier failed deliveries (0 on the first).
    delivery_count: int


class FailureReason(StrEnum):
    """Why one message of a batch was not confirmed; stable codes for callers."""

    #: The broker nacked it (e.g. a full queue with ``overflow: reject-publish``). Retryable.
    NACKED = "nacked"
    #: No queue is bound for it; returned because every publish is mandatory.
    UNROUTABLE = "unroutable"
    #: No confirm within the timeout: it may or may not have been enqueued. Retryable.
    TIMEOUT = "timeout"
    #: Permissions or a ``user_id`` other than the connection's user. Permanent.
    ACCESS_REFUSED = "access_refused"
    #: The exchange does not exist (topology not declared?).
    NOT_FOUND = "not_found"


#: Reasons worth publishing again unchanged.
RETRYABLE_REASONS: frozenset[FailureReason] = frozenset(
    {FailureReason.NACKED, FailureReason.TIMEOUT}
)


class BusError(Exception):
    """Root of every error raised by the transport layer."""


class PublishFailed(BusError):
    """Some messages of a batch were not confirmed; every message not listed was confirmed."""

    def __init__(self, failed: Sequence[tuple[Outgoing, FailureReason]], detail: str = "") -> None:
        self.failed: list[tuple[Outgoing, FailureReason]] = list(failed)
        counts: dict[str, int] = {}
        for _, reason in self.failed:
            counts[reason] = counts.get(reason, 0) + 1
        summary = ", ".join(f"{reason} x{n}" for reason, n in sorted(counts.items()))
        super().__init__(
            f"{len(self.failed)} message(s) not confirmed: {summary}"
            + (f" ({detail})" if detail else "")
        )

    def retryable(self) -> list[Outgoing]:
        """The failed messages that may succeed if published again unchanged."""
        return [message for message, reason in self.failed if reason in RETRYABLE_REASONS]


class ConnectionLost(BusError):
    """The connection dropped; retryable. Unconfirmed or unacked messages are in doubt."""


class AccessRefused(BusError):
    """Permanent refusal by the broker: permissions (403) or a spoofed ``user_id`` (406)."""


class PublishRefused(PublishFailed, AccessRefused):
    """A batch in which at least one message was refused for permissions or ``user_id``."""


class Publisher(Protocol):
    """Publishes batches with publisher confirms."""

    def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
        """Return once the broker confirmed every message.

        Raises:
            PublishFailed: naming each failed message and why; the others are confirmed.
            ConnectionLost: the outcome of unconfirmed messages is unknown; publish again.
        """
        ...

    def close(self) -> None:
        """Close the connection; idempotent."""
        ...


class Consumer(Protocol):
    """Pulls batches from one queue with manual acknowledgements."""

    def fetch(self, max_messages: int, max_wait_seconds: float) -> list[Delivery]:
        """Wait up to ``max_wait_seconds`` for a first message, then return what is ready."""
        ...

    def ack(self, delivery_tags: Sequence[int]) -> None:
        """Acknowledge these deliveries (``multiple=True`` where the tags allow it)."""
        ...

    def nack(self, delivery_tags: Sequence[int], requeue: bool = True) -> None:
        """Return (``requeue``) or dead-letter these deliveries."""
        ...

    def close(self) -> None:
        """Stop consuming; unacked deliveries go back to the queue."""
        ...


class Broker(Protocol):
    """A connection factory for one user."""

    def publisher(self) -> Publisher:
        """A new publisher (its own connection)."""
        ...

    def consumer(self, queue: str, prefetch: int = 256) -> Consumer:
        """A new consumer of ``queue`` with at most ``prefetch`` unacked deliveries."""
        ...

    def queue_depth(self, queue: str) -> int:
        """Messages ready for delivery in ``queue`` (unacked ones not counted)."""
        ...

    def close(self) -> None:
        """Close every connection this broker opened."""
        ...
