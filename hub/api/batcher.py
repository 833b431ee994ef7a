"""Group commit for HTTP ingress: requests waiting together share one transaction.

Each request of ``POST /v1/messages`` and ``POST /v1/cases`` used to run its own
store transaction (~15 round trips). :class:`GroupCommit` has one worker thread per
app: it takes the first waiting message, drains whatever else is waiting (up to
``max_batch``, lingering at most ``linger``, by default not at all), applies them with one
:func:`~hub.api.ingress.submit` (one transaction, verdicts in order) and hands each
caller its own verdict through a :class:`~concurrent.futures.Future`. Under light
load a batch is one message; under load batches grow while the previous one
commits, so the transaction's cost is shared.

What each caller sees is what it saw with a transaction of its own:

* its own verdict (refusals are per message inside a batch already);
* a ``Conflict`` re-applies the batch (:func:`~hub.api.ingress.submit` retries it);
* the ledger unavailable → every caller of the batch gets the 503;
* any other failure of the batch (nothing was committed) → the batch is applied
  again one message at a time, so only the message that fails fails.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from hub.api.ingress import submit
from hub.api.problems import ProblemError
from hub.runtime import HubRuntime
from hub.service import Inbound, Verdict

log = logging.getLogger("sihub.api.batcher")

#: Most messages in one transaction: a bound on the time one batch holds its locks.
MAX_BATCH: Final = 200
#: How long the worker waits for more once the waiting messages are drained. None by default:
#: batches form on their own while the previous one commits, and a wait is paid by every caller
#: of the batch (in one pair of ``python -m bench api`` runs on SQLite, 1 ms gave p99 397 ms, none 251 ms).
LINGER: Final = timedelta(0)
#: How long a stopping worker may take to finish the batch in hand.
STOP_TIMEOUT: Final = timedelta(seconds=10)

#: Applies a batch in one transaction, verdicts in order (``ingress.submit`` over a runtime).
Apply = Callable[[Sequence[Inbound]], list[Verdict]]


@dataclass(frozen=True)
class _Request:
    message: Inbound
    answer: Future[Verdict]


class GroupCommit:
    """One worker thread applying the messages of concurrent callers in shared transactions."""

    def __init__(self, apply: Apply, *, max_batch: int = MAX_BATCH, linger: timedelta = LINGER) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._apply = apply
        self._max_batch = max_batch
        self._linger_seconds = linger.total_seconds()
        self._waiting: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: Sizes of the batches applied so far, newest last (bounded; for tests and metrics).
        self.batch_sizes: list[int] = []

    @classmethod
    def over(cls, runtime: HubRuntime, *, max_batch: int = MAX_BATCH, linger: timedelta = LINGER) -> GroupCommit:
        """Group commit through :func:`~hub.api.ingress.submit` on ``runtime``."""
        return cls(lambda batch: submit(runtime, batch), max_batch=max_batch, linger=linger)

    def start(self) -> None:
        """Start the worker (idempotent; :meth:`submit` starts it too).

        Raises:
            RuntimeError: the group commit was stopped.
        """
        with self._lock:
            self._start_locked()

    def stop(self, timeout: timedelta = STOP_TIMEOUT) -> None:
        """Apply what is waiting, then stop the worker; later submits are refused."""
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._waiting.put(None)  # under the lock: nothing can queue behind the stop sign
        if thread is not None:
            thread.join(timeout.total_seconds())

    def submit(self, message: Inbound) -> Verdict:
        """Apply ``message`` with whatever else is waiting; its own verdict.

        Blocks the calling thread until the batch commits (for callers on a thread of their
        own; the API's coroutines await :meth:`submit_async`).

        Raises:
            ProblemError: 503 when the ledger is unavailable.
            RuntimeError: the group commit was stopped.
            Exception: whatever applying the message alone raised, when its batch failed.
        """
        return self._enqueue(message).result()

    async def submit_async(self, message: Inbound) -> Verdict:
        """:meth:`submit` for a coroutine: awaits the batch's commit without holding a thread.

        Raises:
            ProblemError: 503 when the ledger is unavailable.
            RuntimeError: the group commit was stopped.
            Exception: whatever applying the message alone raised, when its batch failed.
        """
        answer = self._enqueue(message)
        # Shielded: a caller that goes away must not cancel the answer the worker will set.
        return await asyncio.shield(asyncio.wrap_future(answer))

    def _enqueue(self, message: Inbound) -> Future[Verdict]:
        answer: Future[Verdict] = Future()
        with self._lock:
            self._start_locked()
            self._waiting.put(_Request(message, answer))
        return answer

    def _start_locked(self) -> None:
        if self._stopped:
            raise RuntimeError("group commit is stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sihub-http-commit", daemon=True)
            self._thread.start()

    # -- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        while (first := self._waiting.get()) is not None:
            batch, stopping = self._drain(first)
            self._commit(batch)
            if stopping:
                break

    def _drain(self, first: _Request) -> tuple[list[_Request], bool]:
        """``first`` and what else waits, up to ``max_batch``; whether the stop sign was met."""
        batch = [first]
        deadline = time.monotonic() + self._linger_seconds
        while len(batch) < self._max_batch:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._waiting.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, batch: list[_Request]) -> None:
        """Apply ``batch`` together, or one by one when it fails as a whole; answer every caller."""
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        try:
            verdicts = self._apply([request.message for request in batch])
        except ProblemError as problem:  # the 503 of an unavailable ledger: the same for all
            for request in batch:
                request.answer.set_exception(problem)
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0].answer.set_exception(error)
                return
            # Nothing was committed; one message may be the cause: isolate it.
            log.exception("a batch of %d HTTP messages failed; applying them one by one", len(batch))
            for request in batch:
                self._apply_alone(request)
            return
        for request, verdict in zip(batch, verdicts, strict=True):
            request.answer.set_result(verdict)

    def _apply_alone(self, request: _Request) -> None:
        try:
            [verdict] = self._apply([request.message])
        except Exception as error:  # the caller's thread re-raises it, as if it had applied it alone
            request.answer.set_exception(error)
        else:
            request.answer.set_result(verdict)
