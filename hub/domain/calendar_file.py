"""The human-editable TOML form of the county working-day calendar.

Pure text in, plain data out: :class:`hub.domain.calendar.WorkCalendar` does the
file I/O and calls these two functions. The format is::

    [years]
    known = [2025, 2026]

    [holidays]
    "2026-10-01" = "National Day"

    [workdays]
    "2026-10-10" = "National Day 调休"

Every day listed makes its year known, whether or not ``known`` names it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

#: ``date.fromisoformat`` also takes ``20261001`` and week dates; the file takes only this.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECTIONS = ("years", "holidays", "workdays")
_HEADER = re.compile(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")


@dataclass(frozen=True)
class CalendarTable:
    """The plain content of a calendar file: named days per kind, and the known years."""

    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    known_years: frozenset[int]


def parse_calendar(text: str, source: str) -> CalendarTable:
    """Parse calendar TOML; ``source`` (usually the path) prefixes every error.

    Raises:
        ValueError: the text is not TOML, or a section, key or value is wrong;
            the message names the source, the line where it can be found and the key.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc

    def fail(section: str, key: str | None, problem: str) -> ValueError:
        line = _line_of(text, section, key)
        where = f"{source}, line {line}" if line else source
        what = f"[{section}]" if key is None else f"[{section}] {key!r}"
        return ValueError(f"{where}: {what}: {problem}")

    for section in document:
        if section not in _SECTIONS:
            raise fail(section, None, f"unknown section (expected one of {', '.join(_SECTIONS)})")
    for section in _SECTIONS:
        if not isinstance(document.get(section, {}), dict):
            raise fail(section, None, "must be a table")

    years_table = document.get("years", {})
    for key in years_table:
        if key != "known":
            raise fail("years", key, "unknown key (expected 'known')")
    known = years_table.get("known", [])
    if not isinstance(known, list) or not all(
        isinstance(y, int) and not isinstance(y, bool) and 1 <= y <= 9999 for y in known
    ):
        raise fail("years", "known", "must be a list of years, e.g. [2025, 2026]")

    tables: dict[str, dict[date, str]] = {}
    for section in ("holidays", "workdays"):
        days: dict[date, str] = {}
        for key, name in document.get(section, {}).items():
            if not _ISO_DATE.fullmatch(key):
                raise fail(section, key, "is not a date (expected YYYY-MM-DD)")
            try:
                day = date.fromisoformat(key)
            except ValueError as exc:
                raise fail(section, key, f"is not a date: {exc}") from exc
            if not isinstance(name, str):
                raise fail(section, key, 'the name must be a string, e.g. "National Day"')
            days[day] = name
        tables[section] = days

    both = sorted(tables["holidays"].keys() & tables["workdays"].keys())
    if both:
        raise fail("workdays", both[0].isoformat(), "is listed both as a holiday and a workday")

    listed_years = {d.year for d in tables["holidays"]} | {d.year for d in tables["workdays"]}
    return CalendarTable(
        holidays=tables["holidays"],
        workdays=tables["workdays"],
        known_years=frozenset(known) | listed_years,
    )


def render_calendar(
    holidays: Mapping[date, str], workdays: Mapping[date, str], known_years: Iterable[int]
) -> str:
    """Render calendar TOML that :func:`parse_calendar` reads back to the same content."""
    years = ", ".join(str(y) for y in sorted(set(known_years)))
    lines = [
        "# sihub county working-day calendar. Edit with `sihub calendar set/unset` or by hand.",
        "# Weekends are rest days and Monday-Friday are working days unless listed below.",
        "# A year not listed in `known` is counted Monday-Friday (the hub logs a warning).",
        "",
        "[years]",
        f"known = [{years}]",
        "",
        "[holidays]",
        *(f'"{d.isoformat()}" = {_toml_string(holidays[d])}' for d in sorted(holidays)),
        "",
        "# make-up working days (调休) that fall on a weekend",
        "[workdays]",
        *(f'"{d.isoformat()}" = {_toml_string(workdays[d])}' for d in sorted(workdays)),
    ]
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """Quote a TOML basic string; control characters must be escaped there."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Find the 1-based line of ``[section]`` or of ``key`` inside it, for error messages."""
    current = ""
    key_pattern = (
        None
        if key is None
        else re.compile(rf"\s*(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
    )
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = header.group(1)
            if key_pattern is None and current == section:
                return number
            continue
        if key_pattern is not None and current == section and key_pattern.match(line):
            return number
    return None
