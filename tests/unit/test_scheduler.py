"""The scheduler's timing: it wakes when the next deadline is due, not a whole interval later."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.config import Settings
from hub.observe import Observer
from hub.runtime import build_service, utc_now
from hub.scheduler import RECHECK_SECONDS, WAKE_MARGIN_SECONDS, Scheduler
from hub.store.errors import Unavailable
from hub.store.store import Store
from tests.support.store_suite import deadline, make_case, save

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class _Earliest:
    """A store that only knows its next fire time (or fails to say)."""

    def __init__(self, earliest: datetime | None | Exception) -> None:
        self.earliest = earliest

    def next_fire_time(self) -> datetime | None:
        if isinstance(self.earliest, Exception):
            raise self.earliest
        return self.earliest


def scheduler(store: object, interval: float = 1.0) -> Scheduler:
    return Scheduler(
        store,  # type: ignore[arg-type]  # only next_fire_time is used
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        Observer(None),
        clock=lambda: NOW,
        stop=threading.Event(),
        wake=threading.Event(),
        interval_seconds=interval,
    )


@pytest.mark.parametrize(
    ("earliest", "wait"),
    [
        (None, 1.0),  # nothing armed: the interval
        (NOW + timedelta(seconds=10), 1.0),  # far off: the interval (a message may arm a sooner one)
        (NOW + timedelta(milliseconds=300), 0.3 + WAKE_MARGIN_SECONDS),  # just after it is due
        (NOW - timedelta(seconds=5), RECHECK_SECONDS),  # due but not fired (another hub holds it)
        (Unavailable("database down"), 1.0),  # the next tick reports the outage
    ],
)
def test_the_scheduler_sleeps_until_the_next_deadline_and_at_most_the_interval(
    earliest: datetime | None | Exception, wait: float
) -> None:
    assert scheduler(_Earliest(earliest)).idle_seconds() == pytest.approx(wait)


def test_a_recheck_never_exceeds_a_shorter_interval() -> None:
    assert scheduler(_Earliest(NOW - timedelta(seconds=1)), interval=0.1).idle_seconds() == 0.1


def test_a_deadline_fires_at_its_time_even_with_a_long_interval(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", broker_url="memory://")
    service = build_service(settings)
    store: Store = service.store
    due = utc_now() + timedelta(seconds=1.5)
    # Armed before the scheduler starts, due well inside its 30 s interval.
    save(store, make_case("hrss-2026-000001", deadlines=[deadline("routine.sign", "hrss", due)]))
    stop = threading.Event()
    worker = Scheduler(
        store, service.rules, service, Observer(None),
        clock=utc_now, stop=stop, wake=threading.Event(), interval_seconds=30.0,
    )  # fmt: skip
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        fired_at = None
        limit = time.monotonic() + 15
        while fired_at is None and time.monotonic() < limit:
            unsent = store.pending_outbox(10)
            if unsent:
                fired_at = unsent[0].created_at
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
        store.close()
    assert fired_at is not None, "the deadline did not fire"
    assert due <= fired_at < due + timedelta(seconds=1), (due, fired_at)
