"""The SLA policy: a deadline per tier and stage, and when to warn before it (DESIGN §5).

The shipped defaults live in ``hub/defaults/sla_policy.toml``. A county's policy
file (``SIHUB_SLA_POLICY``) overrides them key by key: a file that sets only
``"routine.sign" = "30s"`` keeps every other default. Tests and demos use seconds.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from hub.domain.calendar import WorkCalendar
from hub.domain.durations import COUNTY_TZ, Duration, due_at, parse_duration, warn_at

__all__ = [
    "DEFAULT_POLICY_PACKAGE",
    "DEFAULT_POLICY_RESOURCE",
    "KEYS_OF_RECORD",
    "Schedule",
    "SlaPolicy",
    "load_policy",
    "parse_policy",
]

#: Every key a policy may set: ``<tier or flow>.<stage>``. The first fourteen are
#: DESIGN §5; the rest are county practice with defaults in the shipped file.
KEYS_OF_RECORD: Final[tuple[str, ...]] = (
    "routine.sign",
    "routine.transfer_objection",
    "routine.handle",
    "routine.feedback",
    "difficult.convene",
    "difficult.handle",
    "major.handle",
    "major.extension",
    "petition.accept",
    "payment.receipt",
    "arrears.earliest_enforcement",
    "arrears.latest_enforcement",
    "court.accept",
    "court.rule",
    "difficult.sign",
    "major.sign",
    "joint_meeting.convene",
    "joint_meeting.handle",
    "difficult.feedback",
    "major.feedback",
    "joint_meeting.feedback",
    "petition.handle",
    "arrears.confirm",
    "court.conclude",
)
#: Where the shipped defaults are: package and file name.
DEFAULT_POLICY_PACKAGE: Final = "hub.defaults"
DEFAULT_POLICY_RESOURCE: Final = "sla_policy.toml"
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


@dataclass(frozen=True)
class Schedule:
    """When a stage's deadline runs out and when to warn about it (both aware)."""

    due_at: datetime
    warn_at: datetime


@dataclass(frozen=True)
class SlaPolicy:
    """Deadline durations by key, and the warning: a Duration or a fraction of the span."""

    deadlines: Mapping[str, Duration]
    warning: Duration | float

    def duration(self, key: str) -> Duration:
        """The duration of stage ``key``, e.g. ``policy.duration("routine.handle")``.

        Raises:
            KeyError: ``key`` is not in the policy.
        """
        try:
            return self.deadlines[key]
        except KeyError:
            raise KeyError(f"no SLA deadline {key!r} in the policy") from None

    def keys(self) -> tuple[str, ...]:
        """The policy's keys, in the order of record."""
        return tuple(self.deadlines)

    def schedule(
        self, key: str, start: datetime, calendar: WorkCalendar, tz: ZoneInfo = COUNTY_TZ
    ) -> Schedule:
        """The deadline and warning time of stage ``key`` begun at the aware ``start``."""
        due = due_at(start, self.duration(key), calendar, tz)
        return Schedule(due_at=due, warn_at=warn_at(start, due, self.warning, calendar, tz))


def parse_policy(text: str, source: str, base: SlaPolicy | None = None) -> SlaPolicy:
    """Parse policy TOML over ``base`` (every key of ``base`` not set here is kept).

    Raises:
        ValueError: bad TOML, an unknown section or key, or a bad value; the message
            names the key and ``source``.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"SLA policy {source}: not valid TOML: {exc}") from exc
    for section, table in document.items():
        if section not in ("deadlines", "warnings"):
            raise ValueError(
                f"SLA policy {source}: unknown section [{section}] "
                "(expected [deadlines] and [warnings])"
            )
        if not isinstance(table, dict):
            raise ValueError(f"SLA policy {source}: {section!r} must be a [{section}] table")

    deadlines: dict[str, Duration] = dict(base.deadlines) if base else {}
    for key, value in document.get("deadlines", {}).items():
        if key not in KEYS_OF_RECORD:
            raise ValueError(
                f"SLA policy {source}: unknown key [deadlines] {key!r} "
                f"(known keys: {', '.join(KEYS_OF_RECORD)})"
            )
        deadlines[key] = _duration(value, f"[deadlines] {key!r}", source)

    warnings = document.get("warnings", {})
    for key in warnings:
        if key != "before":
            raise ValueError(f"SLA policy {source}: unknown key [warnings] {key!r}")
    if "before" in warnings:
        warning = _warning(warnings["before"], source)
    elif base is not None:
        warning = base.warning
    else:
        raise ValueError(f"SLA policy {source}: missing [warnings] 'before'")

    missing = [key for key in KEYS_OF_RECORD if key not in deadlines]
    if missing:
        raise ValueError(f"SLA policy {source}: missing [deadlines] {', '.join(missing)}")
    ordered = {key: deadlines[key] for key in KEYS_OF_RECORD}
    return SlaPolicy(deadlines=MappingProxyType(ordered), warning=warning)


def load_policy(path: Path | None) -> SlaPolicy:
    """The shipped defaults, overridden key by key by the file at ``path`` if given.

    Raises:
        ValueError: the file's content is wrong (see :func:`parse_policy`).
        OSError: the file cannot be read.
    """
    # hub.defaults is a regular package so that this also works when an editable
    # install makes ``hub`` itself a namespace package.
    resource = resources.files(DEFAULT_POLICY_PACKAGE).joinpath(DEFAULT_POLICY_RESOURCE)
    policy = parse_policy(resource.read_text("utf-8"), f"(built-in) hub/defaults/{resource.name}")
    if path is None:
        return policy
    return parse_policy(path.read_text(encoding="utf-8"), str(path), base=policy)


def _duration(value: object, where: str, source: str) -> Duration:
    if not isinstance(value, str):
        raise ValueError(f'SLA policy {source}: {where} must be a string such as "10wd"')
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"SLA policy {source}: {where}: {exc}") from exc


def _warning(value: object, source: str) -> Duration | float:
    """``"20%"`` becomes the fraction 0.2; anything else must be a duration."""
    if isinstance(value, str):
        match = _PERCENT.fullmatch(value)
        if match:
            fraction = float(match.group(1)) / 100
            if not 0 < fraction <= 1:
                raise ValueError(
                    f"SLA policy {source}: [warnings] 'before' = {value!r}: "
                    "a percentage must be above 0% and at most 100%"
                )
            return fraction
    return _duration(value, "[warnings] 'before'", source)
