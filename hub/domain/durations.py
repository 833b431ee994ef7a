"""Durations of the SLA policy and Civil Code deadline arithmetic (arts. 201, 203).

Units: ``wd`` working days on the county calendar, ``d`` calendar days, ``mo``
months, ``h`` hours, ``s`` seconds.

Counting for ``wd``, ``d`` and ``mo`` (Civil Code art. 201): the starting day does
not count; the period ends at 24:00 of its last day (art. 203), returned as 00:00
local of the following day; a last day that is not a working day moves to the
next working day (art. 203). ``h`` and ``s`` are exact elapsed time, no calendar.

Worked example: a case routed on Friday 2026-09-25 (a Mid-autumn holiday) with
``1wd`` to sign: the next working day is Monday 2026-09-28, so the deadline is
2026-09-29T00:00+08:00 (the end of Monday 28 September).
"""

from __future__ import annotations

import calendar as gregorian
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from hub.domain.calendar import WorkCalendar

__all__ = [
    "COUNTY_TZ",
    "Duration",
    "Unit",
    "add_months",
    "due_at",
    "last_day_of",
    "parse_duration",
    "warn_at",
]

Unit = Literal["wd", "d", "mo", "h", "s"]
_UNITS: Final[tuple[str, ...]] = get_args(Unit)
#: The county works in Beijing time.
COUNTY_TZ: Final = ZoneInfo("Asia/Shanghai")
_SYNTAX = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")


@dataclass(frozen=True)
class Duration:
    """A positive amount of one unit; ``str()`` gives the policy-file form, e.g. ``10wd``."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise ValueError(f"unknown unit {self.unit!r} (expected {', '.join(_UNITS)})")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"amount must be a positive integer, not {self.amount!r}")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def is_exact(self) -> bool:
        """True for ``h`` and ``s``: elapsed time, not counted on the calendar."""
        return self.unit in ("h", "s")


def parse_duration(text: str) -> Duration:
    """Parse ``"10wd"``, ``"30d"``, ``"3mo"``, ``"24h"`` or ``"30s"``.

    Raises:
        ValueError: e.g. ``"10x": unknown unit 'x' (expected wd, d, mo, h, s)``.
    """
    match = _SYNTAX.fullmatch(text)
    if match is None:
        raise ValueError(
            f'"{text}": not a duration (expected a whole number and a unit, e.g. 10wd)'
        )
    amount, unit = int(match.group(1)), match.group(2)
    if unit not in _UNITS:
        raise ValueError(f'"{text}": unknown unit {unit!r} (expected {", ".join(_UNITS)})')
    if amount < 1:
        raise ValueError(f'"{text}": the amount must be at least 1')
    return Duration(amount, unit)  # type: ignore[arg-type]  # checked against _UNITS above


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later, clamped to the month's end (art. 201)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, gregorian.monthrange(year, month)[1]))


def due_at(
    start: datetime, duration: Duration, calendar: WorkCalendar, tz: ZoneInfo = COUNTY_TZ
) -> datetime:
    """The instant a period of ``duration`` that starts at ``start`` runs out, aware in ``tz``.

    Raises:
        ValueError: ``start`` is naive.
    """
    _require_aware(start)
    local = start.astimezone(tz)
    if duration.unit == "h":
        return (start + timedelta(hours=duration.amount)).astimezone(tz)
    if duration.unit == "s":
        return (start + timedelta(seconds=duration.amount)).astimezone(tz)
    if duration.unit == "wd":
        last = calendar.add_workdays(local.date(), duration.amount)
    elif duration.unit == "d":
        last = calendar.next_workday(local.date() + timedelta(days=duration.amount))
    else:
        last = calendar.next_workday(add_months(local.date(), duration.amount))
    return _midnight(last + timedelta(days=1), tz)


def last_day_of(due: datetime, tz: ZoneInfo = COUNTY_TZ) -> date:
    """The local day on which a deadline falls: the day before when it is 00:00 (24:00)."""
    local = due.astimezone(tz)
    if local.time() == time(0):
        return local.date() - timedelta(days=1)
    return local.date()


def warn_at(
    start: datetime,
    due: datetime,
    warning: Duration | float,
    calendar: WorkCalendar,
    tz: ZoneInfo = COUNTY_TZ,
) -> datetime:
    """When to warn that the deadline ``due`` of a period begun at ``start`` approaches.

    * a fraction ``f`` (``"20%"`` in the policy is 0.2): ``due - f * (due - start)``;
    * ``n h`` / ``n s``: exactly that long before ``due``;
    * ``n wd``: 00:00 of the ``n``-th working day before the last day, so with
      ``1wd`` and a deadline at the end of Thursday the warning fires as Wednesday
      begins and the handler has all of Wednesday and Thursday;
    * ``n d`` / ``n mo``: 00:00 of the day ``n`` days / months before the last day.

    The last day is the local day ``due`` falls in (the day before, when ``due`` is
    00:00). The result is never earlier than ``start`` nor later than ``due``.

    Raises:
        ValueError: a naive datetime, or a fraction outside ``(0, 1]``.
    """
    _require_aware(start)
    _require_aware(due)
    if isinstance(warning, Duration):
        if warning.unit in ("h", "s"):
            seconds = warning.amount * (3600 if warning.unit == "h" else 1)
            moment = due - timedelta(seconds=seconds)
        else:
            last = last_day_of(due, tz)
            if warning.unit == "wd":
                day = calendar.subtract_workdays(last, warning.amount)
            elif warning.unit == "d":
                day = last - timedelta(days=warning.amount)
            else:
                day = add_months(last, -warning.amount)
            moment = _midnight(day, tz)
    else:
        if not 0 < warning <= 1:
            raise ValueError(f"a warning fraction must be in (0, 1], not {warning!r}")
        moment = due - (due - start) * warning
    return max(start, min(moment, due)).astimezone(tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; SLA times must be aware")
