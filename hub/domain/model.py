"""Plain data of the case ledger: cases, stages, deadlines, and what a transition emits.

Everything here is an immutable value; :mod:`hub.domain.machine` computes new
values from old ones. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from contracts.codes import Department, RejectReason, RoutingMode, Tier
from contracts.messages.arrears import ArrearsNotice
from contracts.messages.base import Contract
from contracts.messages.case import CaseRegistered, PetitionRegistered


class CaseKind(StrEnum):
    """Which flow a case follows."""

    DISPUTE = "dispute"  # case.registered: the closed loop of notice §4
    PETITION = "petition"  # petition.registered: same loop, petition time limits
    ARREARS = "arrears"  # arrears.notice: dunning → joint confirmation → court


class Stage(StrEnum):
    """Where a case waits, and on whom."""

    ROUTED = "routed"  # the owner must sign for it (签收)
    ACCEPTED = "accepted"  # signed; being handled
    CONVENING = "convening"  # escalated: the task force / office must meet on it
    REPORTED = "reported"  # result reported to the intake department
    FED_BACK = "fed_back"  # the party has been told; intake may close or reopen
    DUNNING = "dunning"  # arrears: demand served, enforcement window not yet open
    CONFIRMING = "confirming"  # arrears: window open, hrss/medins confirming the data
    READY = "ready"  # arrears: confirmed; tax may apply to the court
    AT_COURT = "at_court"  # the court must accept the application
    COURT_ACCEPTED = "court_accepted"  # the court must rule
    ENFORCING = "enforcing"  # the court enforces
    CLOSED = "closed"


@dataclass(frozen=True)
class RuleHit:
    """One routing rule that fired, naming the clause it implements."""

    rule: str
    clause: str
    explanation: str


@dataclass(frozen=True)
class RoutingDecision:
    """Who handles a case, and why."""

    owner: Department
    participants: tuple[Department, ...]
    coordinator: Department | None
    mode: RoutingMode
    hits: tuple[RuleHit, ...]

    @property
    def rule(self) -> str:
        """The rule ids that fired, joined."""
        return "+".join(hit.rule for hit in self.hits)

    @property
    def clause(self) -> str:
        """The clauses implemented, joined."""
        return "; ".join(dict.fromkeys(hit.clause for hit in self.hits))

    @property
    def explanation(self) -> str:
        """A sentence per rule that fired."""
        return " ".join(hit.explanation for hit in self.hits)


DeadlineKind = Literal["sla", "timer"]
#: Policy-key prefixes whose deadlines belong to a tier (a petition is handled at routine).
ESCALATING_FLOWS = frozenset({t.value for t in Tier} | {"petition"})
#: Stages whose breach escalates a case one tier.
ESCALATING_STAGES = frozenset({"sign", "handle", "convene", "accept"})


@dataclass(frozen=True)
class Deadline:
    """A time limit on a case: an SLA that breaches, or a timer that opens a window.

    ``key`` is the policy key (``routine.sign``); ``stage`` its second part (``sign``),
    used as the metric label.
    """

    key: str
    department: Department
    tier: Tier
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    kind: DeadlineKind = "sla"
    warned: bool = False

    @property
    def stage(self) -> str:
        """The stage this deadline guards (metric label)."""
        return self.key.split(".", 1)[1]

    @property
    def escalates(self) -> bool:
        """Whether a breach moves the case up a tier.

        Only a tier's own deadlines do (not the court's, the arrears timers or payment
        receipts), and of those only the stages that stall the case: signing for it,
        handling it, convening on it. A late feedback to the party is counted, not
        escalated.
        """
        flow, _, stage = self.key.partition(".")
        return self.kind == "sla" and flow in ESCALATING_FLOWS and stage in ESCALATING_STAGES


@dataclass(frozen=True)
class ArrearsState:
    """The arrears flow of a case opened by ``arrears.notice``."""

    notice: ArrearsNotice
    window_opens_on: date
    latest_application_by: date
    confirmers: tuple[Department, ...]
    confirmations: tuple[tuple[Department, bool], ...] = ()
    application_no: str | None = None
    court_case_ref: str | None = None
    ruling: str | None = None
    result: str | None = None

    def confirmed_by(self) -> frozenset[Department]:
        """Departments that confirmed the data."""
        return frozenset(dept for dept, ok in self.confirmations if ok)


Registration = CaseRegistered | PetitionRegistered


@dataclass(frozen=True)
class Case:
    """One case of the work ledger (工作台账)."""

    case_id: str
    kind: CaseKind
    intake: Department
    registered_at: datetime
    stage: Stage
    tier: Tier
    owner: Department
    participants: tuple[Department, ...] = ()
    coordinator: Department | None = None
    mode: RoutingMode = RoutingMode.SINGLE
    routing: RoutingDecision | None = None
    registration: Registration | None = None
    arrears: ArrearsState | None = None
    signed: tuple[Department, ...] = ()
    contributions: tuple[Department, ...] = ()
    previous_owner: Department | None = None
    objection_until: datetime | None = None
    deadlines: tuple[Deadline, ...] = ()
    reopened: int = 0
    breaches: int = 0
    extensions: int = 0
    transfers: int = 0
    outcome: str | None = None
    satisfaction: str | None = None
    resolution: str | None = None
    closed_at: datetime | None = None
    stage_since: datetime | None = None
    version: int = 0

    @property
    def handlers(self) -> tuple[Department, ...]:
        """The owner (lead) and the participants."""
        return (self.owner, *self.participants)

    @property
    def is_open(self) -> bool:
        """Whether the case is still in the loop."""
        return self.stage is not Stage.CLOSED

    def deadline(self, key: str) -> Deadline | None:
        """The live deadline with ``key``, if armed."""
        return next((d for d in self.deadlines if d.key == key), None)

    def evolve(self, **changes: object) -> Case:
        """A copy with ``changes`` applied, like ``dataclasses.replace``.

        Copies the instance dict instead of running the 30-field frozen ``__init__``
        again: transitions call this several times per message, on the hot path.

        Raises:
            TypeError: a change names no field of :class:`Case`.
        """
        unknown = changes.keys() - _CASE_FIELDS
        if unknown:
            raise TypeError(f"Case has no field(s) {', '.join(sorted(unknown))}")
        copy = object.__new__(Case)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy


_CASE_FIELDS = frozenset(f.name for f in fields(Case))


@dataclass(frozen=True)
class Emit:
    """A message the hub must send because of a transition (source ``hub``)."""

    type: str
    target: Department
    payload: Contract


@dataclass(frozen=True)
class Applied:
    """The result of an accepted transition: the new case and what to send."""

    case: Case
    emits: tuple[Emit, ...] = ()
    events: tuple[str, ...] = field(
        default=()
    )  # domain facts for metrics: "escalated:routine>difficult"


class Refused(Exception):
    """The hub refuses a message: ``not_permitted`` or ``precondition_failed`` with a detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def not_permitted(detail: str) -> Refused:
    """The sender may not do this to this case."""
    return Refused(RejectReason.NOT_PERMITTED, detail)


def precondition_failed(detail: str) -> Refused:
    """The case is not in a state that allows this."""
    return Refused(RejectReason.PRECONDITION_FAILED, detail)
