"""Serve ``/metrics`` of a hub in a realistic scenario, for dashboard and alert tests.

Run as ``python -m tests.support.fake_hub_metrics [--port N]``: it builds the real
:class:`hub.metrics.HubMetrics` and ledger collector on a fresh registry, feeds them
a county scenario (cases in several tiers and departments, an SLA breach, a growing
quarantine, payment batches awaiting receipt), keeps the counters moving while it
runs, and prints ``listening on HOST:PORT`` once the HTTP server is up.

The real hub replaces it as soon as ``sihub demo --serve`` exists: only the fixture
that starts this process needs to change.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server

from contracts.codes import Category, Department, EscalationTrigger, RejectReason, Tier
from hub.metrics import (
    HubMetrics,
    LedgerSnapshot,
    MessageOutcome,
    PaymentOutcome,
    register_ledger_collector,
)

#: How often the scenario advances (one "tick" of county activity).
TICK = timedelta(milliseconds=200)
#: Every this many ticks, one more refused message lands in quarantine.
QUARANTINE_EVERY_TICKS = 10


class ScenarioLedger:
    """A ledger in mid-week: open cases everywhere, a few at risk, one batch overdue."""

    def __init__(self, started_at: datetime) -> None:
        self._started_at = started_at
        self._lock = threading.Lock()
        self._quarantined = 2

    def quarantine_one(self) -> None:
        """One more refused message is held in quarantine."""
        with self._lock:
            self._quarantined += 1

    def ledger_snapshot(self, now: datetime) -> LedgerSnapshot:
        """The scenario's ledger as of ``now``."""
        with self._lock:
            quarantined = self._quarantined
        return LedgerSnapshot(
            cases_open=[
                ("routine", "tax", "handle", 12),
                ("routine", "tax", "sign", 2),
                ("routine", "hrss", "sign", 3),
                ("routine", "hrss", "handle", 7),
                ("routine", "medins", "feedback", 2),
                ("routine", "petition", "accept", 4),
                ("routine", "court", "court_accept", 1),
                ("difficult", "taskforce", "convene", 2),
                ("difficult", "hrss", "handle", 1),
                ("major", "lgo", "handle", 1),
            ],
            cases_unsigned=[("routine", "hrss", 3), ("difficult", "taskforce", 1)],
            unsigned_oldest_routed_at=[
                ("hrss", now - timedelta(hours=30)),
                ("hrss", now - timedelta(hours=3)),
                ("taskforce", now - timedelta(hours=2)),
            ],
            deadlines_due_next_workday=[
                ("routine", "tax", "handle", 4),
                ("routine", "hrss", "sign", 3),
                ("difficult", "taskforce", "convene", 1),
            ],
            deadlines_overdue=[("routine", "hrss", "handle", 1), ("major", "lgo", "handle", 1)],
            outbox_pending=3,
            outbox_oldest_created_at=now - timedelta(seconds=2),
            payment_batches_awaiting_receipt=[("hrss", 2), ("medins", 1)],
            payment_batches_overdue=[("hrss", 1)],
            quarantine_messages=quarantined,
            calendar_fallback_years=frozenset(),
        )


def _traffic() -> Iterator[tuple[str, str, MessageOutcome]]:
    """An endless, repeating mix of (type, source, outcome)."""
    return itertools.cycle(
        [
            ("case.registered", "tax", MessageOutcome.ACCEPTED),
            ("case.accepted", "hrss", MessageOutcome.ACCEPTED),
            ("case.handled", "hrss", MessageOutcome.ACCEPTED),
            ("payment.receipt", "medins", MessageOutcome.ACCEPTED),
            ("case.feedback_given", "tax", MessageOutcome.DUPLICATE),
            ("case.closed", "hrss", MessageOutcome.REJECTED),
            ("petition.registered", "petition", MessageOutcome.ACCEPTED),
        ]
    )


def start_scenario(metrics: HubMetrics, ledger: ScenarioLedger) -> None:
    """Record what happened before the first scrape: readiness and one SLA breach."""
    metrics.set_ready(broker=True, database=True)
    metrics.sla_breaches.labels(stage="handle", tier=Tier.ROUTINE, department=Department.HRSS).inc()
    metrics.sla_warnings.labels(stage="sign", tier=Tier.ROUTINE, department=Department.HRSS).inc()
    metrics.escalations.labels(
        from_tier=Tier.ROUTINE, to_tier=Tier.DIFFICULT, trigger=EscalationTrigger.SLA_BREACH
    ).inc()


def tick(
    metrics: HubMetrics,
    ledger: ScenarioLedger,
    number: int,
    traffic: Iterator[tuple[str, str, MessageOutcome]],
) -> None:
    """One tick of county activity."""
    message_type, source, outcome = next(traffic)
    metrics.count_message(message_type, source, outcome)
    metrics.observe_message_latency(message_type, timedelta(milliseconds=20 + number % 50))
    metrics.gate_batch.observe(0.004)
    if outcome is MessageOutcome.REJECTED:
        metrics.message_rejections.labels(reason=RejectReason.NOT_PERMITTED).inc()
    for target in (Department.TAX, Department.HRSS, Department.MEDINS):
        metrics.outbox_published.labels(target=target).inc()
    metrics.payment_detail_records.labels(target=Department.HRSS, outcome=PaymentOutcome.SENT).inc(
        50
    )
    metrics.payment_detail_records.labels(
        target=Department.MEDINS, outcome=PaymentOutcome.ACCEPTED
    ).inc(20)
    metrics.cases_registered.labels(
        department=Department.TAX, category=Category.BASE_AND_AMOUNT
    ).inc()
    within_sla = "false" if number % 5 == 0 else "true"
    metrics.cases_closed.labels(
        tier=Tier.ROUTINE, department=Department.HRSS, within_sla=within_sla
    ).inc()
    metrics.cases_closed.labels(
        tier=Tier.DIFFICULT, department=Department.TAX, within_sla="true"
    ).inc()
    metrics.observe_case_resolution(Tier.ROUTINE, timedelta(days=3 + number % 7))
    metrics.observe_stage_duration("routine.handle", Tier.ROUTINE, timedelta(days=2))
    metrics.sla_warnings.labels(stage="sign", tier=Tier.ROUTINE, department=Department.HRSS).inc()
    if number % QUARANTINE_EVERY_TICKS == 0:
        ledger.quarantine_one()


def main(argv: list[str] | None = None) -> None:
    """Serve the scenario until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, build_version="0.0.0-scenario")
    ledger = ScenarioLedger(datetime.now(UTC))
    register_ledger_collector(registry, ledger, lambda: datetime.now(UTC))
    start_scenario(metrics, ledger)
    server, _ = start_http_server(args.port, addr=args.host, registry=registry)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    traffic = _traffic()
    for number in itertools.count(1):
        tick(metrics, ledger, number, traffic)
        time.sleep(TICK.total_seconds())


@contextmanager
def serving_scenario() -> Iterator[str]:
    """Run this module in a subprocess; yield its ``host:port``; stop it afterwards."""
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_hub_metrics"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        if not first.startswith("listening on "):
            process.kill()
            raise RuntimeError(f"scenario server did not start: {first}{process.stdout.read()}")
        yield first.removeprefix("listening on ")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    main(sys.argv[1:])
