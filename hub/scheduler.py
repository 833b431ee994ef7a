"""The SLA scheduler: fire due deadlines from the store, through the outbox.

Each tick claims the deadlines whose warning or due time has passed (on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several hubs never fire the same
one), fires each against its case (:func:`hub.domain.timers.fire`), records the
firing in the case's audit log and writes the emitted messages to the outbox, all
in one transaction. A breached deadline leaves the case, so a clock jump or a
restart fires it exactly once.

Between ticks the scheduler sleeps until the earliest deadline's time, and never
longer than ``interval_seconds`` (so a deadline a message armed meanwhile is seen
within that): a warning or a breach goes out within milliseconds of its time, not
up to a whole interval late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from hub.domain.flow import Rules
from hub.domain.model import Applied, Case
from hub.domain.timers import fire
from hub.ids import uuid7
from hub.observe import Observer
from hub.service import HubService, deadline_note
from hub.store.store import Conflict, OutboxMessage, Store, StoreError, Unavailable

log = logging.getLogger("sihub.scheduler")

#: How often the scheduler asks the store to give never-analyzed tables statistics.
STATISTICS_EVERY_SECONDS = 10.0
#: A deadline still due after a tick (another hub holds it): look again after this long.
RECHECK_SECONDS = 0.25
#: Wake this long after the next deadline's time, so that it is due when the tick claims it.
WAKE_MARGIN_SECONDS = 0.002


class Scheduler:
    """Fires due deadlines until ``stop`` is set: when the next is due, and at least every ``interval_seconds``."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        service: HubService,
        observer: Observer,
        *,
        clock: Callable[[], datetime],
        stop: threading.Event,
        wake: threading.Event,
        interval_seconds: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self.store = store
        self.rules = rules
        self.service = service
        self.observer = observer
        self.clock = clock
        self.stop = stop
        self.wake = wake
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size

    def run(self) -> None:
        """The thread body (also keeps the ledger's planner statistics in shape: see below)."""
        statistics_due = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() >= statistics_due:
                statistics_due = time.monotonic() + STATISTICS_EVERY_SECONDS
                self._refresh_statistics()
            try:
                fired = self.tick()
            except (Unavailable, Conflict) as error:
                log.warning("scheduler tick failed (%s); retrying", error)
                fired = 0
            except Exception:  # a bug: the due deadlines stay due and are tried again
                log.exception("scheduler tick failed unexpectedly; deadlines stay due, retrying")
                fired = 0
            if fired < self.batch_size:
                self.stop.wait(self.idle_seconds())

    def idle_seconds(self) -> float:
        """How long to wait before the next tick: until the next deadline is due, at most the interval.

        A deadline armed meanwhile (by a message) is looked at within ``interval_seconds``;
        one already due that the last tick did not fire (another hub holds it) is looked
        at again after :data:`RECHECK_SECONDS`.
        """
        try:
            earliest = self.store.next_fire_time()
        except StoreError:
            return self.interval_seconds
        if earliest is None:
            return self.interval_seconds
        delay = (earliest - self.clock()).total_seconds()
        if delay <= 0:
            return min(self.interval_seconds, RECHECK_SECONDS)
        return min(self.interval_seconds, delay + WAKE_MARGIN_SECONDS)

    def _refresh_statistics(self) -> None:
        # The scheduler is the hub's periodic thread; see Store.refresh_statistics.
        try:
            analyzed = self.store.refresh_statistics()
        except StoreError as error:
            log.warning("could not refresh the ledger's statistics (%s)", error)
            return
        if analyzed:
            log.info("analyzed ledger tables that had no statistics yet: %s", ", ".join(analyzed))

    def tick(self, now: datetime | None = None) -> int:
        """Fire what is due at ``now`` (default: the clock); the number of deadlines claimed."""
        moment = now or self.clock()
        results: list[tuple[Case, Applied]] = []
        with self.store.transaction() as tx:
            claimed = tx.claim_due_deadlines(moment, self.batch_size)
            wanted = list(dict.fromkeys(case_id for case_id, _ in claimed))
            found = tx.load_cases(wanted, lock=True) if wanted else {}
            cases: dict[str, Case | None] = {case_id: found.get(case_id) for case_id in wanted}
            outbox: list[OutboxMessage] = []
            for case_id, deadline in claimed:
                case = cases[case_id]
                if case is None:
                    continue
                applied = fire(case, deadline, moment, self.rules)
                if applied.case == case:
                    continue
                new = applied.case.evolve(version=case.version + 1)
                cases[case_id] = new
                tx.save_case(new)
                tx.append_audit(
                    case_id,
                    message_id=str(uuid7()),
                    type="deadline",
                    source="hub",
                    trigger=f"deadline:{deadline.key}:{deadline.department.value}",
                    occurred_at=moment,
                    recorded_at=moment,
                    body=deadline_note(
                        deadline.key, deadline.department.value, deadline.due_at, moment
                    ),
                )
                outbox.extend(self.service.outgoing(applied.emits, case_id, moment))
                results.append((case, Applied(new, applied.emits, applied.events)))
            if outbox:
                tx.add_outbox(outbox)
        if results:
            self.wake.set()
            for before, applied in results:
                self.observer.applied(before, applied, moment)
        return len(claimed)
