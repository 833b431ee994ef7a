"""The benchmarks' accounting: a bench that miscounts would report a broken hub as passing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench._bare_scheduler import messages as bare_messages
from bench.sla import Arrival, Sink, breach_rate, policy, tally
from hub.domain.sla_policy import load_policy

DUE = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WARN = timedelta(seconds=4)


def arrival(type_: str, case: str, late: float, *, due: datetime = DUE, at: float = 0.0) -> Arrival:
    """``type_`` for ``case``, arriving ``late`` seconds after it was due."""
    when = due - WARN if type_ == "sla.warning" else due
    return Arrival(type_, case, due, when + timedelta(seconds=late), at)


def test_lateness_is_measured_from_the_warning_time_and_from_the_deadline() -> None:
    result = tally(
        [arrival("sla.warning", "c1", 0.25), arrival("sla.breached", "c1", 0.75)], ["c1"], WARN
    )

    assert result.warning_lateness == [pytest.approx(0.25)]
    assert result.breach_lateness == [pytest.approx(0.75)]
    assert (result.duplicates, result.missing) == (0, 0)


def test_a_second_firing_counts_as_a_duplicate_and_an_absent_one_as_missing() -> None:
    arrivals = [
        arrival("sla.warning", "c1", 0.1),
        arrival("sla.breached", "c1", 0.1),
        arrival("sla.breached", "c1", 5.1),  # fired twice
        arrival("sla.warning", "c2", 0.1),  # c2 never breached
    ]

    result = tally(arrivals, ["c1", "c2", "c3"], WARN)

    assert result.duplicates == 1
    assert result.missing == 1 + 2  # c2's breach, c3's warning and breach


def test_without_warnings_expected_a_warning_is_a_surplus_firing() -> None:
    # Deadlines already overdue when the hub starts go straight to the breach.
    result = tally(
        [arrival("sla.breached", "c1", 0.1), arrival("sla.warning", "c1", 0.1)],
        ["c1"],
        WARN,
        warnings=False,
    )

    assert (result.duplicates, result.missing) == (1, 0)


def test_other_cases_and_other_types_are_ignored() -> None:
    arrivals = [
        arrival("sla.breached", "elsewhere", 0.1),
        Arrival("case.routed", "c1", DUE, DUE, 0.0),
        arrival("sla.warning", "c1", 0.1),
        arrival("sla.breached", "c1", 0.1),
    ]

    result = tally(arrivals, ["c1"], WARN)

    assert (len(result.lateness), result.duplicates, result.missing) == (2, 0, 0)


def test_breach_rate_runs_from_the_first_arrival_to_the_last() -> None:
    sink = Sink("amqp://unused")
    sink.arrivals = [arrival("sla.breached", f"c{n}", 0.0, at=10.0 + n * 0.5) for n in range(5)]
    sink.arrivals.insert(2, arrival("sla.warning", "c9", 0.0, at=99.0))

    assert breach_rate(sink) == pytest.approx(4 / 2.0)
    assert breach_rate(sink, since=3) == pytest.approx(2 / 1.0)


def test_the_policy_file_loads_with_the_sign_deadline_and_warning_in_seconds(tmp_path: Path) -> None:
    loaded = load_policy(policy(tmp_path, 10, 4))

    assert str(loaded.duration("routine.sign")) == "10s"
    assert str(loaded.warning) == "4s"


def test_the_bare_scheduler_sends_what_the_hub_sends_for_a_breach() -> None:
    sent = bare_messages(2)

    assert [(m.routing_key, m.headers["x-sihub-type"]) for m in sent[:3]] == [
        ("hrss.sla.breached", "sla.breached"),
        ("hrss.case.escalated", "case.escalated"),
        ("taskforce.case.escalated", "case.escalated"),
    ]
    assert len(sent) == 6
    assert len({m.message_id for m in sent}) == 6
