"""The closing summary of ``sihub demo``: cases, the payment batch, the quarantine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from hub.demo.county import County
from hub.demo.scenario import Scenario
from hub.dlq import browse


@dataclass(frozen=True)
class Outcome:
    """What the scenario expected, and whether it happened."""

    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _metric(registry: CollectorRegistry, name: str) -> float:
    total = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def summarize(console: Console, scenario: Scenario) -> Outcome:
    """Print the closing tables; what did not come out as expected."""
    county: County = scenario.county
    problems: list[str] = []
    table = Table(title="Cases of November 2026 (工作台账)")
    for column in ("case", "id", "kind", "intake", "owner", "mode", "top tier", "missed", "stage"):
        table.add_column(column)
    with county.runtime.store.transaction() as tx:
        for letter, case_id in scenario.cases.items():
            case = tx.load_case(case_id)
            if case is None:
                problems.append(f"case {letter} ({case_id}) never reached the ledger")
                continue
            table.add_row(
                letter,
                case_id,
                case.kind.value,
                case.intake.value,
                case.owner.value,
                case.mode.value,
                case.tier.value,
                str(case.breaches),
                case.stage.value,
            )
            if case.stage.value != "closed":
                problems.append(
                    f"case {letter} ({case_id}) did not close: it is {case.stage.value}"
                )
        batches = [(part, tx.load_batch(part)) for part in scenario.batch_parts]
    console.print(table)
    e = next((c for c in [scenario.case("E")] if c is not None), None)
    if e is not None and e.tier.value != "major":
        problems.append(
            f"case E should have escalated to the leading-group office, it is {e.tier.value}"
        )

    payments = Table(title="Payment details (征缴明细传递)")
    for column in ("batch", "to", "records", "receipt", "reconciled"):
        payments.add_column(column)
    if not batches:
        problems.append("no payment-detail batch was pushed")
    for batch_id, batch in batches:
        if batch is None:
            problems.append(f"payment-detail batch {batch_id} never reached the hub")
            continue
        for target, part in batch["parts"].items():
            receipt = part.get("receipt") or {}
            payments.add_row(
                batch["batch_id"],
                target,
                str(len(part["amounts"])),
                f"{receipt.get('accepted', '-')} accepted / {len(receipt.get('rejected', []))} rejected",
                str(part.get("reconciled")),
            )
            if part.get("reconciled") is not True:
                problems.append(f"payment part for {target} did not reconcile")
    console.print(payments)

    with browse(county.broker(), 1000) as (_, items):
        reasons = Counter(item.reason for item in items)
    quarantine = Table(title="Quarantine (sihub.quarantine)")
    quarantine.add_column("reason")
    quarantine.add_column("messages")
    for reason, count in sorted(reasons.items()):
        quarantine.add_row(reason, str(count))
    console.print(quarantine)
    for label, reason in scenario.invalid_sent.items():
        if reasons[reason] < 1:
            problems.append(f"the message with {label} is not in quarantine as {reason}")

    registry = county.runtime.registry
    console.print(
        f"messages through the gate {_metric(registry, 'sihub_messages_total'):.0f}, "
        f"SLA warnings {_metric(registry, 'sihub_sla_warnings_total'):.0f}, "
        f"breaches {_metric(registry, 'sihub_sla_breaches_total'):.0f}, "
        f"escalations {_metric(registry, 'sihub_escalations_total'):.0f}"
    )
    return Outcome(tuple(problems))
