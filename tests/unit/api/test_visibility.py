"""Who sees which case, and ledger pages gathered from the store's keyset streams."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codes import Department, Tier
from hub.api.visibility import LedgerQuery, ledger_page, matches, may_see
from hub.domain.model import Case, CaseKind, Deadline, Stage

from .helpers import T0

CALLERS = [d for d in Department if d is not Department.HUB]
HANDLERS = [Department.TAX, Department.HRSS, Department.MEDINS, Department.COURT, Department.PETITION]


def _case(number: int, *, owner: Department = Department.HRSS, intake: Department = Department.TAX,
          tier: Tier = Tier.ROUTINE, stage: Stage = Stage.ROUTED, participants: tuple[Department, ...] = (),
          coordinator: Department | None = None, due_in_hours: float | None = None) -> Case:  # fmt: skip
    deadlines: tuple[Deadline, ...] = ()
    if due_in_hours is not None:
        deadlines = (Deadline("routine.sign", owner, tier, T0, T0 + timedelta(hours=due_in_hours), None),)
    return Case(case_id=f"{intake.value}-2026-{number:06d}", kind=CaseKind.DISPUTE, intake=intake,
                registered_at=T0, stage=stage, tier=tier, owner=owner, participants=participants,
                coordinator=coordinator, deadlines=deadlines)  # fmt: skip


def _store_fetch(cases: Sequence[Case]) -> Any:
    """``Tx.list_cases`` over a list, as the store answers it."""

    def fetch(filters: Mapping[str, Any], after: str | None, limit: int) -> list[Case]:
        found = []
        for case in sorted(cases, key=lambda c: c.case_id):
            named = (case.owner, *case.participants, case.coordinator, case.intake)
            if after is not None and case.case_id <= after:
                continue
            if filters.get("department") and filters["department"] not in {d.value for d in named if d}:
                continue
            if filters.get("stage") and case.stage.value != filters["stage"]:
                continue
            if filters.get("tier") and case.tier.value != filters["tier"]:
                continue
            overdue_at: datetime | None = filters.get("overdue_at")
            if overdue_at and not any(d.kind == "sla" and d.due_at <= overdue_at for d in case.deadlines):
                continue
            found.append(case)
        return found[:limit]

    return fetch


def test_a_department_sees_the_cases_it_follows_and_no_other() -> None:
    case = _case(1, owner=Department.HRSS, participants=(Department.MEDINS,), coordinator=Department.PETITION)

    seeing = {d for d in CALLERS if may_see(d, case)}

    assert seeing == {Department.TAX, Department.HRSS, Department.MEDINS, Department.PETITION, Department.LGO}


def test_the_task_force_sees_cases_from_the_difficult_tier_up() -> None:
    by_tier = {tier: may_see(Department.TASKFORCE, _case(1, tier=tier)) for tier in Tier}

    assert by_tier == {Tier.ROUTINE: False, Tier.DIFFICULT: True, Tier.MAJOR: True, Tier.JOINT_MEETING: True}


def test_matches_applies_every_filter() -> None:
    late = _case(1, due_in_hours=-1)
    signed = _case(2, stage=Stage.ACCEPTED, due_in_hours=5)

    assert matches(late, LedgerQuery(status="open", overdue=True), T0)
    assert not matches(late, LedgerQuery(overdue=False), T0)
    assert matches(signed, LedgerQuery(status="accepted", department=Department.TAX), T0)
    assert not matches(signed, LedgerQuery(department=Department.COURT), T0)
    assert not matches(signed, LedgerQuery(tier=Tier.DIFFICULT), T0)
    assert not matches(_case(3, stage=Stage.CLOSED), LedgerQuery(status="open"), T0)


@st.composite
def ledgers(draw: st.DrawFn) -> list[Case]:
    numbers = draw(st.lists(st.integers(1, 60), unique=True, max_size=30))
    return [
        _case(n, intake=draw(st.sampled_from(HANDLERS)), owner=draw(st.sampled_from(HANDLERS)),
              tier=draw(st.sampled_from(list(Tier))), stage=draw(st.sampled_from([Stage.ROUTED, Stage.CLOSED])),
              due_in_hours=draw(st.sampled_from([None, -2.0, 3.0])))  # fmt: skip
        for n in numbers
    ]


def _paged(cases: list[Case], caller: Department, query: LedgerQuery, chunk: int) -> list[str]:
    """Every case id of every page, following ``next`` to the end."""
    fetch = _store_fetch(cases)
    got: list[str] = []
    after: str | None = None
    for _ in range(len(cases) + 2):
        page, after = ledger_page(fetch, caller, LedgerQuery(**{**query.__dict__, "after": after}), T0, chunk=chunk)
        assert len(page) <= query.limit
        got += [c.case_id for c in page]
        if after is None:
            return got
    raise AssertionError("the pages never ended")


def _expected(cases: list[Case], caller: Department, query: LedgerQuery) -> list[str]:
    return sorted(c.case_id for c in cases if may_see(caller, c) and matches(c, query, T0))


@settings(max_examples=150, deadline=None)
@given(
    cases=ledgers(),
    caller=st.sampled_from(CALLERS),
    query=st.builds(
        LedgerQuery,
        status=st.sampled_from([None, "open", "routed", "closed"]),
        department=st.sampled_from([None, *HANDLERS]),
        tier=st.sampled_from([None, *Tier]),
        overdue=st.sampled_from([None, True, False]),
        limit=st.integers(1, 7),
    ),
    chunk=st.integers(1, 9),
)
def test_paging_the_ledger_yields_exactly_the_visible_matching_cases_in_order(
    cases: list[Case], caller: Department, query: LedgerQuery, chunk: int
) -> None:
    assert _paged(cases, caller, query, chunk) == _expected(cases, caller, query)


@settings(max_examples=150, deadline=None)
@given(cases=ledgers(), limit=st.integers(1, 7), chunk=st.integers(1, 9))
def test_the_task_forces_pages_merge_its_streams_without_loss_repeat_or_disorder(
    cases: list[Case], limit: int, chunk: int
) -> None:
    # Unfiltered, the task force's page merges four streams (its own cases, three tiers).
    query = LedgerQuery(limit=limit)
    assert _paged(cases, Department.TASKFORCE, query, chunk) == _expected(cases, Department.TASKFORCE, query)
