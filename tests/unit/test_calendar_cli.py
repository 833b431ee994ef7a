"""``sihub calendar``: operators show, edit and query the working-day calendar file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.calendar_cli import calendar
from hub.domain.calendar import WorkCalendar


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sihub-calendar.toml"


def test_calendar_show_lists_the_2026_holidays_and_makeup_days_of_the_seed(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(calendar, ["show", "--year", "2026", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "chinesecalendar seed" in result.output
    assert "2026: known" in result.output
    assert "2026-10-01 Thu  holiday  National Day" in result.output
    assert "2026-10-10 Sat  workday  National Day 调休" in result.output


def test_calendar_show_says_an_unknown_year_is_on_the_monday_to_friday_fallback(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(calendar, ["show", "--year", "2027", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "2027: not in the calendar: Monday-Friday fallback" in result.output


def test_calendar_set_writes_the_seed_plus_the_new_day_to_the_file(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(
        calendar, ["set", "2026-07-15", "holiday", "--name", "flood day", "--file", str(path)]
    )
    assert result.exit_code == 0, result.output
    saved = WorkCalendar.load(path)
    assert not saved.is_workday(date(2026, 7, 15))
    assert not saved.is_workday(date(2026, 10, 1))  # the seed came along


def test_calendar_set_in_an_unknown_year_warns_that_the_year_becomes_known(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(
        calendar, ["set", "2027-01-01", "holiday", "--name", "New Year", "--file", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "2027 was not in the calendar" in result.output
    assert WorkCalendar.load(path).knows(2027)


def test_calendar_unset_returns_the_day_to_the_weekday_rule(runner: CliRunner, path: Path) -> None:
    runner.invoke(calendar, ["seed", "--file", str(path)])
    result = runner.invoke(calendar, ["unset", "2026-10-05", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "removed holiday 'National Day'" in result.output
    assert WorkCalendar.load(path).is_workday(date(2026, 10, 5))  # a Monday again
    again = runner.invoke(calendar, ["unset", "2026-10-05", "--file", str(path)])
    assert "nothing to unset" in again.output


def test_calendar_seed_writes_the_seed_and_refuses_to_overwrite_without_force(
    runner: CliRunner, path: Path
) -> None:
    assert runner.invoke(calendar, ["seed", "--file", str(path)]).exit_code == 0
    assert WorkCalendar.load(path) == WorkCalendar.from_chinesecalendar()
    refused = runner.invoke(calendar, ["seed", "--file", str(path)])
    assert refused.exit_code != 0
    assert "--force" in refused.output
    assert runner.invoke(calendar, ["seed", "--force", "--file", str(path)]).exit_code == 0


def test_calendar_add_workdays_prints_the_day_after_national_day(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(calendar, ["add-workdays", "2026-09-30", "1", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "2026-10-08 Thu"


def test_calendar_add_workdays_into_an_unknown_year_says_it_used_the_fallback(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(calendar, ["add-workdays", "2026-12-31", "1", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "2027-01-01 Fri" in result.output
    assert "warning: 2027 is not in the calendar" in result.output


def test_calendar_file_defaults_to_the_sihub_calendar_environment_variable(
    runner: CliRunner, path: Path
) -> None:
    result = runner.invoke(
        calendar,
        ["set", "2026-07-15", "holiday", "--name", "flood day"],
        env={"SIHUB_CALENDAR": str(path)},
    )
    assert result.exit_code == 0, result.output
    assert WorkCalendar.load(path).lookup(date(2026, 7, 15)) is not None


def test_calendar_reports_a_broken_file_without_a_traceback(runner: CliRunner, path: Path) -> None:
    path.write_text('[holidays]\n"2026-02-30" = "x"\n', encoding="utf-8")
    result = runner.invoke(calendar, ["show", "--year", "2026", "--file", str(path)])
    assert result.exit_code == 1
    assert "line 2" in result.output
    assert "2026-02-30" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
