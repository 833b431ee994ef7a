"""The SLA policy: shipped legal defaults, overridden key by key by a county's file."""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from hub.domain.calendar import WorkCalendar
from hub.domain.durations import COUNTY_TZ, Duration
from hub.domain.sla_policy import KEYS_OF_RECORD, Schedule, load_policy

#: DESIGN §5, table of record.
DESIGN_DEFAULTS = {
    "routine.sign": Duration(1, "wd"),
    "routine.transfer_objection": Duration(5, "wd"),
    "routine.handle": Duration(10, "wd"),
    "routine.feedback": Duration(2, "wd"),
    "difficult.convene": Duration(5, "wd"),
    "difficult.handle": Duration(30, "d"),
    "major.handle": Duration(60, "d"),
    "major.extension": Duration(30, "d"),
    "petition.accept": Duration(15, "d"),
    "payment.receipt": Duration(1, "wd"),
    "arrears.earliest_enforcement": Duration(10, "wd"),
    "arrears.latest_enforcement": Duration(3, "mo"),
    "court.accept": Duration(5, "d"),
    "court.rule": Duration(7, "d"),
}
COUNTY_PRACTICE = {
    "difficult.sign": Duration(1, "wd"),
    "major.sign": Duration(1, "wd"),
    "joint_meeting.convene": Duration(10, "wd"),
    "joint_meeting.handle": Duration(60, "d"),
    "difficult.feedback": Duration(2, "wd"),
    "major.feedback": Duration(2, "wd"),
    "joint_meeting.feedback": Duration(2, "wd"),
    "petition.handle": Duration(60, "d"),
    "arrears.confirm": Duration(5, "wd"),
    "court.conclude": Duration(6, "mo"),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_has_the_design_figures_and_the_county_practice_keys() -> None:
    policy = load_policy(None)
    assert dict(policy.deadlines) == DESIGN_DEFAULTS | COUNTY_PRACTICE
    assert policy.warning == pytest.approx(0.2)
    assert policy.keys() == KEYS_OF_RECORD


def test_shipped_defaults_file_lists_exactly_the_keys_of_record() -> None:
    text = resources.files("hub.defaults").joinpath("sla_policy.toml").read_text("utf-8")
    document = tomllib.loads(text)
    assert tuple(document["deadlines"]) == KEYS_OF_RECORD
    assert document["warnings"] == {"before": "20%"}


def test_policy_file_overrides_only_the_keys_it_sets(tmp_path: Path) -> None:
    path = write(tmp_path, '[deadlines]\n"routine.sign" = "30s"\n"routine.handle" = "2h"\n')
    policy = load_policy(path)
    assert policy.duration("routine.sign") == Duration(30, "s")
    assert policy.duration("routine.handle") == Duration(2, "h")
    assert policy.duration("court.rule") == Duration(7, "d")
    assert policy.warning == pytest.approx(0.2)


def test_policy_file_may_set_the_warning_as_a_duration_or_a_percentage(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, '[warnings]\nbefore = "1wd"\n')).warning == Duration(1, "wd")
    assert load_policy(write(tmp_path, '[warnings]\nbefore = "12.5%"\n')).warning == 0.125


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[deadlines]\n"routine.sing" = "1wd"\n', "'routine.sing'"),
        ('[deadlines]\n"routine.sign" = "1x"\n', "'routine.sign'"),
        ('[deadlines]\n"routine.sign" = 5\n', "'routine.sign'"),
        ('[deadline]\n"routine.sign" = "1wd"\n', "[deadline]"),
        ('deadlines = "1wd"\n', "'deadlines'"),
        ('[warnings]\nbefore = "120%"\n', "'before'"),
        ('[warnings]\nbefore = "soon"\n', "'before'"),
        ('[warnings]\nafter = "1wd"\n', "'after'"),
        ("[deadlines\n", "not valid TOML"),
    ],
)
def test_bad_policy_file_is_a_value_error_naming_the_key_and_the_file(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        load_policy(path)
    assert named in str(caught.value)
    assert str(path) in str(caught.value)


def test_policy_duration_of_an_unknown_key_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="routine.nope"):
        load_policy(None).duration("routine.nope")


def test_policy_schedule_gives_due_and_warning_times_for_a_seconds_demo_policy(
    tmp_path: Path,
) -> None:
    policy = load_policy(write(tmp_path, '[deadlines]\n"routine.sign" = "30s"\n'))
    start = datetime(2026, 10, 1, 9, 0, 0, tzinfo=COUNTY_TZ)
    assert policy.schedule("routine.sign", start, WorkCalendar({}, {}, [])) == Schedule(
        due_at=datetime(2026, 10, 1, 9, 0, 30, tzinfo=COUNTY_TZ),
        warn_at=datetime(2026, 10, 1, 9, 0, 24, tzinfo=COUNTY_TZ),
    )
