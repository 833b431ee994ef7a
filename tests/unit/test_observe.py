"""What the hub did, as metrics: cases registered by intake and category."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from contracts.codes import RejectReason
from hub.domain.calendar import WorkCalendar
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.sla_policy import load_policy
from hub.metrics import HubMetrics
from hub.observe import Observer
from hub.service import Verdict
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


def test_a_batch_of_verdicts_counts_each_message_once_per_outcome_and_times_each_applied_one() -> None:
    registry = CollectorRegistry()
    observer = Observer(HubMetrics(registry))
    registration, accepted = envelope("case.registered"), envelope("case.accepted")
    handled = registration.occurred_at + timedelta(seconds=2)
    batch = [
        Verdict("applied", envelope=registration, handled_at=handled),
        Verdict("applied", envelope=registration, handled_at=handled + timedelta(seconds=1)),
        Verdict("applied", envelope=accepted, handled_at=accepted.occurred_at - timedelta(seconds=5)),
        Verdict("duplicate", envelope=registration),
        Verdict("rejected", RejectReason.SCHEMA_VIOLATION, "payload.x: bad"),
        Verdict("rejected", RejectReason.NOT_PERMITTED, "no", envelope=accepted),
        Verdict("retry", RejectReason.PRECONDITION_FAILED, "early", envelope=accepted),
    ]
    observer.verdicts(batch, 0.01)

    def messages(type_: str, source: str, outcome: str) -> float | None:
        labels = {"type": type_, "source": source, "outcome": outcome}
        return registry.get_sample_value("sihub_messages_total", labels)

    tax, hrss = registration.source.value, accepted.source.value
    assert messages("case.registered", tax, "accepted") == 2
    assert messages("case.registered", tax, "duplicate") == 1
    assert messages("case.accepted", hrss, "accepted") == 1
    assert messages("case.accepted", hrss, "rejected") == 1
    assert messages("unknown", "unknown", "rejected") == 1
    latency = "sihub_message_latency_seconds"
    assert registry.get_sample_value(f"{latency}_count", {"type": "case.registered"}) == 2
    assert registry.get_sample_value(f"{latency}_sum", {"type": "case.registered"}) == 5.0
    # A clock behind the sender's counts as zero, never negative.
    assert registry.get_sample_value(f"{latency}_sum", {"type": "case.accepted"}) == 0.0
    for reason in ("schema_violation", "not_permitted"):
        assert registry.get_sample_value("sihub_message_rejections_total", {"reason": reason}) == 1
    assert registry.get_sample_value("sihub_message_rejections_total", {"reason": "precondition_failed"}) == 0
    assert registry.get_sample_value("sihub_gate_batch_seconds_count") == 1
