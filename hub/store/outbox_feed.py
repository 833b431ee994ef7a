"""The in-memory side of the outbox: committed rows handed to the relay, and confirmed ids to mark.

The table stays the source of truth (transactional outbox); this only saves the
relay from reading back what this process has just written and from a write
transaction of its own for every confirmed batch:

* after a transaction commits, its outbox rows are :meth:`OutboxFeed.offer`-ed; the
  relay :meth:`~OutboxFeed.take`-s them, publishes, and reports the confirmed ids;
* confirmed ids wait in :meth:`~OutboxFeed.confirm` until the next write transaction
  of the store marks them sent in passing (:meth:`~OutboxFeed.take_marks`), or the
  relay marks them itself when it has nothing else to do;
* every row the feed knows of (queued, in flight, confirmed but not yet marked) is
  :meth:`~OutboxFeed.claim`-ed against, so that the relay's sweep of the table for
  leftovers (rows of a crashed run, of another process, of a full feed) does not
  publish it a second time.

A row is marked sent only after the broker confirmed it. Whatever is lost from
memory (a crash, a full feed, a failed publish) is still unsent in the table, and
the sweep publishes it: at least once, as before. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from hub.store.records import OutboxRow

__all__ = ["Marks", "OutboxFeed"]

#: Rows held for the relay at most; past this the relay falls back to sweeping the table.
DEFAULT_CAPACITY: Final = 20_000


@dataclass(frozen=True)
class Marks:
    """Outbox ids confirmed by the broker at ``sent_at``, to be marked sent."""

    sent_at: datetime
    ids: tuple[int, ...]


class OutboxFeed:
    """Committed outbox rows on their way to the relay (see the module docstring)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._ready: deque[OutboxRow] = deque()
        self._known: set[int] = set()
        self._marks: list[Marks] = []
        self._sweep = True  # a fresh process has not looked at the table yet

    # -- the writers' side -----------------------------------------------------------------

    def offer(self, rows: Iterable[OutboxRow]) -> None:
        """Hand committed rows to the relay; past capacity they are left to the sweep."""
        with self._lock:
            for row in rows:
                if row.id in self._known:
                    continue  # the sweep got there first
                if len(self._ready) >= self._capacity:
                    self._sweep = True
                    continue
                self._ready.append(row)
                self._known.add(row.id)

    def take_marks(self) -> list[Marks]:
        """The confirmed ids waiting to be marked; the caller marks them or gives them back."""
        with self._lock:
            marks, self._marks = self._marks, []
        return marks

    def marked(self, marks: Sequence[Marks]) -> None:
        """The ``marks`` are committed: forget their ids."""
        with self._lock:
            for mark in marks:
                self._known.difference_update(mark.ids)

    def restore_marks(self, marks: Sequence[Marks]) -> None:
        """Marking ``marks`` failed (rolled back): keep them for the next attempt."""
        if marks:
            with self._lock:
                self._marks[:0] = marks

    # -- the relay's side ------------------------------------------------------------------

    def take(self, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` rows to publish, oldest first (in flight until confirmed or failed)."""
        with self._lock:
            count = min(limit, len(self._ready))
            return [self._ready.popleft() for _ in range(count)]

    def confirm(self, ids: Sequence[int], sent_at: datetime) -> None:
        """The broker confirmed these rows: queue them to be marked sent."""
        if ids:
            with self._lock:
                self._marks.append(Marks(sent_at, tuple(ids)))

    def forget(self, ids: Iterable[int]) -> None:
        """These rows are settled elsewhere (marked sent under a row lock, or held by another
        hub): the feed no longer follows them."""
        with self._lock:
            self._known.difference_update(ids)

    def fail(self, ids: Iterable[int]) -> None:
        """These rows were not confirmed: forget them, so that the next sweep publishes them."""
        with self._lock:
            self._known.difference_update(ids)
            self._sweep = True

    def claim(self, rows: Iterable[OutboxRow]) -> list[OutboxRow]:
        """Of rows read from the table, those the feed does not know of, now known (in flight)."""
        with self._lock:
            fresh = [r for r in rows if r.id not in self._known]
            self._known.update(r.id for r in fresh)
        return fresh

    def known(self) -> frozenset[int]:
        """The ids the feed knows of now (queued, in flight, or waiting to be marked)."""
        with self._lock:
            return frozenset(self._known)

    def drop_in_flight(self) -> None:
        """After a lost connection: forget queued and unconfirmed rows; the sweep finds them."""
        with self._lock:
            self._ready.clear()
            self._known = {i for mark in self._marks for i in mark.ids}
            self._sweep = True

    def sweep_due(self) -> bool:
        """Whether rows may sit in the table that the feed does not hold (and reset the flag)."""
        with self._lock:
            due, self._sweep = self._sweep, False
        return due

    def oldest_mark(self) -> datetime | None:
        """When the oldest confirmed id still waiting to be marked was confirmed (None: none waits)."""
        with self._lock:
            return min((m.sent_at for m in self._marks), default=None)

    def pending(self) -> tuple[int, int]:
        """(rows queued for the relay, confirmed ids waiting to be marked)."""
        with self._lock:
            return len(self._ready), sum(len(m.ids) for m in self._marks)
