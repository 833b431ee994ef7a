"""Prometheus metrics of record (DESIGN §8): what the hub counts, times and reports.

Two halves, both bound to a ``CollectorRegistry`` passed in (no import-time globals):

* :class:`HubMetrics` holds the counters, histograms and process gauges that the
  hub updates as things happen;
* :func:`register_ledger_collector` adds gauges computed *at scrape time* from a
  :class:`LedgerSnapshot` of the case ledger, so they are right after a restart.

Label values are bounded: department codes, tiers, SLA stages, message types of the
catalogue, reject reasons and outcomes. Never a case id or anything about a person.
``docs/metrics.md`` describes every metric and the alert or panel that uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from contracts.catalogue import CATALOGUE
from contracts.codes import (
    QUEUE_DEPARTMENTS,
    Department,
    EscalationTrigger,
    RejectReason,
    Tier,
    next_tier,
)

__all__ = [
    "STAGES",
    "UNKNOWN",
    "HubMetrics",
    "LedgerGaugeSource",
    "LedgerSnapshot",
    "MessageOutcome",
    "PaymentOutcome",
    "ledger_families",
    "register_ledger_collector",
    "stage_label",
]

_log = logging.getLogger("sihub.metrics")

#: SLA stage label values: the stage part of the policy keys ``<tier or flow>.<stage>``.
STAGES: Final[tuple[str, ...]] = (
    "sign", "transfer_objection", "handle", "feedback", "convene", "accept", "receipt",
    "confirm", "earliest_enforcement", "latest_enforcement", "court_accept", "court_rule",
    "conclude", "extension",
)  # fmt: skip

#: Label value for a message type or source the hub does not know (keeps labels bounded).
UNKNOWN: Final = "unknown"

_HOUR: Final = 3600.0
_DAY: Final = 24 * _HOUR
#: Case resolution spans hours (a consultation) to months (enforcement).
CASE_RESOLUTION_BUCKETS_SECONDS: Final = tuple(h * _HOUR for h in (1, 4, 8)) + tuple(
    d * _DAY for d in (1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180)
)
#: Publish-to-handled latency: milliseconds when healthy, minutes when a consumer lags.
MESSAGE_LATENCY_BUCKETS_SECONDS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
#: Time a case spends in one SLA stage: minutes to months.
STAGE_DURATION_BUCKETS_SECONDS: Final = (60.0, 600.0, _HOUR, 4 * _HOUR) + tuple(
    d * _DAY for d in (1, 2, 3, 5, 7, 10, 14, 30, 60, 90, 180)
)
#: One ingest batch (validate, commit, outbox): milliseconds.
GATE_BATCH_BUCKETS_SECONDS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class MessageOutcome(StrEnum):
    """What the hub did with an inbound message."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class PaymentOutcome(StrEnum):
    """Fate of payment-detail records passed on to hrss or medins."""

    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def stage_label(policy_key: str) -> str:
    """The ``stage`` label of an SLA policy key: ``routine.sign`` → ``sign``.

    Court stages keep their flow (``court.accept`` → ``court_accept``) so they are
    not confused with a petition's ``accept``.

    Raises:
        ValueError: the key's stage is not one of :data:`STAGES`.
    """
    flow, _, stage = policy_key.partition(".")
    label = f"court_{stage}" if flow == "court" and stage in ("accept", "rule") else stage
    if label not in STAGES:
        raise ValueError(f"{policy_key!r}: stage {label!r} is not one of {', '.join(STAGES)}")
    return label


