"""The outbox relay: publish committed outbox rows to ``sihub.out`` with confirms.

A row is marked sent only after the broker confirmed it. A crash between the
confirm and the mark republishes the row on restart; consumers dedup by
``message_id``. Many confirms are kept in flight per batch (the pika publisher
pipelines them), which is what makes the relay fast.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hub.bus.types import Broker, ConnectionLost, Outgoing, Publisher, PublishFailed
from hub.observe import Observer
from hub.store.store import Store, Unavailable

log = logging.getLogger("sihub.relay")


class Relay:
    """Drains the outbox until ``stop`` is set; ``wake`` shortens the wait after a commit."""

    def __init__(
        self,
        broker: Callable[[], Broker],
        store: Store,
        observer: Observer,
        *,
        stop: threading.Event,
        wake: threading.Event,
        batch_size: int = 500,
        idle_seconds: float = 0.2,
    ) -> None:
        self._broker_factory = broker
        self.store = store
        self.observer = observer
        self.stop = stop
        self.wake = wake
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    def run(self) -> None:
        """The thread body."""
        backoff = 0.2
        while not self.stop.is_set():
            try:
                publisher = self._broker_factory().publisher()
            except ConnectionLost as error:
                log.warning("relay cannot reach the broker (%s)", error)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.2
            try:
                while not self.stop.is_set():
                    if self.drain_once(publisher) == 0:
                        self.wake.wait(self.idle_seconds)
                        self.wake.clear()
            except ConnectionLost as error:
                log.warning("relay lost the broker (%s); reconnecting", error)
            except Unavailable as error:
                log.warning("relay cannot read the outbox (%s)", error)
                self.stop.wait(1.0)
            except Exception:  # a bug: the rows stay in the outbox and are tried again
                log.exception("relay failed unexpectedly; the outbox is kept, retrying")
                self.stop.wait(1.0)
            finally:
                try:
                    publisher.close()
                except Exception:
                    log.debug("closing the relay publisher failed", exc_info=True)

    def drain_once(self, publisher: Publisher) -> int:
        """Publish one batch of pending rows; the number confirmed."""
        rows = self.store.pending_outbox(self.batch_size)
        if not rows:
            return 0
        messages = [
            Outgoing(
                exchange=r.exchange,
                routing_key=r.routing_key,
                body=r.body,
                headers=r.headers,
                message_id=r.message_id,
            )
            for r in rows
        ]
        by_message = {id(m): r for m, r in zip(messages, rows, strict=True)}
        failed: set[int] = set()
        try:
            publisher.publish(messages)
        except PublishFailed as error:
            failed = {id(m) for m, _ in error.failed}
            log.error("relay: %s", error)
        sent = [by_message[id(m)] for m in messages if id(m) not in failed]
        if sent:
            self.store.mark_sent([r.id for r in sent])
            self.observer.published([r.routing_key.split(".", 1)[0] for r in sent])
        return len(sent)
