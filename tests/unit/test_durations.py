"""Durations and Civil Code deadline arithmetic on the real 2026 calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.calendar import WorkCalendar
from hub.domain.durations import (
    COUNTY_TZ,
    Duration,
    add_months,
    due_at,
    last_day_of,
    parse_duration,
    warn_at,
)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_chinesecalendar()


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=COUNTY_TZ)


def test_parse_duration_reads_every_unit() -> None:
    assert parse_duration("10wd") == Duration(10, "wd")
    assert parse_duration("30d") == Duration(30, "d")
    assert parse_duration("3mo") == Duration(3, "mo")
    assert parse_duration("24h") == Duration(24, "h")
    assert parse_duration(" 30 s ") == Duration(30, "s")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10x", "\"10x\": unknown unit 'x' (expected wd, d, mo, h, s)"),
        ("10", "\"10\": unknown unit '' (expected wd, d, mo, h, s)"),
        ("wd", '"wd": not a duration'),
        ("-1wd", '"-1wd": not a duration'),
        ("1.5d", '"1.5d": not a duration'),
        ("0wd", '"0wd": the amount must be at least 1'),
    ],
)
def test_parse_duration_rejects_bad_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(message)


def test_duration_refuses_a_unit_or_amount_the_parser_would_refuse() -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        Duration(1, "w")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        Duration(0, "d")


@given(
    amount=st.integers(min_value=1, max_value=10**6),
    unit=st.sampled_from(["wd", "d", "mo", "h", "s"]),
)
def test_duration_str_round_trips_through_parse(amount: int, unit: str) -> None:
    duration = parse_duration(f"{amount}{unit}")
    assert parse_duration(str(duration)) == duration
    assert str(duration) == f"{amount}{unit}"


def test_due_at_1wd_from_friday_25_september_2026_ends_with_monday_28(cal: WorkCalendar) -> None:
    # Transferred at 16:00 on a Mid-autumn holiday; the weekend follows.
    assert due_at(local(2026, 9, 25, 16, 0), Duration(1, "wd"), cal) == local(2026, 9, 29)


def test_due_at_1wd_from_the_eve_of_national_day_ends_after_the_holiday(
    cal: WorkCalendar,
) -> None:
    assert due_at(local(2026, 9, 30, 9, 0), Duration(1, "wd"), cal) == local(2026, 10, 9)


def test_due_at_10wd_routine_handling_spans_the_national_day_week(cal: WorkCalendar) -> None:
    # Working days after 28 Sep: 29, 30 Sep, 8, 9, 10 (调休), 12, 13, 14, 15, 16 Oct.
    assert due_at(local(2026, 9, 28, 11, 0), Duration(10, "wd"), cal) == local(2026, 10, 17)


def test_due_at_counts_from_the_local_date_not_the_utc_date(cal: WorkCalendar) -> None:
    # 18:00 UTC on Thursday 24 Sep is 02:00 on Friday 25 Sep in the county.
    start = datetime(2026, 9, 24, 18, 0, tzinfo=UTC)
    assert due_at(start, Duration(1, "wd"), cal) == local(2026, 9, 29)


def test_due_at_in_days_landing_on_a_holiday_moves_to_the_next_workday(
    cal: WorkCalendar,
) -> None:
    # 21 Sep + 10 days = 1 Oct, National Day: the last day moves to Thursday 8 Oct.
    assert due_at(local(2026, 9, 21, 10, 0), Duration(10, "d"), cal) == local(2026, 10, 9)


def test_due_at_in_days_landing_on_a_weekend_moves_to_monday(cal: WorkCalendar) -> None:
    # 2 Nov 2026 (Mon) + 5 days = Sat 7 Nov, so the last day is Mon 9 Nov.
    assert due_at(local(2026, 11, 2, 10, 0), Duration(5, "d"), cal) == local(2026, 11, 10)


def test_due_at_in_days_landing_on_a_makeup_saturday_does_not_move(cal: WorkCalendar) -> None:
    assert due_at(local(2026, 9, 30, 10, 0), Duration(10, "d"), cal) == local(2026, 10, 11)


def test_due_at_in_months_takes_the_same_day_of_the_month(cal: WorkCalendar) -> None:
    assert due_at(local(2026, 3, 16, 9, 0), Duration(3, "mo"), cal) == local(2026, 6, 17)


def test_due_at_in_months_clamps_to_the_end_of_a_shorter_month(cal: WorkCalendar) -> None:
    # 31 Mar 2025 + 1mo: April has no 31st, so 30 April (a Wednesday) is the last day.
    assert due_at(local(2025, 3, 31, 9, 0), Duration(1, "mo"), cal) == local(2025, 5, 1)
    # 31 Jan 2026 + 1mo = Sat 28 Feb 2026, a Spring Festival 调休 workday: no move.
    assert due_at(local(2026, 1, 31, 9, 0), Duration(1, "mo"), cal) == local(2026, 3, 1)


def test_due_at_in_months_landing_on_a_holiday_moves(cal: WorkCalendar) -> None:
    assert due_at(local(2026, 8, 1, 9, 0), Duration(2, "mo"), cal) == local(2026, 10, 9)


def test_add_months_clamps_in_leap_and_common_years_and_goes_backwards() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


def test_due_at_in_hours_and_seconds_is_exact_elapsed_time(cal: WorkCalendar) -> None:
    start = local(2026, 10, 1, 23, 59, 30)  # on a holiday, which must not matter
    assert due_at(start, Duration(30, "s"), cal) == local(2026, 10, 2, 0, 0, 0)
    assert due_at(start, Duration(48, "h"), cal) == local(2026, 10, 3, 23, 59, 30)


def test_due_at_returns_an_aware_time_in_the_requested_zone(cal: WorkCalendar) -> None:
    start = datetime(2026, 9, 28, 3, 0, tzinfo=UTC)
    due = due_at(start, Duration(1, "wd"), cal, tz=ZoneInfo("Asia/Shanghai"))
    assert due.utcoffset() == timedelta(hours=8)
    assert due_at(start, Duration(30, "s"), cal).utcoffset() == timedelta(hours=8)


def test_due_at_refuses_a_naive_start(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        due_at(datetime(2026, 9, 28, 9, 0), Duration(1, "wd"), cal)


def test_last_day_of_a_midnight_deadline_is_the_day_before() -> None:
    assert last_day_of(local(2026, 10, 9)) == date(2026, 10, 8)
    assert last_day_of(local(2026, 10, 9, 14, 30)) == date(2026, 10, 9)


def test_warn_at_a_fraction_is_that_share_of_the_span_before_due(cal: WorkCalendar) -> None:
    start, due = local(2026, 11, 2, 0, 0), local(2026, 11, 12, 0, 0)
    assert warn_at(start, due, 0.2, cal) == local(2026, 11, 10, 0, 0)
    assert warn_at(start, due, 1.0, cal) == start


def test_warn_at_one_workday_fires_as_the_workday_before_the_last_day_begins(
    cal: WorkCalendar,
) -> None:
    # Due at the end of Thursday 8 Oct 2026; the workday before it is Wed 30 Sep.
    start, due = local(2026, 9, 28, 9, 0), local(2026, 10, 9)
    assert warn_at(start, due, Duration(1, "wd"), cal) == local(2026, 9, 30)


def test_warn_at_days_months_hours_and_seconds_before_due(cal: WorkCalendar) -> None:
    start, due = local(2026, 1, 5, 9, 0), local(2026, 6, 17)  # last day Tue 16 June
    assert warn_at(start, due, Duration(3, "d"), cal) == local(2026, 6, 13)
    assert warn_at(start, due, Duration(1, "mo"), cal) == local(2026, 5, 16)
    assert warn_at(start, due, Duration(2, "h"), cal) == local(2026, 6, 16, 22, 0)
    assert warn_at(start, due, Duration(90, "s"), cal) == local(2026, 6, 16, 23, 58, 30)


def test_warn_at_is_never_earlier_than_start(cal: WorkCalendar) -> None:
    start = local(2026, 9, 30, 9, 0)
    due = due_at(start, Duration(1, "wd"), cal)
    assert warn_at(start, due, Duration(5, "wd"), cal) == start
    assert warn_at(start, start + timedelta(seconds=30), Duration(1, "h"), cal) == start


def test_warn_at_refuses_a_fraction_outside_zero_to_one(cal: WorkCalendar) -> None:
    start, due = local(2026, 11, 2), local(2026, 11, 12)
    for fraction in (0.0, -0.2, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            warn_at(start, due, fraction, cal)


@given(
    start=st.datetimes(min_value=datetime(2004, 1, 1), max_value=datetime(2026, 12, 1)),
    amount=st.integers(min_value=1, max_value=60),
    unit=st.sampled_from(["wd", "d", "mo"]),
)
def test_due_at_calendar_units_end_at_midnight_after_a_workday_later_than_start(
    cal: WorkCalendar, start: datetime, amount: int, unit: str
) -> None:
    aware = start.replace(tzinfo=COUNTY_TZ)
    due = due_at(aware, parse_duration(f"{amount}{unit}"), cal)
    last = last_day_of(due)
    assert due.time() == datetime.min.time()
    assert last > aware.date()
    assert cal.is_workday(last)
    assert aware <= warn_at(aware, due, 0.2, cal) <= due
