"""hub.metrics: names of record, bounded labels, scrape-time ledger gauges, promtool-clean."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from contracts.codes import Department, EscalationTrigger, RejectReason, Tier
from hub.domain.sla_policy import KEYS_OF_RECORD
from hub.metrics import (
    STAGES,
    UNKNOWN,
    HubMetrics,
    LedgerSnapshot,
    MessageOutcome,
    register_ledger_collector,
    stage_label,
)
from tests.support.tools import require_tool, run_tool

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

#: DESIGN §8 and the monitoring brief: name -> (type, label names).
NAMES_OF_RECORD: dict[str, tuple[str, set[str]]] = {
    "sihub_messages": ("counter", {"type", "source", "outcome"}),
    "sihub_message_rejections": ("counter", {"reason"}),
    "sihub_sla_breaches": ("counter", {"stage", "tier", "department"}),
    "sihub_sla_warnings": ("counter", {"stage", "tier", "department"}),
    "sihub_escalations": ("counter", {"from_tier", "to_tier", "trigger"}),
    "sihub_cases_registered": ("counter", {"department", "category"}),
    "sihub_cases_closed": ("counter", {"tier", "department", "within_sla"}),
    "sihub_payment_detail_records": ("counter", {"target", "outcome"}),
    "sihub_outbox_published": ("counter", {"target"}),
    "sihub_calendar_fallback_lookups": ("counter", set()),
    "sihub_case_resolution_seconds": ("histogram", {"tier"}),
    "sihub_message_latency_seconds": ("histogram", {"type"}),
    "sihub_stage_duration_seconds": ("histogram", {"stage", "tier"}),
    "sihub_gate_batch_seconds": ("histogram", set()),
    "sihub_cases_open": ("gauge", {"tier", "department", "stage"}),
    "sihub_cases_unsigned": ("gauge", {"tier", "department"}),
    "sihub_case_unsigned_oldest_seconds": ("gauge", {"department"}),
    "sihub_deadlines_due_next_workday": ("gauge", {"tier", "department", "stage"}),
    "sihub_deadlines_overdue": ("gauge", {"tier", "department", "stage"}),
    "sihub_outbox_pending": ("gauge", set()),
    "sihub_outbox_oldest_age_seconds": ("gauge", set()),
    "sihub_payment_batches_awaiting_receipt": ("gauge", {"target"}),
    "sihub_payment_batches_overdue": ("gauge", {"target"}),
    "sihub_quarantine_messages": ("gauge", set()),
    "sihub_calendar_fallback_years": ("gauge", set()),
    "sihub_ready": ("gauge", set()),
    "sihub_broker_connected": ("gauge", set()),
    "sihub_build_info": ("gauge", {"version"}),
}


class FakeLedger:
    """A ledger source that returns a fixed snapshot and counts how often it was read."""

    def __init__(self, snapshot: LedgerSnapshot | None = None, error: Exception | None = None):
        self.snapshot = snapshot or LedgerSnapshot()
        self.error = error
        self.reads: list[datetime] = []

    def ledger_snapshot(self, now: datetime) -> LedgerSnapshot:
        self.reads.append(now)
        if self.error is not None:
            raise self.error
        return self.snapshot


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def busy_snapshot(now: datetime) -> LedgerSnapshot:
    return LedgerSnapshot(
        cases_open=[("routine", "tax", "handle", 4), ("major", "lgo", "handle", 1)],
        cases_unsigned=[("routine", "hrss", 2)],
        unsigned_oldest_routed_at=[("hrss", now - timedelta(hours=30))],
        deadlines_due_next_workday=[("routine", "tax", "handle", 3)],
        deadlines_overdue=[("routine", "hrss", "sign", 1)],
        outbox_pending=5,
        outbox_oldest_created_at=now - timedelta(minutes=7),
        payment_batches_awaiting_receipt=[("hrss", 2)],
        payment_batches_overdue=[("medins", 1)],
        quarantine_messages=3,
        calendar_fallback_years=frozenset({2027}),
    )


def populated_registry() -> CollectorRegistry:
    """A registry with every metric of record carrying at least one sample."""
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, build_version="1.2.3")
    metrics.count_message("case.registered", "tax", MessageOutcome.ACCEPTED)
    metrics.sla_breaches.labels(stage="sign", tier=Tier.ROUTINE, department=Department.HRSS).inc()
    metrics.sla_warnings.labels(stage="sign", tier=Tier.ROUTINE, department=Department.HRSS).inc()
    metrics.cases_registered.labels(department="tax", category="base_and_amount").inc()
    metrics.cases_closed.labels(tier="routine", department="tax", within_sla="true").inc()
    metrics.outbox_published.labels(target="hrss").inc()
    metrics.calendar_fallback_lookups.inc()
    metrics.observe_case_resolution(Tier.ROUTINE, timedelta(days=4))
    metrics.observe_message_latency("case.registered", timedelta(milliseconds=30))
    metrics.observe_stage_duration("routine.handle", Tier.ROUTINE, timedelta(days=2))
    metrics.gate_batch.observe(0.003)
    metrics.set_ready(broker=True, database=True)
    register_ledger_collector(registry, FakeLedger(busy_snapshot(NOW)), Clock(NOW))
    return registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_scrape_exposes_every_metric_of_record_with_its_type_and_labels() -> None:
    scrape = generate_latest(populated_registry()).decode()
    families = {family.name: family for family in text_string_to_metric_families(scrape)}
    for name, (kind, labels) in NAMES_OF_RECORD.items():
        assert name in families, f"{name} missing from the scrape"
        family = families[name]
        assert family.type == kind, name
        sample_labels = {key for sample in family.samples for key in sample.labels} - {"le"}
        assert sample_labels == labels, name


def test_scrape_passes_promtool_check_metrics() -> None:
    promtool = require_tool("promtool", "prometheus")
    checked = run_tool([promtool, "check", "metrics"], stdin=generate_latest(populated_registry()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # promtool prints lint findings (bad names, missing help) even with exit code 0.
    assert checked.stdout.strip() == ""


def test_count_message_keeps_unknown_types_and_sources_out_of_the_labels() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    metrics.count_message("case.registered", "tax", MessageOutcome.ACCEPTED)
    metrics.count_message("tax-2026-000123", "3403221949123100", MessageOutcome.REJECTED)
    assert (
        value(
            registry,
            "sihub_messages_total",
            type="case.registered",
            source="tax",
            outcome="accepted",
        )
        == 1
    )
    assert (
        value(registry, "sihub_messages_total", type=UNKNOWN, source=UNKNOWN, outcome="rejected")
        == 1
    )
    scrape = generate_latest(registry).decode()
    assert "tax-2026-000123" not in scrape
    assert "3403221949123100" not in scrape


def test_rejection_reasons_and_escalation_steps_start_at_zero() -> None:
    registry = CollectorRegistry()
    HubMetrics(registry)
    for reason in RejectReason:
        assert value(registry, "sihub_message_rejections_total", reason=reason.value) == 0
    for trigger in EscalationTrigger:
        labels = {"from_tier": "routine", "to_tier": "difficult", "trigger": trigger.value}
        assert value(registry, "sihub_escalations_total", **labels) == 0
        beyond_top = {
            "from_tier": "joint_meeting",
            "to_tier": "joint_meeting",
            "trigger": trigger.value,
        }
        assert value(registry, "sihub_escalations_total", **beyond_top) is None
    assert (
        value(registry, "sihub_payment_detail_records_total", target="medins", outcome="sent") == 0
    )


def test_stage_label_maps_every_policy_key_of_record_onto_the_stages() -> None:
    labels = {stage_label(key) for key in KEYS_OF_RECORD}
    assert labels == set(STAGES)
    assert stage_label("court.accept") == "court_accept"
    assert stage_label("petition.accept") == "accept"
    assert stage_label("payment.receipt") == "receipt"


def test_stage_label_refuses_a_stage_outside_the_bounded_set() -> None:
    with pytest.raises(ValueError, match="is not one of"):
        stage_label("routine.tax-2026-000123")


def test_observations_take_timedeltas_and_never_go_negative() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    metrics.observe_message_latency("case.closed", timedelta(seconds=-3))
    metrics.observe_case_resolution(Tier.DIFFICULT, timedelta(days=2))
    assert value(registry, "sihub_message_latency_seconds_count", type="case.closed") == 1
    assert value(registry, "sihub_message_latency_seconds_sum", type="case.closed") == 0
    assert value(registry, "sihub_case_resolution_seconds_sum", tier="difficult") == 2 * 86400
    assert (
        value(registry, "sihub_case_resolution_seconds_bucket", tier="difficult", le="86400.0") == 0
    )
    assert (
        value(registry, "sihub_case_resolution_seconds_bucket", tier="difficult", le="172800.0")
        == 1
    )


def test_hub_is_ready_only_with_both_broker_and_database() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, build_version="9.9.9")
    assert value(registry, "sihub_ready") == 0
    metrics.set_ready(broker=True, database=False)
    assert (value(registry, "sihub_ready"), value(registry, "sihub_broker_connected")) == (0, 1)
    metrics.set_ready(broker=True, database=True)
    assert value(registry, "sihub_ready") == 1
    assert value(registry, "sihub_build_info", version="9.9.9") == 1


def test_ledger_gauges_are_computed_at_scrape_time() -> None:
    registry = CollectorRegistry()
    clock = Clock(NOW)
    ledger = FakeLedger(busy_snapshot(NOW))
    register_ledger_collector(registry, ledger, clock)
    assert ledger.reads == []  # registering must not touch the database
    assert value(registry, "sihub_case_unsigned_oldest_seconds", department="hrss") == 30 * 3600
    assert value(registry, "sihub_outbox_oldest_age_seconds") == 7 * 60
    clock.now = NOW + timedelta(minutes=10)
    assert (
        value(registry, "sihub_case_unsigned_oldest_seconds", department="hrss") == 30 * 3600 + 600
    )
    assert value(registry, "sihub_outbox_oldest_age_seconds") == 17 * 60
    assert ledger.reads[-1] == clock.now
    assert value(registry, "sihub_cases_open", tier="major", department="lgo", stage="handle") == 1
    assert (
        value(registry, "sihub_deadlines_overdue", tier="routine", department="hrss", stage="sign")
        == 1
    )
    assert value(registry, "sihub_payment_batches_overdue", target="medins") == 1
    assert value(registry, "sihub_calendar_fallback_years") == 1
    assert value(registry, "sihub_ledger_snapshot_success") == 1


def test_ledger_rows_with_the_same_labels_add_up_and_the_oldest_unsigned_counts() -> None:
    registry = CollectorRegistry()
    snapshot = LedgerSnapshot(
        cases_open=[("routine", "tax", "handle", 4), ("routine", "tax", "handle", 6)],
        unsigned_oldest_routed_at=[
            ("hrss", NOW - timedelta(hours=2)),
            ("hrss", NOW - timedelta(hours=5)),
        ],
    )
    register_ledger_collector(registry, FakeLedger(snapshot), Clock(NOW))
    assert (
        value(registry, "sihub_cases_open", tier="routine", department="tax", stage="handle") == 10
    )
    assert value(registry, "sihub_case_unsigned_oldest_seconds", department="hrss") == 5 * 3600


def test_empty_outbox_has_zero_age_and_clock_skew_gives_no_negative_age() -> None:
    registry = CollectorRegistry()
    future = LedgerSnapshot(unsigned_oldest_routed_at=[("tax", NOW + timedelta(minutes=1))])
    register_ledger_collector(registry, FakeLedger(future), Clock(NOW))
    assert value(registry, "sihub_outbox_oldest_age_seconds") == 0
    assert value(registry, "sihub_outbox_pending") == 0
    assert value(registry, "sihub_case_unsigned_oldest_seconds", department="tax") == 0


@pytest.mark.parametrize(
    ("field", "rows"),
    [
        ("cases_open", [("routine", "tax-2026-000123", "handle", 1)]),
        ("cases_open", [("urgent", "tax", "handle", 1)]),
        ("deadlines_overdue", [("routine", "tax", "lunch", 1)]),
        ("cases_unsigned", [("routine", "tax", -1)]),
        ("payment_batches_overdue", [("Zhang San", 1)]),
    ],
)
def test_ledger_snapshot_refuses_labels_outside_the_values_of_record(
    field: str, rows: list[tuple[object, ...]]
) -> None:
    with pytest.raises(ValueError, match=field):
        LedgerSnapshot(**{field: rows})  # type: ignore[arg-type]


def test_ledger_snapshot_refuses_times_without_an_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        LedgerSnapshot(outbox_pending=1, outbox_oldest_created_at=datetime(2026, 11, 27, 10))


def test_failed_ledger_read_is_reported_and_the_rest_of_the_scrape_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    metrics.set_ready(broker=True, database=False)
    register_ledger_collector(registry, FakeLedger(error=ConnectionError("db down")), Clock(NOW))
    with caplog.at_level(logging.ERROR, logger="sihub.metrics"):
        scrape = generate_latest(registry).decode()
    assert "sihub_ledger_snapshot_success 0.0" in scrape
    assert "sihub_ready 0.0" in scrape
    assert "sihub_cases_open" not in scrape
    assert any("ledger snapshot failed" in record.message for record in caplog.records)
