"""The outbox relay: publish committed outbox rows to ``sihub.out`` with confirms.

A row is marked sent only after the broker confirmed it. A crash between the
confirm and the mark republishes the row on restart; consumers dedup by
``message_id``. Many confirms are kept in flight per batch (the pika publisher
pipelines them), which is what makes the relay fast.

Rows this process commits arrive in memory (:class:`~hub.store.outbox_feed.OutboxFeed`):
the relay does not read them back, and their marks ride along with the next write
transaction (or the relay writes them when it has nothing else to do). The table
is still swept for rows the feed does not hold — at start, after a failure, when
the feed overflowed, and every ``idle_seconds`` while idle — so that what a crash
or another process left unsent is published too.

On PostgreSQL several hubs may share a county's ledger, so the relay claims the rows
it publishes with row locks (``SKIP LOCKED``) and marks them sent in that same
transaction: one hub publishes each row (see :meth:`Relay._drain_claiming`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from hub.bus.types import Broker, ConnectionLost, Outgoing, Publisher, PublishFailed
from hub.observe import Observer
from hub.store.store import OutboxRow, Store, StoreError, Unavailable

log = logging.getLogger("sihub.relay")

#: Confirmed ids waiting for a write transaction to carry them are marked by the relay past this.
MARKS_HELD_MAX = 5_000
#: ... or once the oldest of them has waited this long (no transaction came along: the hub is idle).
MARKS_HELD_FOR = timedelta(seconds=0.3)
#: While rows keep arriving in memory, the table is still swept for others this often.
SWEEP_BUSY_SECONDS = 5.0
#: Unsent ids a sweep reads per query, looking for rows the feed does not hold.
SWEEP_ID_PAGE = 5_000


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
        self._last_sweep = float("-inf")

    def run(self) -> None:
        """The thread body."""
        backoff = 0.2
        feed = self.store.outbox_feed
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
                feed.drop_in_flight()  # unconfirmed rows are still unsent in the table
                try:
                    publisher.close()
                except Exception:
                    log.debug("closing the relay publisher failed", exc_info=True)
        try:
            self.store.mark_confirmed()  # what was confirmed need not be published again
        except StoreError as error:
            log.warning("relay could not mark its last confirms (%s); they will be re-sent", error)

    def drain_once(self, publisher: Publisher) -> int:
        """Publish one batch of pending rows; how many (0: nothing to do).

        On PostgreSQL the count includes rows passed over because another hub held them.
        """
        if self.store.locks_outbox:
            return self._drain_claiming(publisher)
        feed = self.store.outbox_feed
        rows = self._sweep(feed.pending()[0] == 0)
        if not rows:
            rows = feed.take(self.batch_size)
        if not rows:
            # Idle. While the gate commits, its transactions carry the marks: marking here
            # would queue for SQLite's write lock behind them instead of publishing.
            oldest = feed.oldest_mark()
            if oldest is not None and datetime.now(UTC) - oldest >= MARKS_HELD_FOR:
                self.store.mark_confirmed()
            return 0
        sent = self._publish(publisher, rows)
        if sent:
            feed.confirm([r.id for r in sent], datetime.now(UTC))
            self.observer.published([r.routing_key.split(".", 1)[0] for r in sent])
        if feed.pending()[1] >= MARKS_HELD_MAX:
            self.store.mark_confirmed()
        return len(sent)

    def _drain_claiming(self, publisher: Publisher) -> int:
        """PostgreSQL, where several hubs may share the ledger: publish under row locks.

        The feed's rows, or (when a sweep is due) the oldest unsent rows of the table,
        are locked with ``SKIP LOCKED`` for the publish and marked sent in the same
        transaction: a row another hub's relay holds or has sent is passed over, so each
        row is published by one hub. (Without the locks, a replica's sweep republished
        rows the other replica had in flight: 397 of 3 000 messages twice at 300 msgs/s.)
        """
        feed = self.store.outbox_feed
        # A sweep when due, as on SQLite (so that rows a crashed hub left are not starved
        # by a steady stream of this one's); else the feed's rows.
        sweeping = self._sweep_due(feed.pending()[0] == 0)
        rows = [] if sweeping else feed.take(self.batch_size)
        if not sweeping and not rows:
            return 0
        ids = None if sweeping else [r.id for r in rows]
        try:
            with self.store.claim_outbox(ids, self.batch_size) as claim:
                held = [r for r in rows if r.id in claim.ids] if rows else claim.rows
                sent = self._publish(publisher, held) if held else []
                claim.sent([r.id for r in sent], datetime.now(UTC))
        finally:
            feed.forget(ids or [])  # sent, held by another hub, or left in the table for a sweep
        if sent:
            self.observer.published([r.routing_key.split(".", 1)[0] for r in sent])
        return len(rows) or len(held)

    def _sweep_due(self, idle: bool) -> bool:
        """Whether to look in the table now (see :meth:`_sweep` for when); resets the clock."""
        feed = self.store.outbox_feed
        now = time.monotonic()
        if not feed.sweep_due() and now - self._last_sweep < (self.idle_seconds if idle else SWEEP_BUSY_SECONDS):
            return False
        self._last_sweep = now
        return True

    def _sweep(self, idle: bool) -> list[OutboxRow]:
        """Unsent rows of the table that the feed does not hold, when a sweep is due.

        Due when the feed says rows may be missing from it, every ``idle_seconds`` while
        it is empty, and every :data:`SWEEP_BUSY_SECONDS` however busy: rows of another
        process are not starved by a steady stream of this one's.
        """
        feed = self.store.outbox_feed
        if not self._sweep_due(idle):
            return []
        # Known before the read as well as after it: a row marked while we read is not new.
        before = feed.known()
        after_id = 0
        while True:
            # Ids first (the partial index of unsent rows covers them): while busy, most
            # unsent rows are this process's own, in flight, and need not be read whole.
            ids = self.store.unsent_outbox_ids(SWEEP_ID_PAGE, after_id=after_id)
            unknown = [i for i in ids if i not in before][: self.batch_size]
            fresh = feed.claim(self.store.outbox_rows(unknown)) if unknown else []
            if fresh or len(ids) < SWEEP_ID_PAGE:
                return fresh
            after_id = ids[-1]

    def _publish(self, publisher: Publisher, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
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
        failed: set[int] = set()
        try:
            publisher.publish(messages)
        except PublishFailed as error:
            failed = {id(m) for m, _ in error.failed}
            log.error("relay: %s", error)
        sent = [r for m, r in zip(messages, rows, strict=True) if id(m) not in failed]
        if failed:
            self.store.outbox_feed.fail(
                [r.id for m, r in zip(messages, rows, strict=True) if id(m) in failed]
            )
        return sent
