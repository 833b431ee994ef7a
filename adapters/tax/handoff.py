"""A bounded hand-off to one background thread: produce on one side, publish on the other.

The tax adapter reads and packs an export (CPU) while the broker confirms the part
before (waiting on the network); a :class:`Handoff` lets both go on at once with
at most ``depth`` items waiting, so memory stays bounded. Items are handled one at
a time, in order. The first error on the background side stops it: later items are
dropped unhandled, and the error is raised to the producer at its next
:meth:`Handoff.put` or at :meth:`Handoff.join`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("sihub.adapter.handoff")

#: Seconds a blocked :meth:`Handoff.put` waits before it looks for an error again.
_POLL_SECONDS = 0.2


class _Done:
    """The end-of-items marker."""


_DONE = _Done()


class Handoff(Generic[T]):
    """Hands items to ``handle`` on a background thread, at most ``depth`` waiting."""

    def __init__(self, handle: Callable[[T], None], *, depth: int = 2, name: str = "handoff") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._handle = handle
        self._items: queue.Queue[T | _Done] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not isinstance(item := self._items.get(), _Done):
            if self._error is None:
                try:
                    self._handle(item)
                except BaseException as error:  # handed to the producer, which re-raises it
                    self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, item: T) -> None:
        """Queue ``item``; blocks while ``depth`` items wait. Raises the background error, if any."""
        while True:
            self._raise_error()
            try:
                self._items.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def join(self) -> None:
        """Wait until every queued item is handled; raises the background error, if any."""
        if self._thread.is_alive():
            self._items.put(_DONE)  # never blocks for long: the thread drains the queue
            self._thread.join()
        self._raise_error()

    def __enter__(self) -> Handoff[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.join()
        else:  # the producer failed: let the thread finish what is queued, keep the producer's error
            try:
                self.join()
            except BaseException as late:
                if late is not error:
                    log.warning("while %s was failing, the background side failed too", kind.__name__,
                                exc_info=late)
