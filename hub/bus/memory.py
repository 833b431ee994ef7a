"""An in-process broker with the semantics of the RabbitMQ layout, for tests and ``sihub demo``.

Declared from the same ``Topology`` as RabbitMQ: topic and fanout routing,
mandatory publishes with confirms, quorum-queue delivery counting and
dead-lettering over ``delivery-limit``, per-consumer prefetch, the users'
permissions (passwords are not checked) and RabbitMQ's validated ``user_id``.
One lock guards everything: simple, and fast enough for tests and demos.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hub.bus.routing import routes
from hub.bus.topology import Topology, UserSpec
from hub.bus.types import (
    AccessRefused,
    BusError,
    Delivery,
    FailureReason,
    Outgoing,
    PublishFailed,
    PublishRefused,
)


@dataclass(frozen=True)
class _Stored:
    """A message at rest in a queue."""

    outgoing: Outgoing
    exchange: str
    headers: dict[str, Any]
    delivery_count: int = 0
    redelivered: bool = False


@dataclass
class _Queue:
    name: str
    delivery_limit: int | None
    dead_letter_exchange: str | None
    max_length: int | None
    ready: deque[_Stored] = field(default_factory=deque)
    unacked: int = 0


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


class MemoryBroker:
    """The in-process RabbitMQ: one vhost declared from a ``Topology``; connect per user."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._cond = threading.Condition()
        self._exchange_types = {e.name: e.type for e in topology.exchanges}
        self._queues: dict[str, _Queue] = {}
        for spec in topology.queues:
            policy = topology.policy_for(spec.name)
            definition = policy.definition if policy else {}
            dlx = definition.get("dead-letter-exchange")
            self._queues[spec.name] = _Queue(
                spec.name,
                delivery_limit=_int_or_none(definition.get("delivery-limit")),
                dead_letter_exchange=dlx if isinstance(dlx, str) else None,
                max_length=_int_or_none(definition.get("max-length")),
            )

    def connect(self, user: str) -> MemoryConnection:
        """A ``Broker`` for ``user``, one of the topology's users."""
        spec = self.topology.user(user)
        if spec is None:
            raise AccessRefused(f"user {user!r} is not defined in vhost {self.topology.vhost!r}")
        return MemoryConnection(self, spec)

    def queue_depth(self, queue: str) -> int:
        """Messages ready for delivery in ``queue``."""
        with self._cond:
            return len(self._queue(queue).ready)

    def join(self, queue: str, timeout_seconds: float = 10.0) -> None:
        """Wait until ``queue`` holds nothing, ready or unacked; ``TimeoutError`` otherwise."""
        with self._cond:
            q = self._queue(queue)
            if not self._cond.wait_for(lambda: not q.ready and q.unacked == 0, timeout_seconds):
                raise TimeoutError(f"{queue}: {len(q.ready)} ready, {q.unacked} unacked")

    # The methods below run with self._cond held.

    def _queue(self, name: str) -> _Queue:
        try:
            return self._queues[name]
        except KeyError:
            raise BusError(
                f"NOT_FOUND - no queue {name!r} in vhost {self.topology.vhost!r}"
            ) from None

    def _route(self, exchange: str, routing_key: str) -> list[_Queue]:
        kind = self._exchange_types[exchange]
        return [
            self._queues[b.queue]
            for b in self.topology.bindings
            if b.exchange == exchange and routes(kind, b.routing_key, routing_key)
        ]

    def _publish(self, user: UserSpec, message: Outgoing) -> FailureReason | None:
        if message.user_id is not None and message.user_id != user.name:
            return FailureReason.ACCESS_REFUSED  # RabbitMQ: 406 PRECONDITION_FAILED
        if not user.may_write(message.exchange):
            return FailureReason.ACCESS_REFUSED
        if message.exchange not in self._exchange_types:
            return FailureReason.NOT_FOUND
        if not user.may_publish_key(message.exchange, message.routing_key):
            return FailureReason.ACCESS_REFUSED
        targets = self._route(message.exchange, message.routing_key)
        if not targets:
            return FailureReason.UNROUTABLE
        stored = _Stored(message, message.exchange, dict(message.headers))
        accepted = [
            q for q in targets if q.max_length is None or len(q.ready) + q.unacked < q.max_length
        ]
        for q in accepted:
            q.ready.append(stored)
        # overflow=reject-publish: a full queue nacks, the others keep their copy.
        return None if len(accepted) == len(targets) else FailureReason.NACKED

    def _requeue(self, queue: _Queue, messages: Sequence[_Stored]) -> None:
        # Quorum queues deliver returned messages before the rest, in the order returned.
        for stored in reversed(messages):
            count = stored.delivery_count + 1
            if queue.delivery_limit is not None and count > queue.delivery_limit:
                self._dead_letter(queue, stored, "delivery_limit")
            else:
                queue.ready.appendleft(replace(stored, delivery_count=count, redelivered=True))

    def _dead_letter(self, queue: _Queue, stored: _Stored, reason: str) -> None:
        if queue.dead_letter_exchange is None:
            return  # as RabbitMQ: without a dead-letter exchange the message is dropped
        headers = dict(stored.headers)
        headers.pop("x-delivery-count", None)
        death = {
            "count": 1,
            "reason": reason,
            "queue": queue.name,
            "time": datetime.now(UTC).replace(microsecond=0),
            "exchange": stored.exchange,
            "routing-keys": [stored.outgoing.routing_key],
        }
        headers["x-death"] = [death, *headers.get("x-death", [])]
        headers.setdefault("x-first-death-exchange", stored.exchange)
        headers.setdefault("x-first-death-queue", queue.name)
        headers.setdefault("x-first-death-reason", reason)
        dead = _Stored(stored.outgoing, queue.dead_letter_exchange, headers)
        for target in self._route(queue.dead_letter_exchange, stored.outgoing.routing_key):
            target.ready.append(dead)


