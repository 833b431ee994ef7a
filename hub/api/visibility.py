"""Who sees which case, and the ledger pages a department gets (pure functions).

The rule (docs/api.md):

* a department sees a case it **follows**: the owner, a participant, the
  coordinator, or the intake department;
* the task force (工作专班) also sees every case at the tier it handles or above
  (``difficult``, ``major``, ``joint_meeting``): those are the cases that may reach it;
* the leading-group office (领导小组办公室) sees every case: it oversees the mechanism;
* nobody else sees the case at all: a case one may not see answers 404, exactly as an
  unknown one does.

Only a department that follows a case sees the party's personal data.

A ledger page is gathered from one or more keyset streams of the store
(``Tx.list_cases``, ordered by ``case_id``), merged, and filtered by the same rule,
so a page never shows a case the caller may not see and ``next`` is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from contracts.codes import Department, Tier
from hub.api.views import is_overdue
from hub.domain.model import Case, Stage

#: Tiers whose cases the task force sees without following them.
TASKFORCE_TIERS: Final = (Tier.DIFFICULT, Tier.MAJOR, Tier.JOINT_MEETING)
#: ``status=open``: every stage but closed.
OPEN_STATUS: Final = "open"

#: ``fetch(filters, after, limit)``: cases matching ``filters`` (``Tx.list_cases`` keywords)
#: with ``case_id > after``, ordered by ``case_id``, at most ``limit``.
Fetch = Callable[[Mapping[str, Any], str | None, int], Sequence[Case]]


def follows(department: Department, case: Case) -> bool:
    """Whether ``department`` takes part in ``case`` (owner, participant, coordinator, intake)."""
    return department in (case.owner, *case.participants, case.coordinator, case.intake)


def may_see(department: Department, case: Case) -> bool:
    """Whether ``department`` may see ``case`` at all (see the module docstring)."""
    if department is Department.LGO or follows(department, case):
        return True
    return department is Department.TASKFORCE and case.tier in TASKFORCE_TIERS


@dataclass(frozen=True)
class LedgerQuery:
    """The filters of ``GET /v1/cases``."""

    status: str | None = None  # a stage, or "open"
    department: Department | None = None
    tier: Tier | None = None
    overdue: bool | None = None
    limit: int = 50
    after: str | None = None


def matches(case: Case, query: LedgerQuery, now: datetime) -> bool:
    """Whether ``case`` passes every filter of ``query`` at ``now``."""
    if query.status == OPEN_STATUS and not case.is_open:
        return False
    if query.status not in (None, OPEN_STATUS) and case.stage.value != query.status:
        return False
    if query.department is not None and not follows(query.department, case):
        return False
    if query.tier is not None and case.tier is not query.tier:
        return False
    return query.overdue is None or is_overdue(case, now) == query.overdue


def streams(caller: Department, query: LedgerQuery, now: datetime) -> list[dict[str, Any]]:
    """``Tx.list_cases`` filters whose union holds every case ``caller`` may see that matches.

    They narrow what is read; :func:`matches` and :func:`may_see` still decide.
    """
    base: dict[str, Any] = {
        "stage": query.status if query.status not in (None, OPEN_STATUS) else None,
        "tier": query.tier.value if query.tier is not None else None,
        "overdue_at": now if query.overdue else None,
    }
    named = query.department.value if query.department is not None else None
    if caller is Department.LGO:
        return [{**base, "department": named}]
    found = [{**base, "department": caller.value}]
    if caller is Department.TASKFORCE:
        tiers = [t for t in TASKFORCE_TIERS if query.tier in (None, t)]
        found += [{**base, "tier": t.value, "department": named} for t in tiers]
    return found


def ledger_page(
    fetch: Fetch, caller: Department, query: LedgerQuery, now: datetime, *, chunk: int = 200
) -> tuple[list[Case], str | None]:
    """The cases of one page, and the ``after`` of the next page (``None`` at the end).

    Each stream is read ``chunk`` cases at a time until the page is full.
    """

    def keep(case: Case) -> bool:
        return may_see(caller, case) and matches(case, query, now)

    found: list[Case] = []
    cursor = query.after
    sources = streams(caller, query, now)
    while True:
        batch: dict[str, Case] = {}
        horizon: str | None = None  # past it some stream has not been read yet
        for filters in sources:
            got = fetch(filters, cursor, chunk)
            batch.update((case.case_id, case) for case in got)
            if len(got) == chunk:
                last = got[-1].case_id
                horizon = last if horizon is None else min(horizon, last)
        for case_id in sorted(batch):
            if horizon is not None and case_id > horizon:
                break
            if keep(batch[case_id]):
                found.append(batch[case_id])
                if len(found) > query.limit:
                    return found[: query.limit], found[query.limit - 1].case_id
        if horizon is None:
            return found, None
        cursor = horizon


def stage_names() -> list[str]:
    """Values ``status=`` takes: every stage, and ``open``."""
    return [OPEN_STATUS, *(stage.value for stage in Stage)]
