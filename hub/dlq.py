"""The quarantine (``sihub.quarantine``): inspect refused messages and replay them after a fix.

A replay runs the message through the same service as the gate, in this process,
as the department that originally sent it (the broker would not let the hub
publish under another user's ``user_id``). It is recorded in the case's audit log
with who replayed it and why. What is refused again goes back to the quarantine
with its new reason; nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hub.bus.types import Broker, Consumer, Delivery
from hub.gate import DETAIL_HEADER, REASON_HEADER, quarantine_message
from hub.service import HubService, Inbound, Verdict

QUARANTINE_QUEUE = "sihub.quarantine"


@dataclass(frozen=True)
class Quarantined:
    """One quarantined message as an operator sees it."""

    delivery: Delivery
    reason: str
    detail: str
    original_routing_key: str
    original_user: str | None

    @property
    def message_id(self) -> str:
        """The message id: the AMQP property, else the body's, else ``?``."""
        if self.delivery.message_id:
            return self.delivery.message_id
        try:
            claimed = json.loads(self.delivery.body).get("message_id")
        except (ValueError, AttributeError):
            return "?"
        return claimed if isinstance(claimed, str) and len(claimed) <= 64 else "?"

    @classmethod
    def of(cls, delivery: Delivery) -> Quarantined:
        headers = delivery.headers
        reason = _text(headers.get(REASON_HEADER)) or _dead_letter_reason(headers)
        return cls(
            delivery=delivery,
            reason=reason,
            detail=_text(headers.get(DETAIL_HEADER)) or "",
            original_routing_key=_text(headers.get("x-sihub-original-routing-key"))
            or delivery.routing_key,
            original_user=_text(headers.get("x-sihub-original-user-id")) or delivery.user_id,
        )


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) and value else None


def _dead_letter_reason(headers: Mapping[str, Any]) -> str:
    # Dead-lettered by RabbitMQ itself (delivery limit exceeded), not refused by the gate.
    reason = _text(headers.get("x-first-death-reason"))
    return f"dead_lettered:{reason}" if reason else "unknown"


@contextmanager
def browse(broker: Broker, limit: int) -> Iterator[tuple[Consumer, list[Quarantined]]]:
    """Fetch up to ``limit`` quarantined messages; unsettled ones return to the queue on exit."""
    consumer = broker.consumer(QUARANTINE_QUEUE, prefetch=max(limit, 1))
    try:
        found: list[Delivery] = []
        while len(found) < limit:
            batch = consumer.fetch(limit - len(found), 0.5)
            if not batch:
                break
            found.extend(batch)
        yield consumer, [Quarantined.of(d) for d in found]
    finally:
        consumer.close()


def replay(
    broker: Broker,
    service: HubService,
    *,
    select: Callable[[Quarantined], bool],
    actor: str,
    why: str,
    limit: int = 10_000,
) -> list[tuple[Quarantined, Verdict]]:
    """Replay the selected quarantined messages; each result is the verdict of its replay."""
    results: list[tuple[Quarantined, Verdict]] = []
    publisher = broker.publisher()
    try:
        with browse(broker, limit) as (consumer, items):
            chosen = [q for q in items if select(q)]
            for item in chosen:
                verdict = _replay_one(service, item, actor, why)
                if verdict.outcome == "rejected":
                    publisher.publish([quarantine_message(_as_original(item), verdict)])
                consumer.ack([item.delivery.delivery_tag])
                results.append((item, verdict))
            others = [q.delivery.delivery_tag for q in items if not select(q)]
            if others:
                consumer.nack(others, requeue=True)
    finally:
        publisher.close()
    return results


def _replay_one(service: HubService, item: Quarantined, actor: str, why: str) -> Verdict:
    headers = _replayable_headers(item)
    inbound = Inbound(
        body=item.delivery.body,
        sender=item.original_user,
        routing_key=item.original_routing_key,
        headers=headers,
        transport="replay",
        note=f"replayed from quarantine by {actor}: {why}",
    )
    (verdict,) = service.process([inbound])
    with service.store.transaction() as tx:
        tx.record_replay(item.message_id, actor=actor, reason=why, outcome=verdict.outcome)
    return verdict


#: Headers the quarantine added (ours and RabbitMQ's dead-lettering): not the message's own.
_QUARANTINE_HEADERS = (
    "x-sihub-original",
    "x-sihub-reject",
    "x-sihub-delivery",
    "x-death",
    "x-first-death",
    "x-last-death",
)


def _replayable_headers(item: Quarantined) -> dict[str, Any]:
    """The message's own headers (e.g. its signature), without what the quarantine added."""
    return {
        k: v for k, v in item.delivery.headers.items() if not str(k).startswith(_QUARANTINE_HEADERS)
    }


def _as_original(item: Quarantined) -> Delivery:
    """The message as the department sent it, to be quarantined again with a new reason."""
    d = item.delivery
    exchange = _text(d.headers.get("x-sihub-original-exchange")) or "sihub.in"
    return Delivery(
        body=d.body,
        exchange=exchange,
        routing_key=item.original_routing_key,
        headers=_replayable_headers(item),
        message_id=d.message_id,
        user_id=item.original_user,
        correlation_id=d.correlation_id,
        content_type=d.content_type,
        timestamp_ms=d.timestamp_ms,
        redelivered=False,
        delivery_tag=d.delivery_tag,
        delivery_count=0,
    )


def matches(item: Quarantined, ids: Sequence[str], reason: str | None, everything: bool) -> bool:
    """The selection of ``sihub dlq replay``: given ids, a reason code, or all."""
    return everything or item.message_id in ids or (reason is not None and item.reason == reason)
