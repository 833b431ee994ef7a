"""The ingress gate: consume ``sihub.hub.in``, apply in batches, quarantine what is refused.

Order of effects for each batch, so nothing is ever lost or doubled:

1. the service commits the batch's effects (cases, audit, outbox) in one transaction;
2. refused messages are published to ``sihub.quarantine`` with their reason, and the
   broker confirms them;
3. only then are the deliveries acked.

A crash anywhere before 3 redelivers the batch: processed message ids make the
replay a no-op, and a refused message is quarantined again (at-least-once).
Messages refused as ``precondition_failed`` while they may only be early are held
for ``retry_delay`` and returned to the queue (``x-delivery-count`` counts them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from hub.bus.types import Broker, ConnectionLost, Consumer, Delivery, Outgoing, Publisher
from hub.observe import Observer
from hub.service import HubService, Inbound, Verdict
from hub.store.store import Conflict, Unavailable

log = logging.getLogger("sihub.gate")

INBOUND_QUEUE = "sihub.hub.in"
QUARANTINE_EXCHANGE = "sihub.quarantine"
REASON_HEADER = "x-sihub-reject-reason"
DETAIL_HEADER = "x-sihub-reject-detail"

#: A case changed under the batch (another replica): apply the batch again at once, this often.
CONFLICT_ATTEMPTS = 5
#: The database is down: keep the deliveries unacked and wait, backing off to 30 s, until stopped.
UNAVAILABLE_WAIT = wait_exponential(multiplier=0.2, max=30)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    return 0.0 if isinstance(error, Conflict) else float(UNAVAILABLE_WAIT(state))


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "batch not committed (%s: %s); attempt %d",
        type(error).__name__,
        error,
        state.attempt_number,
    )


def quarantine_message(delivery: Delivery, verdict: Verdict) -> Outgoing:
    """The refused delivery as it will sit in ``sihub.quarantine``: body untouched, reason in headers."""
    assert verdict.reason is not None
    headers = {str(k): v for k, v in delivery.headers.items() if isinstance(v, str | int | bool)}
    headers.update(
        {
            REASON_HEADER: verdict.reason.value,
            DETAIL_HEADER: (verdict.detail or "")[:1000],
            "x-sihub-original-exchange": delivery.exchange,
            "x-sihub-original-routing-key": delivery.routing_key,
            "x-sihub-original-user-id": delivery.user_id or "",
            "x-sihub-delivery-count": delivery.delivery_count,
        }
    )
    return Outgoing(
        exchange=QUARANTINE_EXCHANGE,
        routing_key=delivery.routing_key,
        body=delivery.body,
        headers=headers,
        message_id=delivery.message_id or verdict.message_id,
        correlation_id=delivery.correlation_id,
        content_type=delivery.content_type or "application/json",
        timestamp_ms=delivery.timestamp_ms,
    )


class Gate:
    """Consumes the hub's inbound queue until ``stop`` is set; reconnects with backoff."""

    def __init__(
        self,
        broker: Callable[[], Broker],
        service: HubService,
        observer: Observer,
        *,
        stop: threading.Event,
        batch_size: int = 200,
        prefetch: int = 256,
        retry_delay_seconds: float = 2.0,
        on_connected: Callable[[bool], None] = lambda up: None,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self._broker_factory = broker
        self.service = service
        self.observer = observer
        self.stop = stop
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.retry_delay_seconds = retry_delay_seconds
        self.on_connected = on_connected
        self.on_committed = on_committed
        self._parked: list[tuple[float, int]] = []

    def run(self) -> None:
        """The thread body: connect, consume, and reconnect after a lost connection."""
        backoff = 0.2
        while not self.stop.is_set():
            try:
                broker = self._broker_factory()
                consumer = broker.consumer(INBOUND_QUEUE, prefetch=self.prefetch)
                publisher = broker.publisher()
            except ConnectionLost as error:
                self.on_connected(False)
                log.warning("gate cannot reach the broker (%s); retrying in %.1fs", error, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.2
            self.on_connected(True)
            try:
                self._consume(consumer, publisher)
            except ConnectionLost as error:
                self.on_connected(False)
                log.warning("gate lost the broker (%s); reconnecting", error)
            finally:
                self._parked.clear()  # unacked deliveries return to the queue with the connection
                for closer in (consumer.close, publisher.close):
                    try:
                        closer()
                    except Exception:  # the connection is gone either way
                        log.debug("closing after a lost connection failed", exc_info=True)

    def _consume(self, consumer: Consumer, publisher: Publisher) -> None:
        while not self.stop.is_set():
            self._release_parked(consumer)
            deliveries = consumer.fetch(self.batch_size, 0.1)
            if deliveries:
                self.handle(deliveries, consumer, publisher)

    def handle(
        self, deliveries: Sequence[Delivery], consumer: Consumer, publisher: Publisher
    ) -> None:
        """Process one batch of deliveries; see the module docstring for the order of effects."""
        started = time.perf_counter()
        inbound = [
            Inbound(
                body=d.body,
                sender=d.user_id,
                routing_key=d.routing_key,
                headers=d.headers,
                delivery_count=d.delivery_count,
            )
            for d in deliveries
        ]
        verdicts, poison = self._process_isolating(deliveries, inbound)
        if any(v.outcome == "applied" for v in verdicts):
            self.on_committed()
        pairs = list(zip(deliveries, verdicts, strict=True))
        refused = [quarantine_message(d, v) for d, v in pairs if v.outcome == "rejected"]
        if refused:
            publisher.publish(refused)
        done = [d.delivery_tag for d, v in pairs if v.outcome != "retry"]
        later = [
            d.delivery_tag
            for d, v in pairs
            if v.outcome == "retry" and d.delivery_tag not in poison
        ]
        if done:
            consumer.ack(done)
        if poison:
            # Through the queue's dead-letter exchange into sihub.quarantine (reason "rejected"):
            # kept for `sihub dlq replay` once the bug is fixed, and out of the way meanwhile.
            consumer.nack(sorted(poison), requeue=False)
        due = time.monotonic() + self.retry_delay_seconds
        self._parked.extend((due, tag) for tag in later)
        self.observer.verdicts(verdicts, time.perf_counter() - started)

    def _process_isolating(
        self, deliveries: Sequence[Delivery], inbound: list[Inbound]
    ) -> tuple[list[Verdict], set[int]]:
        """Verdicts for the batch, and the delivery tags of messages that make the hub fail.

        An exception other than the store's and the broker's is a bug, not bad input:
        the batch is retried one message at a time so that only the message that
        triggers it is set aside (dead-lettered), and the hub keeps consuming.
        """
        try:
            return self._process(inbound), set()
        except ConnectionLost:
            raise
        except Exception:
            log.exception("a batch of %d failed unexpectedly; retrying one by one", len(inbound))
        verdicts: list[Verdict] = []
        poison: set[int] = set()
        for delivery, one in zip(deliveries, inbound, strict=True):
            try:
                verdicts += self._process([one])
            except ConnectionLost:
                raise
            except Exception:
                log.exception(
                    "message %s makes the hub fail; dead-lettered to sihub.quarantine",
                    delivery.message_id,
                )
                poison.add(delivery.delivery_tag)
                verdicts.append(Verdict("retry"))  # settled as poison, never parked
        return verdicts, poison

    def _process(self, inbound: list[Inbound]) -> list[Verdict]:
        def give_up(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, Conflict):
                return state.attempt_number >= CONFLICT_ATTEMPTS
            return self.stop.is_set()

        retrying = Retrying(
            retry=retry_if_exception_type((Conflict, Unavailable)),
            wait=_wait,
            stop=give_up,
            sleep=self._pause,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return retrying(self.service.process, inbound)
        except Unavailable as error:
            # Stopping while the database is down: leave the batch unacked for redelivery.
            raise ConnectionLost("stopping while the database is unavailable") from error

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _release_parked(self, consumer: Consumer) -> None:
        if not self._parked:
            return
        now = time.monotonic()
        ready = [tag for due, tag in self._parked if due <= now]
        if ready:
            self._parked = [(due, tag) for due, tag in self._parked if due > now]
            consumer.nack(ready, requeue=True)
