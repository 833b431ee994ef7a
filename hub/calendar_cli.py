"""``sihub calendar``: show and edit the county working-day calendar file.

The file is ``--file``, else ``$SIHUB_CALENDAR``, else ``./sihub-calendar.toml``.
Reading a file that does not exist gives the ``chinesecalendar`` seed, so the
first ``set`` writes the whole seed plus the change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

import click

from hub.domain.calendar import WorkCalendar, default_calendar

__all__ = ["DEFAULT_CALENDAR_FILE", "calendar"]

#: Where the calendar lives when neither ``--file`` nor ``SIHUB_CALENDAR`` says.
DEFAULT_CALENDAR_FILE = "sihub-calendar.toml"
_DATE = click.DateTime(formats=["%Y-%m-%d"])
F = TypeVar("F", bound=Callable[..., object])


def _file_option(command: F) -> F:
    return click.option(
        "--file",
        "path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SIHUB_CALENDAR",
        default=DEFAULT_CALENDAR_FILE,
        show_default=True,
        help="Calendar file (env SIHUB_CALENDAR).",
    )(command)


def _read(path: Path) -> WorkCalendar:
    try:
        return default_calendar(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _source(path: Path) -> str:
    return str(path) if path.exists() else f"chinesecalendar seed ({path} does not exist)"


@click.group(name="calendar")
def calendar() -> None:
    """Show and edit the county working-day calendar (holidays and 调休)."""


@calendar.command()
@click.option("--year", type=int, default=None, help="Year to show [default: this year].")
@_file_option
def show(year: int | None, path: Path) -> None:
    """Print the holidays and make-up workdays of a year."""
    cal = _read(path)
    # The only clock read of the SLA engine, and only to pick a default for a person.
    shown = year if year is not None else date.today().year
    click.echo(f"calendar: {_source(path)}")
    if not cal.knows(shown):
        click.echo(f"{shown}: not in the calendar: Monday-Friday fallback, no holidays")
        return
    click.echo(f"{shown}: known")
    for entry in cal.days(shown):
        click.echo(f"{entry.day.isoformat()} {entry.day:%a}  {entry.kind:<7}  {entry.name}")


@calendar.command(name="set")
@click.argument("day", metavar="DATE", type=_DATE)
@click.argument("kind", type=click.Choice(["holiday", "workday"]))
@click.option("--name", required=True, help="What the day is, e.g. 'National Day'.")
@_file_option
def set_day(day: datetime, kind: str, name: str, path: Path) -> None:
    """Make DATE a named holiday or workday, writing the file."""
    cal = _read(path)
    if not cal.knows(day.year):
        click.echo(
            f"note: {day.year} was not in the calendar; from now on only the days listed "
            "for it are holidays or make-up workdays",
            err=True,
        )
    cal.with_day(day.date(), cast(Literal["holiday", "workday"], kind), name).save(path)
    click.echo(f"{day.date().isoformat()}: {kind} {name!r} -> {path}")


@calendar.command()
@click.argument("day", metavar="DATE", type=_DATE)
@_file_option
def unset(day: datetime, path: Path) -> None:
    """Remove DATE from the table: it follows the Monday-Friday rule again."""
    cal = _read(path)
    entry = cal.lookup(day.date())
    if entry is None:
        click.echo(f"{day.date().isoformat()}: not in the calendar, nothing to unset")
        return
    cal.without_day(day.date()).save(path)
    click.echo(f"{day.date().isoformat()}: removed {entry.kind} {entry.name!r} -> {path}")


@calendar.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file (loses its edits).")
@_file_option
def seed(force: bool, path: Path) -> None:
    """Write the chinesecalendar seed (State Council notices) to the file."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite its edits")
    cal = WorkCalendar.from_chinesecalendar()
    cal.save(path)
    years = sorted(cal.known_years)
    click.echo(f"wrote the seed for {years[0]}-{years[-1]} -> {path}")


@calendar.command(name="add-workdays")
@click.argument("day", metavar="DATE", type=_DATE)
@click.argument("n", type=click.IntRange(min=1))
@_file_option
def add_workdays(day: datetime, n: int, path: Path) -> None:
    """Print the N-th working day after DATE (DATE itself not counted)."""
    cal = _read(path)
    result = cal.add_workdays(day.date(), n)
    click.echo(f"{result.isoformat()} {result:%a}")
    for year in sorted(cal.fallback_years):
        click.echo(f"warning: {year} is not in the calendar; counted Monday-Friday", err=True)
