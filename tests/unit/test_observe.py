"""What the hub did, as metrics: cases registered by intake and category."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from hub.domain.calendar import WorkCalendar
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.sla_policy import load_policy
from hub.metrics import HubMetrics
from hub.observe import Observer
from tests.integration.hubenv import envelope


def registered(registry: CollectorRegistry, department: str, category: str) -> float | None:
    return registry.get_sample_value(
        "sihub_cases_registered_total", {"department": department, "category": category}
    )


def test_registrations_count_by_intake_and_category_and_arrears_as_employer_noncompliance() -> None:
    registry = CollectorRegistry()
    observer = Observer(HubMetrics(registry))
    rules = Rules(load_policy(None), WorkCalendar.from_chinesecalendar())
    for name in ("case.registered", "arrears.notice"):
        message = envelope(name)
        observer.applied(None, transition(None, message, message.occurred_at, rules), message.occurred_at)
    assert registered(registry, "tax", "enrollment_payment_benefit") == 1
    assert registered(registry, "tax", "employer_noncompliance") == 1
