"""The county working-day calendar: official holidays, make-up workdays (调休), weekends.

The table holds only named days: official holidays (including the weekend days
inside a holiday period, as the State Council notices list them) and make-up
workdays that fall on a weekend. Every other day is derived: Monday to Friday
work, Saturday and Sunday rest. For a year the table does not know, that derived
rule is all there is: the calendar logs a warning once per year on
``sihub.calendar`` and remembers the year in :attr:`WorkCalendar.fallback_years`
(a metric reads it at scrape time). It never raises for an unknown year.

Lookups are dict and set membership tests only, so counting ten working days
takes microseconds.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import chinese_calendar

from hub.domain.calendar_file import parse_calendar, render_calendar

__all__ = ["CalendarDay", "DayKind", "WorkCalendar", "default_calendar"]

logger = logging.getLogger("sihub.calendar")

DayKind = Literal["holiday", "workday"]
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True)
class CalendarDay:
    """One named day of the table: an official holiday or a make-up workday."""

    day: date
    kind: DayKind
    name: str


class WorkCalendar:
    """Working days on the county's calendar; immutable apart from the fallback record."""

    def __init__(
        self,
        holidays: Mapping[date, str],
        makeup_workdays: Mapping[date, str],
        known_years: Iterable[int],
    ) -> None:
        overlap = holidays.keys() & makeup_workdays.keys()
        if overlap:
            raise ValueError(f"days both holiday and workday: {sorted(overlap)}")
        self._holidays: dict[date, str] = dict(holidays)
        self._workdays: dict[date, str] = dict(makeup_workdays)
        # A listed day makes its year known: half a year of holidays is still a table.
        self._known = (
            frozenset(known_years)
            | {d.year for d in self._holidays}
            | {d.year for d in self._workdays}
        )
        self._fallback: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_chinesecalendar(cls) -> WorkCalendar:
        """Seed from the State Council notices carried by ``chinesecalendar`` (all its years)."""
        holidays = {day: str(name) for day, name in chinese_calendar.holidays.items()}
        workdays = {day: f"{name} 调休" for day, name in chinese_calendar.workdays.items()}
        return cls(holidays, workdays, {d.year for d in holidays} | {d.year for d in workdays})

    @classmethod
    def load(cls, path: Path) -> WorkCalendar:
        """Read a calendar file written by :meth:`save` (or by hand).

        Raises:
            ValueError: the content is wrong; the message names the file, line and key.
        """
        table = parse_calendar(path.read_text(encoding="utf-8"), str(path))
        return cls(table.holidays, table.workdays, table.known_years)

    def save(self, path: Path) -> None:
        """Write the calendar atomically (temporary file + ``os.replace``) as TOML."""
        text = render_calendar(self._holidays, self._workdays, self._known)
        directory = path.parent if str(path.parent) else Path(".")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def with_day(self, day: date, kind: DayKind, name: str) -> WorkCalendar:
        """Return a copy in which ``day`` is a named holiday or workday; its year becomes known."""
        if kind not in ("holiday", "workday"):
            raise ValueError(f"kind must be 'holiday' or 'workday', not {kind!r}")
        holidays = {d: n for d, n in self._holidays.items() if d != day}
        workdays = {d: n for d, n in self._workdays.items() if d != day}
        (holidays if kind == "holiday" else workdays)[day] = name
        return WorkCalendar(holidays, workdays, self._known | {day.year})

    def without_day(self, day: date) -> WorkCalendar:
        """Return a copy in which ``day`` follows the weekday rule again."""
        holidays = {d: n for d, n in self._holidays.items() if d != day}
        workdays = {d: n for d, n in self._workdays.items() if d != day}
        return WorkCalendar(holidays, workdays, self._known)

    def knows(self, year: int) -> bool:
        """Whether the table covers ``year`` (otherwise it is counted Monday to Friday)."""
        return year in self._known

    @property
    def known_years(self) -> frozenset[int]:
        """The years the table covers."""
        return self._known

    @property
    def fallback_years(self) -> frozenset[int]:
        """Years asked about that the table does not know, counted Monday to Friday."""
        with self._lock:
            return frozenset(self._fallback)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        if day.year not in self._known:
            self._note_fallback(day.year)
        return day.weekday() < _SATURDAY

    def next_workday(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += _ONE_DAY
        return day

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        day = start
        while n:
            day += _ONE_DAY
            if self.is_workday(day):
                n -= 1
        return day

    def subtract_workdays(self, end: date, n: int) -> date:
        """The ``n``-th working day before ``end`` (``end`` itself is not counted)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        day = end
        while n:
            day -= _ONE_DAY
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """The number of working days in ``(start, end]``; 0 when ``end <= start``."""
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            count += self.is_workday(day)
            day += _ONE_DAY
        return count

    def days(self, year: int) -> list[CalendarDay]:
        """The named holidays and make-up workdays of ``year``, sorted by day."""
        named = [CalendarDay(d, "holiday", n) for d, n in self._holidays.items() if d.year == year]
        named += [CalendarDay(d, "workday", n) for d, n in self._workdays.items() if d.year == year]
        return sorted(named, key=lambda c: c.day)

    def lookup(self, day: date) -> CalendarDay | None:
        """The table's entry for ``day``, or None when the weekday rule decides it."""
        if day in self._holidays:
            return CalendarDay(day, "holiday", self._holidays[day])
        if day in self._workdays:
            return CalendarDay(day, "workday", self._workdays[day])
        return None

    def _note_fallback(self, year: int) -> None:
        # Unlocked read first: the hot path must not take a lock per day.
        if year in self._fallback:
            return
        with self._lock:
            if year in self._fallback:
                return
            self._fallback.add(year)
        logger.warning(
            "working-day calendar does not know %d: counting Monday-Friday without holidays; "
            "add the year's holidays with `sihub calendar set`",
            year,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return (self._holidays, self._workdays, self._known) == (
            other._holidays,
            other._workdays,
            other._known,
        )

    def __repr__(self) -> str:
        years = sorted(self._known)
        span = f"{years[0]}-{years[-1]}" if years else "none"
        return (
            f"<WorkCalendar years={span} holidays={len(self._holidays)}"
            f" workdays={len(self._workdays)}>"
        )


def default_calendar(path: Path | None) -> WorkCalendar:
    """The calendar file at ``path`` if given and present, else the ``chinesecalendar`` seed."""
    if path is not None and path.exists():
        return WorkCalendar.load(path)
    return WorkCalendar.from_chinesecalendar()
