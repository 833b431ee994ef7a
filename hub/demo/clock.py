"""A simulated county clock: it moves only when the scenario moves it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class SimClock:
    """An aware clock the scenario advances; the hub and every adapter read it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware start")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (never backwards)."""
        with self._lock:
            if moment < self._now:
                raise ValueError(f"the clock does not go back ({moment} < {self._now})")
            self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; the new time."""
        with self._lock:
            self._now += delta
            return self._now
