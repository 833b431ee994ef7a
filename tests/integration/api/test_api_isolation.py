"""Token isolation: every department against every other department's case.

A department sees a case it follows (owner, participant, coordinator, intake), the
task force sees cases from the difficult tier up, the leading-group office sees
all; every other department gets 404, exactly as for a case that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.codes import Department

from .conftest import HubServer
from .helpers import envelope, registration

pytestmark = pytest.mark.integration

CALLERS = [d for d in Department if d is not Department.HUB]
#: Departments that register at a window (the task force and the office take cases by escalation).
INTAKES = [d for d in CALLERS if d not in (Department.TASKFORCE, Department.LGO)]
#: Payload variants routed to different owners: pension before the change (hrss), medical
#: before it (medins), any fee after it (tax).
VARIANTS: list[dict[str, Any]] = [
    {},
    {"insurance_types": ["310"]},
    {"fee_period": {"start": "2025-01", "end": "2025-06"}},
]


def _followers(view: dict[str, Any]) -> set[str]:
    named = {view["owner"], view["intake"], *view["participants"], view["coordinator"]}
    return {d for d in named if d} | {"lgo"} | ({"taskforce"} if view["tier"] != "routine" else set())


@pytest.fixture(scope="module")
def ledger(hub_server: HubServer) -> list[dict[str, Any]]:
    """One case per intake department (owners varied), and one escalated to the task force."""
    views = []
    for number, intake in enumerate(INTAKES):
        with hub_server.client(intake) as client:
            answer = client.post("/v1/cases", json=registration(**VARIANTS[number % len(VARIANTS)]))
            assert answer.status_code == 201, answer.text
            views.append(answer.json())
    escalated = views[0]
    payload = {"from_tier": "routine", "to_tier": "difficult", "trigger": "manual", "reason": "无法限时办结"}
    with hub_server.client(escalated["owner"]) as owner:
        sent = owner.post("/v1/messages", content=envelope(
            "case.accepted", escalated["case_id"], type="case.escalated", source=escalated["owner"],
            payload=payload))  # fmt: skip
        assert sent.status_code == 202, sent.text
        views[0] = owner.get(f"/v1/cases/{escalated['case_id']}").json()
    assert {v["owner"] for v in views} >= {"hrss", "medins", "tax"}
    return views


def test_every_department_sees_exactly_the_cases_it_follows(hub_server: HubServer, ledger: list[dict[str, Any]]) -> None:
    unknown_answer: dict[str, Any] | None = None
    for caller in CALLERS:
        with hub_server.client(caller) as client:
            for view in ledger:
                answer = client.get(f"/v1/cases/{view['case_id']}")
                if caller.value in _followers(view):
                    assert answer.status_code == 200, (caller, view["case_id"])
                    assert answer.json()["case_id"] == view["case_id"]
                else:
                    assert answer.status_code == 404, (caller, view["case_id"], answer.text)
                    unknown_answer = unknown_answer or client.get("/v1/cases/tax-2099-000001").json()
                    assert answer.json() == unknown_answer  # nothing tells it apart from a missing case


def test_every_departments_ledger_lists_exactly_the_cases_it_may_see(
    hub_server: HubServer, ledger: list[dict[str, Any]]
) -> None:
    ours = {view["case_id"] for view in ledger}
    for caller in CALLERS:
        with hub_server.client(caller) as client:
            listed: set[str] = set()
            url: str | None = "/v1/cases?limit=100"
            while url is not None:
                page = client.get(url).json()
                listed |= {item["case_id"] for item in page["items"]}
                url = page["next"]
        expected = {view["case_id"] for view in ledger if caller.value in _followers(view)}
        assert listed & ours == expected, caller


def test_the_escalated_case_is_the_task_forces_and_the_routine_ones_are_not(ledger: list[dict[str, Any]]) -> None:
    # Guards the matrix above: it must contain both kinds for the task force rule to be tested.
    assert [view["tier"] for view in ledger].count("difficult") == 1
    assert sum(view["tier"] == "routine" for view in ledger) == len(ledger) - 1