class MemoryPublisher:
    """A ``Publisher`` on the in-process broker; every message is confirmed or fails at once."""

    def __init__(self, broker: MemoryBroker, user: UserSpec) -> None:
        self._broker = broker
        self._user = user

    def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
        """Publish as RabbitMQ would with mandatory and confirms; raise ``PublishFailed``."""
        with self._broker._cond:
            outcomes = [(m, self._broker._publish(self._user, m)) for m in messages]
            self._broker._cond.notify_all()
        failed = [(m, reason) for m, reason in outcomes if reason is not None]
        if any(reason is FailureReason.ACCESS_REFUSED for _, reason in failed):
            raise PublishRefused(failed, f"user {self._user.name!r}")
        if failed:
            raise PublishFailed(failed)

    def close(self) -> None:
        """Nothing to release."""


class MemoryConsumer:
    """A ``Consumer`` of one in-process queue with a prefetch limit."""

    def __init__(self, broker: MemoryBroker, queue: _Queue, prefetch: int) -> None:
        self._broker = broker
        self._queue = queue
        self._prefetch = prefetch
        self._unacked: dict[int, _Stored] = {}
        self._last_tag = 0
        self._closed = False

    def fetch(self, max_messages: int, max_wait_seconds: float) -> list[Delivery]:
        """Wait up to ``max_wait_seconds`` for a message, then take what prefetch allows."""
        deadline = time.monotonic() + max_wait_seconds
        with self._broker._cond:
            while not (self._queue.ready and len(self._unacked) < self._prefetch):
                self._check_open()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._broker._cond.wait(remaining)
            self._check_open()
            count = min(max_messages, self._prefetch - len(self._unacked), len(self._queue.ready))
            return [self._deliver(self._queue.ready.popleft()) for _ in range(count)]

    def _deliver(self, stored: _Stored) -> Delivery:
        self._last_tag += 1
        self._unacked[self._last_tag] = stored
        self._queue.unacked += 1
        message = stored.outgoing
        return Delivery(
            body=message.body,
            exchange=stored.exchange,
            routing_key=message.routing_key,
            headers={**stored.headers, "x-delivery-count": stored.delivery_count},
            message_id=message.message_id,
            user_id=message.user_id,
            correlation_id=message.correlation_id,
            content_type=message.content_type,
            timestamp_ms=message.timestamp_ms,
            redelivered=stored.redelivered,
            delivery_tag=self._last_tag,
            delivery_count=stored.delivery_count,
        )

    def _settle(self, delivery_tags: Sequence[int]) -> list[_Stored]:
        self._check_open()
        unknown = [tag for tag in delivery_tags if tag not in self._unacked]
        if unknown:
            raise BusError(f"PRECONDITION_FAILED - unknown delivery tags {unknown}")
        settled = [self._unacked.pop(tag) for tag in sorted(set(delivery_tags))]
        self._queue.unacked -= len(settled)
        self._broker._cond.notify_all()
        return settled

    def ack(self, delivery_tags: Sequence[int]) -> None:
        """Acknowledge: the messages leave the queue."""
        with self._broker._cond:
            self._settle(delivery_tags)

    def nack(self, delivery_tags: Sequence[int], requeue: bool = True) -> None:
        """Return the messages to the queue, or dead-letter them (reason ``rejected``)."""
        with self._broker._cond:
            settled = self._settle(delivery_tags)
            if requeue:
                self._broker._requeue(self._queue, settled)
            else:
                for stored in settled:
                    self._broker._dead_letter(self._queue, stored, "rejected")

    def close(self) -> None:
        """Return every unacked message to the queue (as redelivered)."""
        with self._broker._cond:
            if not self._closed:
                self.nack(list(self._unacked))
                self._closed = True
                self._broker._cond.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("consumer is closed")


class MemoryConnection:
    """A ``Broker`` for one user of the in-process broker."""

    def __init__(self, broker: MemoryBroker, user: UserSpec) -> None:
        self.broker = broker
        self.user = user
        self._consumers: list[MemoryConsumer] = []

    def publisher(self) -> MemoryPublisher:
        """A publisher acting as this connection's user."""
        return MemoryPublisher(self.broker, self.user)

    def consumer(self, queue: str, prefetch: int = 256) -> MemoryConsumer:
        """A consumer of ``queue``; ``AccessRefused`` without read permission."""
        if not self.user.may_read(queue):
            raise AccessRefused(
                f"ACCESS_REFUSED - access to queue {queue!r} refused for {self.user.name!r}"
            )
        with self.broker._cond:
            consumer = MemoryConsumer(self.broker, self.broker._queue(queue), prefetch)
        self._consumers.append(consumer)
        return consumer

    def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (a passive declare needs no permission in RabbitMQ either)."""
        return self.broker.queue_depth(queue)

    def join(self, queue: str, timeout_seconds: float = 10.0) -> None:
        """Wait until ``queue`` is drained and acknowledged; see ``MemoryBroker.join``."""
        self.broker.join(queue, timeout_seconds)

    def close(self) -> None:
        """Close every consumer opened here, returning their unacked messages."""
        for consumer in self._consumers:
            consumer.close()
        self._consumers.clear()