class HubMetrics:
    """Counters, histograms and process gauges of the hub, registered in ``registry``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        message_types: Collection[str] = frozenset(CATALOGUE),
        build_version: str | None = None,
    ) -> None:
        self._message_types = frozenset(message_types)

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, buckets: Sequence[float], *labels: str) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        self.messages = counter(
            "sihub_messages_total", "Inbound messages by type, source and outcome.",
            "type", "source", "outcome",
        )  # fmt: skip
        self.message_rejections = counter(
            "sihub_message_rejections_total", "Messages refused to quarantine, by reason code.",
            "reason",
        )  # fmt: skip
        self.sla_breaches = counter(
            "sihub_sla_breaches_total", "SLA deadlines missed.", "stage", "tier", "department"
        )
        self.sla_warnings = counter(
            "sihub_sla_warnings_total", "SLA warnings issued before a deadline.",
            "stage", "tier", "department",
        )  # fmt: skip
        self.escalations = counter(
            "sihub_escalations_total", "Cases moved up a tier.", "from_tier", "to_tier", "trigger"
        )
        self.cases_registered = counter(
            "sihub_cases_registered_total", "Cases registered, by intake department and category.",
            "department", "category",
        )  # fmt: skip
        self.cases_closed = counter(
            "sihub_cases_closed_total",
            "Cases closed; within_sla is 'true' when no deadline of the case was breached.",
            "tier", "department", "within_sla",
        )  # fmt: skip
        self.payment_detail_records = counter(
            "sihub_payment_detail_records_total",
            "Payment-detail records passed to a recipient, by outcome.",
            "target", "outcome",
        )  # fmt: skip
        self.outbox_published = counter(
            "sihub_outbox_published_total", "Outbox messages confirmed by the broker.", "target"
        )
        self.calendar_fallback_lookups = counter(
            "sihub_calendar_fallback_lookups_total",
            "Working-day lookups answered by the Monday-Friday fallback.",
        )
        self.case_resolution = histogram(
            "sihub_case_resolution_seconds", "Registration to close, by final tier.",
            CASE_RESOLUTION_BUCKETS_SECONDS, "tier",
        )  # fmt: skip
        self.message_latency = histogram(
            "sihub_message_latency_seconds", "Publish (occurred_at) to handled by the hub.",
            MESSAGE_LATENCY_BUCKETS_SECONDS, "type",
        )  # fmt: skip
        self.stage_duration = histogram(
            "sihub_stage_duration_seconds", "Time a case spent in one SLA stage.",
            STAGE_DURATION_BUCKETS_SECONDS, "stage", "tier",
        )  # fmt: skip
        self.gate_batch = histogram(
            "sihub_gate_batch_seconds", "Time to validate and commit one inbound batch.",
            GATE_BATCH_BUCKETS_SECONDS,
        )  # fmt: skip
        self.ready = gauge("sihub_ready", "1 when connected to both the broker and the database.")
        self.broker_connected = gauge("sihub_broker_connected", "1 while a broker link is up.")
        self.build_info = gauge("sihub_build_info", "Always 1; labelled by version.", "version")
        self.build_info.labels(version=build_version or _installed_version()).set(1)
        self.department_info = gauge(
            "sihub_department_info",
            "Always 1; one series per department of the county.",
            "department",
        )
        for department in QUEUE_DEPARTMENTS:  # dashboards list departments even when all is quiet
            self.department_info.labels(department=department.value).set(1)
        self._initialise_bounded_series()

    def _initialise_bounded_series(self) -> None:
        # A counter born at 1 shows no increase(); series of small closed label sets
        # start at 0 so the first event of each is seen by alerts and panels.
        for reason in RejectReason:
            self.message_rejections.labels(reason=reason)
        for tier in Tier:
            upper = next_tier(tier)
            for trigger in EscalationTrigger:
                if upper is not None:
                    self.escalations.labels(from_tier=tier, to_tier=upper, trigger=trigger)
        for target in (Department.HRSS, Department.MEDINS):
            for outcome in PaymentOutcome:
                self.payment_detail_records.labels(target=target, outcome=outcome)

    def count_message(
        self, message_type: str, source: str, outcome: MessageOutcome, count: int = 1
    ) -> None:
        """Count ``count`` inbound messages; an unknown type or source counts as ``unknown``."""
        self.messages.labels(
            type=self._type_label(message_type), source=_department_label(source), outcome=outcome
        ).inc(count)

    def observe_message_latency(self, message_type: str, latency: timedelta) -> None:
        """Record publish-to-handled latency; clock skew never yields a negative sample."""
        self.observe_message_latencies(message_type, [latency.total_seconds()])

    def observe_message_latencies(self, message_type: str, seconds: Iterable[float]) -> None:
        """Record several latencies of one type (in seconds), looking the series up once."""
        series = self.message_latency.labels(type=self._type_label(message_type))
        for value in seconds:
            series.observe(max(value, 0.0))

    def observe_case_resolution(self, tier: Tier, duration: timedelta) -> None:
        """Record how long a case took from registration to close."""
        self.case_resolution.labels(tier=tier).observe(max(duration.total_seconds(), 0.0))

    def observe_stage_duration(self, policy_key: str, tier: Tier, duration: timedelta) -> None:
        """Record how long a case spent in the stage of ``policy_key``."""
        self.stage_duration.labels(stage=stage_label(policy_key), tier=tier).observe(
            max(duration.total_seconds(), 0.0)
        )

    def set_ready(self, *, broker: bool, database: bool) -> None:
        """Publish readiness: ready only with both the broker and the database."""
        self.broker_connected.set(1 if broker else 0)
        self.ready.set(1 if broker and database else 0)

    def _type_label(self, message_type: str) -> str:
        return message_type if message_type in self._message_types else UNKNOWN


def _department_label(code: str) -> str:
    return code if code in Department.__members__.values() else UNKNOWN


def _installed_version() -> str:
    try:
        return version("sihub")
    except PackageNotFoundError:  # running from a bare checkout
        return "0+unknown"


#: One gauge row: label values, then the value.
GaugeRow = Sequence[str | int | float]


@dataclass(frozen=True)
class LedgerSnapshot:
    """What the ledger holds at one instant, as plain rows; counts are >= 0."""

    #: (tier, department, stage, count) of open cases, by the stage they wait in.
    cases_open: Sequence[tuple[str, str, str, int]] = ()
    #: (tier, department, count) of cases routed to a department that nobody signed for.
    cases_unsigned: Sequence[tuple[str, str, int]] = ()
    #: (department, routed_at) of unsigned cases; the oldest per department counts.
    unsigned_oldest_routed_at: Sequence[tuple[str, datetime]] = ()
    #: (tier, department, stage, count) of deadlines due by the end of the next working day.
    deadlines_due_next_workday: Sequence[tuple[str, str, str, int]] = ()
    #: (tier, department, stage, count) of deadlines passed while the stage is still open.
    deadlines_overdue: Sequence[tuple[str, str, str, int]] = ()
    outbox_pending: int = 0
    #: When the oldest unpublished outbox row was written; ``None`` when the outbox is empty.
    outbox_oldest_created_at: datetime | None = None
    #: (target, count) of payment-detail batches sent and not yet receipted.
    payment_batches_awaiting_receipt: Sequence[tuple[str, int]] = ()
    #: (target, count) of those past their receipt deadline.
    payment_batches_overdue: Sequence[tuple[str, int]] = ()
    quarantine_messages: int = 0
    #: Years the working-day calendar answered with the Monday-Friday fallback.
    calendar_fallback_years: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for spec in _ROW_FAMILIES:
            for row in getattr(self, spec.attribute):
                _check_row(spec, row)
        if self.outbox_pending < 0 or self.quarantine_messages < 0:
            raise ValueError("ledger snapshot: counts must not be negative")
        for _, routed_at in self.unsigned_oldest_routed_at:
            _check_aware(routed_at)
        if self.outbox_oldest_created_at is not None:
            _check_aware(self.outbox_oldest_created_at)


@dataclass(frozen=True)
class _RowFamily:
    name: str
    doc: str
    labels: tuple[str, ...]
    attribute: str


_TDS = ("tier", "department", "stage")
#: The gauges read straight from snapshot rows (label values, count).
_ROW_FAMILIES: Final = (
    _RowFamily("sihub_cases_open", "Open cases by the stage they wait in.", _TDS, "cases_open"),
    _RowFamily(
        "sihub_cases_unsigned", "Cases routed to a department that nobody signed for.",
        ("tier", "department"), "cases_unsigned",
    ),
    _RowFamily(
        "sihub_deadlines_due_next_workday", "Deadlines due by the end of the next working day.",
        _TDS, "deadlines_due_next_workday",
    ),
    _RowFamily(
        "sihub_deadlines_overdue", "Deadlines passed while the stage is still open.",
        _TDS, "deadlines_overdue",
    ),
    _RowFamily(
        "sihub_payment_batches_awaiting_receipt", "Payment-detail batches not yet receipted.",
        ("target",), "payment_batches_awaiting_receipt",
    ),
    _RowFamily(
        "sihub_payment_batches_overdue", "Payment-detail batches past their receipt deadline.",
        ("target",), "payment_batches_overdue",
    ),
)  # fmt: skip

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    "tier": frozenset(Tier),
    "department": frozenset(Department),
    "target": frozenset(Department),
    "stage": frozenset(STAGES),
}


def _check_row(spec: _RowFamily, row: tuple[object, ...]) -> None:
    *labels, count = row
    if len(labels) != len(spec.labels):
        raise ValueError(
            f"{spec.attribute}: expected ({', '.join(spec.labels)}, count), got {row!r}"
        )
    for name, value in zip(spec.labels, labels, strict=True):
        if value not in _ALLOWED[name]:
            raise ValueError(f"{spec.attribute}: {name} {value!r} is not a value of record")
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"{spec.attribute}: count must be a non-negative int, got {row!r}")


def _check_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"ledger snapshot: {moment!r} carries no offset")


class LedgerGaugeSource(Protocol):
    """Where the ledger gauges come from; the store implements it."""

    def ledger_snapshot(self, now: datetime) -> LedgerSnapshot:
        """Read the ledger as of ``now`` (deadline counts are relative to it)."""
        ...


def _gauge(name: str, doc: str, labels: Sequence[str], rows: Iterable[GaugeRow]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    # Two rows with the same labels would be two identical series in one scrape,
    # which Prometheus refuses; they mean the same thing, so they add up.
    totals: dict[tuple[str, ...], float] = {}
    for row in rows:
        key = tuple(str(label) for label in row[:-1])
        totals[key] = totals.get(key, 0.0) + float(row[-1])
    for key, value in sorted(totals.items()):
        family.add_metric(list(key), value)
    return family


def _age_seconds(now: datetime, since: datetime | None) -> float:
    # Clock skew between the database and the hub must not show a negative age.
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


def ledger_families(snapshot: LedgerSnapshot, now: datetime) -> list[Metric]:
    """The scrape-time gauges for ``snapshot`` as seen at ``now`` (pure)."""
    families = [
        _gauge(spec.name, spec.doc, spec.labels, getattr(snapshot, spec.attribute))
        for spec in _ROW_FAMILIES
    ]
    oldest: dict[str, datetime] = {}
    for department, routed_at in snapshot.unsigned_oldest_routed_at:
        oldest[department] = min(routed_at, oldest.get(department, routed_at))
    ages = [(department, _age_seconds(now, routed_at)) for department, routed_at in oldest.items()]
    outbox_age = _age_seconds(now, snapshot.outbox_oldest_created_at)
    scalars = (
        ("sihub_outbox_pending", "Outbox rows not yet confirmed.", snapshot.outbox_pending),
        ("sihub_outbox_oldest_age_seconds", "Age of the oldest outbox row.", outbox_age),
        ("sihub_quarantine_messages", "Messages held in quarantine.", snapshot.quarantine_messages),
        (
            "sihub_calendar_fallback_years", "Years on the Monday-Friday calendar fallback.",
            len(snapshot.calendar_fallback_years),
        ),
    )  # fmt: skip
    return [
        *families,
        _gauge(
            "sihub_case_unsigned_oldest_seconds",
            "Age of the oldest unsigned case.",
            ("department",),
            ages,
        ),
        *(_gauge(name, doc, (), [(float(value),)]) for name, doc, value in scalars),
    ]


class _LedgerCollector(Collector):
    """Reads the ledger at each scrape; a failed read is reported, not raised."""

    def __init__(self, source: LedgerGaugeSource, clock: Callable[[], datetime]) -> None:
        self._source = source
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Names only, so that registering never touches the database.
        return ledger_families(LedgerSnapshot(), datetime.now().astimezone()) + _status(0, 0.0)

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        now = self._clock()
        try:
            families = ledger_families(self._source.ledger_snapshot(now), now)
        except Exception:
            # A scrape that raised would hide sihub_ready and every counter with it:
            # report the failure as a metric (alerted on) and log the cause.
            _log.exception("ledger snapshot failed; ledger gauges left out of this scrape")
            return _status(0, time.perf_counter() - started)
        return families + _status(1, time.perf_counter() - started)


def _status(success: int, duration_seconds: float) -> list[Metric]:
    return [
        _gauge(
            "sihub_ledger_snapshot_success",
            "1 when the last scrape read the ledger.",
            (),
            [(float(success),)],
        ),
        _gauge(
            "sihub_ledger_snapshot_duration_seconds",
            "Time the last ledger read took.",
            (),
            [(duration_seconds,)],
        ),
    ]


def register_ledger_collector(
    registry: CollectorRegistry, source: LedgerGaugeSource, clock: Callable[[], datetime]
) -> Collector:
    """Register the scrape-time ledger gauges in ``registry``; returns the collector."""
    collector = _LedgerCollector(source, clock)
    registry.register(collector)
    return collector
