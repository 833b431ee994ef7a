"""Turn what the hub did into metrics and log lines (no personal data in either)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from contracts.codes import Category, Department, EscalationTrigger, Tier
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from hub.domain.model import Applied, Case, Stage
from hub.metrics import HubMetrics, MessageOutcome, PaymentOutcome

if TYPE_CHECKING:
    from hub.service import Verdict

log = logging.getLogger("sihub.messages")

_OUTCOMES = {
    "applied": MessageOutcome.ACCEPTED,
    "duplicate": MessageOutcome.DUPLICATE,
    "rejected": MessageOutcome.REJECTED,
}

#: Stage → the SLA stage label it waits in (for sihub_stage_duration_seconds).
STAGE_LABELS = {
    Stage.ROUTED: "routine.sign",
    Stage.ACCEPTED: "routine.handle",
    Stage.CONVENING: "difficult.convene",
    Stage.REPORTED: "routine.feedback",
    Stage.CONFIRMING: "arrears.confirm",
    Stage.AT_COURT: "court.accept",
    Stage.COURT_ACCEPTED: "court.rule",
    Stage.ENFORCING: "court.conclude",
}


class Observer:
    """Records verdicts and applied transitions in :class:`HubMetrics` (or only logs, without)."""

    def __init__(self, metrics: HubMetrics | None) -> None:
        self.metrics = metrics

    def verdicts(self, verdicts: Sequence[Verdict], batch_seconds: float | None = None) -> None:
        """Count a batch of verdicts; log refusals with their reason (never the body).

        Counts and latencies are gathered for the batch and recorded once per series:
        a batch of a few hundred messages touches a handful of series.
        """
        m = self.metrics
        counts: Counter[tuple[str, str, MessageOutcome]] = Counter()
        latencies: defaultdict[str, list[float]] = defaultdict(list)
        for verdict in verdicts:
            env = verdict.envelope
            type_, source = (env.type, env.source.value) if env else ("unknown", "unknown")
            if verdict.outcome == "rejected":
                log.warning(
                    "refused %s from %s: %s (%s)",
                    type_,
                    source,
                    verdict.reason.value if verdict.reason else "?",
                    verdict.detail,
                )
            if m is None:
                continue
            if verdict.outcome == "rejected" and verdict.reason is not None:
                m.message_rejections.labels(reason=verdict.reason.value).inc()
            outcome = _OUTCOMES.get(verdict.outcome)
            if outcome is not None:
                counts[(type_, source, outcome)] += 1
            if verdict.outcome == "applied" and env is not None:
                now = verdict.handled_at
                if now is not None:
                    latencies[type_].append((now - env.occurred_at).total_seconds())
                if verdict.applied is not None and now is not None:
                    self.applied(verdict.previous, verdict.applied, now)
                self._payments(verdict)
        if m is None:
            return
        for (type_, source, outcome), count in counts.items():
            m.count_message(type_, source, outcome, count)
        for type_, seconds in latencies.items():
            m.observe_message_latencies(type_, seconds)
        if batch_seconds is not None:
            m.gate_batch.observe(batch_seconds)

    def applied(self, before: Case | None, applied: Applied, now: datetime) -> None:
        """Metrics for one applied transition or fired deadline."""
        m = self.metrics
        if m is None:
            return
        case = applied.case
        if before is not None and before.stage is not case.stage and before.stage_since is not None:
            label = STAGE_LABELS.get(before.stage)
            if label is not None:
                m.observe_stage_duration(label, before.tier, now - before.stage_since)
        for event in applied.events:
            kind, _, rest = event.partition(":")
            parts = rest.split(":")
            if kind == "registered":
                # An arrears notice has no registration: its dispute is an employer not
                # paying in full and on time (notice §3(6)).
                category = (
                    case.registration.category
                    if case.registration
                    else Category.EMPLOYER_NONCOMPLIANCE
                )
                m.cases_registered.labels(
                    department=case.intake.value, category=category.value
                ).inc()
            elif kind == "escalated" and len(parts) == 3:
                m.escalations.labels(
                    from_tier=parts[0], to_tier=parts[1], trigger=EscalationTrigger(parts[2])
                ).inc()
            elif kind == "breach" and len(parts) == 3:
                m.sla_breaches.labels(stage=parts[0], tier=parts[1], department=parts[2]).inc()
            elif kind == "warning" and len(parts) == 3:
                m.sla_warnings.labels(stage=parts[0], tier=parts[1], department=parts[2]).inc()
            elif kind == "closed":
                within = "true" if case.breaches == 0 else "false"
                m.cases_closed.labels(
                    tier=case.tier.value, department=case.intake.value, within_sla=within
                ).inc()
                m.observe_case_resolution(Tier(case.tier), now - case.registered_at)

    def _payments(self, verdict: Verdict) -> None:
        m = self.metrics
        env = verdict.envelope
        if m is None or env is None:
            return
        if isinstance(env.payload, PaymentDetails):
            for emit in verdict.emitted:
                if isinstance(emit.payload, PaymentDetails):
                    m.payment_detail_records.labels(
                        target=emit.target.value, outcome=PaymentOutcome.SENT
                    ).inc(len(emit.payload.records))
        elif isinstance(env.payload, PaymentReceipt) and env.source in (
            Department.HRSS,
            Department.MEDINS,
        ):
            receipt = env.payload
            m.payment_detail_records.labels(
                target=env.source.value, outcome=PaymentOutcome.ACCEPTED
            ).inc(receipt.accepted)
            m.payment_detail_records.labels(
                target=env.source.value, outcome=PaymentOutcome.REJECTED
            ).inc(len(receipt.rejected))

    def published(self, targets: Iterable[str]) -> None:
        """Count outbox messages the broker confirmed, by target department."""
        if self.metrics is None:
            return
        for target in targets:
            self.metrics.outbox_published.labels(target=target).inc()
