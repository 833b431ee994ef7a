"""The county working-day calendar, checked against the real 2026 State Council notice."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.calendar import CalendarDay, WorkCalendar, default_calendar

#: Dates both inside the seed (2004-2026) and beyond it (Monday-Friday fallback).
any_day = st.dates(min_value=date(2004, 1, 1), max_value=date(2028, 12, 31))


@pytest.fixture(scope="module")
def seed() -> WorkCalendar:
    return WorkCalendar.from_chinesecalendar()


def test_seed_knows_every_year_up_to_2026_and_not_2027(seed: WorkCalendar) -> None:
    assert all(seed.knows(year) for year in range(2004, 2027))
    assert not seed.knows(2027)


def test_seed_2026_national_day_week_is_a_holiday_with_its_two_makeup_days(
    seed: WorkCalendar,
) -> None:
    national_day = [date(2026, 10, d) for d in range(1, 8)]
    assert [seed.is_workday(d) for d in national_day] == [False] * 7
    # 调休: Sunday 20 September and Saturday 10 October 2026 are working days.
    assert seed.is_workday(date(2026, 9, 20))
    assert seed.is_workday(date(2026, 10, 10))
    assert seed.is_workday(date(2026, 10, 8))
    assert not seed.is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_seed_2026_spring_festival_runs_15_to_23_february_with_saturday_makeup_days(
    seed: WorkCalendar,
) -> None:
    festival = [date(2026, 2, d) for d in range(15, 24)]
    assert not any(seed.is_workday(d) for d in festival)
    assert seed.is_workday(date(2026, 2, 14))  # Saturday 调休
    assert seed.is_workday(date(2026, 2, 28))  # Saturday 调休
    assert seed.is_workday(date(2026, 2, 24))


def test_seed_days_lists_named_holidays_and_makeup_days_of_the_year_in_order(
    seed: WorkCalendar,
) -> None:
    days_2026 = seed.days(2026)
    assert days_2026 == sorted(days_2026, key=lambda c: c.day)
    assert CalendarDay(date(2026, 10, 1), "holiday", "National Day") in days_2026
    assert CalendarDay(date(2026, 10, 10), "workday", "National Day 调休") in days_2026
    assert {c.day.year for c in days_2026} == {2026}
    # Only named days are stored: an ordinary weekend is derived, not listed.
    assert date(2026, 10, 17) not in {c.day for c in days_2026}


def test_add_workdays_from_friday_25_september_2026_skips_mid_autumn_weekend(
    seed: WorkCalendar,
) -> None:
    # 25 Sep 2026 is itself a Mid-autumn holiday (Friday), and the 26th/27th a weekend:
    # one working day after it is Monday 28 September, before National Day.
    assert seed.add_workdays(date(2026, 9, 25), 1) == date(2026, 9, 28)


def test_add_workdays_from_the_eve_of_national_day_lands_after_the_holiday(
    seed: WorkCalendar,
) -> None:
    assert seed.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    # 8 and 9 October, then the 调休 Saturday 10 October, then Monday 12 October.
    assert seed.add_workdays(date(2026, 9, 30), 4) == date(2026, 10, 12)


def test_next_workday_is_the_day_itself_when_it_is_a_workday(seed: WorkCalendar) -> None:
    assert seed.next_workday(date(2026, 10, 10)) == date(2026, 10, 10)
    assert seed.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)


def test_subtract_workdays_counts_back_over_the_holiday(seed: WorkCalendar) -> None:
    assert seed.subtract_workdays(date(2026, 10, 8), 1) == date(2026, 9, 30)
    assert seed.subtract_workdays(date(2026, 10, 12), 3) == date(2026, 10, 8)


def test_workdays_between_counts_the_end_day_but_not_the_start_day(seed: WorkCalendar) -> None:
    assert seed.workdays_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert seed.workdays_between(date(2026, 10, 8), date(2026, 10, 8)) == 0
    assert seed.workdays_between(date(2026, 10, 9), date(2026, 10, 8)) == 0


def test_crossing_into_unknown_2027_falls_back_to_monday_to_friday_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar.from_chinesecalendar()
    with caplog.at_level(logging.WARNING, logger="sihub.calendar"):
        # Thu 31 Dec 2026 + 1wd: Fri 1 Jan 2027 is a weekday in the fallback.
        assert calendar.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)
        assert calendar.add_workdays(date(2027, 1, 1), 1) == date(2027, 1, 4)  # over a weekend
        assert not calendar.is_workday(date(2027, 1, 2))
    warnings = [r for r in caplog.records if r.name == "sihub.calendar"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage()
    assert calendar.fallback_years == frozenset({2027})


def test_known_years_never_enter_the_fallback_record() -> None:
    calendar = WorkCalendar.from_chinesecalendar()
    calendar.add_workdays(date(2025, 1, 1), 300)
    assert calendar.fallback_years == frozenset()


def test_with_day_returns_an_edited_copy_and_leaves_the_original_alone(
    seed: WorkCalendar,
) -> None:
    flood_day = date(2026, 7, 15)  # a Wednesday
    edited = seed.with_day(flood_day, "holiday", "county flood emergency")
    assert not edited.is_workday(flood_day)
    assert seed.is_workday(flood_day)
    assert edited.add_workdays(date(2026, 7, 14), 1) == date(2026, 7, 16)
    assert edited.without_day(flood_day) == seed


def test_with_day_turns_a_holiday_into_a_workday_and_removes_the_holiday_entry(
    seed: WorkCalendar,
) -> None:
    edited = seed.with_day(date(2026, 10, 7), "workday", "county override")
    assert edited.is_workday(date(2026, 10, 7))
    assert edited.lookup(date(2026, 10, 7)) == CalendarDay(
        date(2026, 10, 7), "workday", "county override"
    )


def test_with_day_in_an_unknown_year_makes_the_year_known(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar.from_chinesecalendar().with_day(
        date(2027, 1, 1), "holiday", "New Year's Day"
    )
    with caplog.at_level(logging.WARNING, logger="sihub.calendar"):
        assert calendar.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert calendar.knows(2027)
    assert calendar.fallback_years == frozenset()
    assert not caplog.records


def test_save_then_load_gives_back_the_same_calendar(seed: WorkCalendar, tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    edited = seed.with_day(date(2026, 7, 15), "holiday", 'quoted "name" \\ with 调休')
    edited.save(path)
    assert WorkCalendar.load(path) == edited
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away


def test_saved_file_is_plain_toml_an_administrator_can_edit(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    WorkCalendar({date(2026, 10, 1): "National Day"}, {date(2026, 10, 10): "调休"}, [2026]).save(
        path
    )
    text = path.read_text(encoding="utf-8")
    assert "[years]\nknown = [2026]\n" in text
    assert '"2026-10-01" = "National Day"' in text
    assert '"2026-10-10" = "调休"' in text
    path.write_text(
        text.replace('"2026-10-10" = "调休"', '"2026-10-10" = "调休"\n"2026-10-11" = "x"')
    )
    assert WorkCalendar.load(path).is_workday(date(2026, 10, 11))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[holidays]\n"2026-13-01" = "x"\n', r"line 2: \[holidays\] '2026-13-01': is not a date"),
        ('[holidays]\n"20261001" = "x"\n', r"line 2: .*expected YYYY-MM-DD"),
        ('[years]\nknown = [2026]\n[workdays]\n"2026-10-10" = 5\n', r"line 4: .*must be a string"),
        ("[years]\nknown = 2026\n", r"line 2: \[years\] 'known'"),
        ("[holiday]\n", r"line 1: \[holiday\]: unknown section"),
        ('[holidays]\n"2026-10-01" = "x"\n[workdays]\n"2026-10-01" = "y"\n', r"line 4: .*both"),
        ("[holidays\n", r"not valid TOML.*line 1"),
    ],
)
def test_load_rejects_bad_content_naming_file_line_and_key(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=expected) as caught:
        WorkCalendar.load(path)
    assert str(path) in str(caught.value)


def test_default_calendar_is_the_file_when_it_exists_else_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    assert default_calendar(path) == WorkCalendar.from_chinesecalendar()
    assert default_calendar(None) == WorkCalendar.from_chinesecalendar()
    WorkCalendar({}, {}, [2026]).save(path)
    assert not default_calendar(path).knows(2025)


@given(start=any_day, n=st.integers(min_value=1, max_value=400))
def test_add_workdays_lands_on_a_workday_strictly_after_start(
    seed: WorkCalendar, start: date, n: int
) -> None:
    end = seed.add_workdays(start, n)
    assert end > start
    assert seed.is_workday(end)
    assert seed.workdays_between(start, end) == n
    assert seed.workdays_between(start, end - timedelta(days=1)) == n - 1


@given(end=any_day, n=st.integers(min_value=1, max_value=400))
def test_subtract_workdays_undoes_add_workdays(seed: WorkCalendar, end: date, n: int) -> None:
    workday_end = seed.next_workday(end)
    assert seed.add_workdays(seed.subtract_workdays(workday_end, n), n) == workday_end


@given(day=any_day)
def test_next_workday_is_the_first_workday_on_or_after_the_day(
    seed: WorkCalendar, day: date
) -> None:
    found = seed.next_workday(day)
    assert seed.is_workday(found)
    assert all(not seed.is_workday(day + timedelta(days=i)) for i in range((found - day).days))
