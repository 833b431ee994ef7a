"""Properties of the case state machine over generated message sequences (hypothesis).

A rule-based state machine opens a case (a dispute, a petition or an arrears notice), then
sends messages of every type from senders among all departments, moves the clock forward
and fires deadlines with :func:`hub.domain.timers.fire`. After every step:

* the loop can still close (闭环处理): :func:`close_path` finds a sequence of permitted
  messages from the case's own departments that ends in ``closed`` — for a dispute through
  the whole loop (feedback, then ``resolved``), never by the ``withdrawn`` shortcut;
* a refusal is a :class:`Refused` with ``not_permitted`` or ``precondition_failed`` and the
  case is left as it was; an applied message raises the version by exactly one;
* every live SLA deadline starts before it is due and warns in between; a breach fires once.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contracts import AnyEnvelope
from contracts.codes import RejectReason
from hub.domain.machine import transition
from hub.domain.model import Case, Refused, Stage
from hub.domain.timers import fire

from . import builders as b
from .closing import close_path
from .generators import messages, openings, plausible

REFUSALS = frozenset({RejectReason.NOT_PERMITTED, RejectReason.PRECONDITION_FAILED})


class CaseLoop(RuleBasedStateMachine):
    """One case driven by generated messages, clock ticks and deadline firings."""

    def __init__(self) -> None:
        super().__init__()
        self.hub_rules = b.county_rules()
        self.now = b.T0
        self.tick = timedelta(minutes=1)
        self.case: Case | None = None
        self.applied = 0

    def _case(self) -> Case:
        assert self.case is not None
        return self.case

    @initialize(opening=openings(), fast=st.booleans())
    def open_case(self, opening: AnyEnvelope, fast: bool) -> None:
        # Seconds policy with ticks of seconds, or the county policy with ticks of minutes.
        # Arrears always run on the county policy: the enforcement window is counted in
        # dates (行政强制法 art. 53), which a policy of seconds closes before it opens.
        fast = fast and opening.type != "arrears.notice"
        self.hub_rules = b.seconds_rules() if fast else b.county_rules()
        self.tick = timedelta(seconds=1) if fast else timedelta(minutes=1)
        self.case = transition(None, opening, self.now, self.hub_rules).case
        self.applied = 1
        assert self.case.version == 1

    def _send(self, envelope: AnyEnvelope) -> None:
        before = self._case()
        snapshot = copy.deepcopy(before)
        try:
            applied = transition(before, envelope, self.now, self.hub_rules)
        except Refused as refused:
            assert refused.reason in REFUSALS
        else:
            assert applied.case.version == before.version + 1
            event(f"applied {envelope.type} -> {applied.case.stage.value}")
            self.case = applied.case
            self.applied += 1
        assert before == snapshot  # pure: the old case is untouched either way

    @rule(data=st.data())
    def send_anything(self, data: st.DataObject) -> None:
        self._send(data.draw(messages(self._case(), self.now)))

    @rule(data=st.data())
    def send_what_comes_next(self, data: st.DataObject) -> None:
        # A random walk over what the machine permits now, so that runs reach the court.
        options = plausible(self._case(), self.now)
        allowed = [e for e in options if self._permits(e)]
        self._send(data.draw(st.sampled_from(allowed or options)))

    def _permits(self, envelope: AnyEnvelope) -> bool:
        try:
            transition(self._case(), envelope, self.now, self.hub_rules)
        except Refused:
            return False
        return True

    @rule(units=st.integers(min_value=0, max_value=30_000))
    def wait(self, units: int) -> None:
        self.now += self.tick * units

    @precondition(lambda self: self.case is not None and bool(self.case.deadlines))
    @rule(data=st.data(), when=st.sampled_from(["now", "warn", "due"]))
    def fire_deadline(self, data: st.DataObject, when: str) -> None:
        case = self._case()
        deadline = data.draw(st.sampled_from(case.deadlines))
        target = {"now": self.now, "warn": deadline.warn_at or self.now, "due": deadline.due_at}
        self.now = max(self.now, target[when])
        snapshot = copy.deepcopy(case)
        applied = fire(case, deadline, self.now, self.hub_rules)
        assert case == snapshot
        self.case = applied.case
        types = [emit.type for emit in applied.emits]
        if "sla.breached" in types:
            again = fire(applied.case, deadline, self.now + timedelta(days=400), self.hub_rules)
            assert again.emits == () and again.case == applied.case
        if "sla.warning" in types:
            again = fire(applied.case, deadline, self.now, self.hub_rules)
            assert again.emits == ()

    @invariant()
    def version_counts_applied_messages(self) -> None:
        if self.case is not None:
            assert self.case.version == self.applied

    @invariant()
    def live_deadlines_are_well_formed(self) -> None:
        if self.case is None:
            return
        assert self.case.is_open or self.case.deadlines == ()
        for deadline in self.case.deadlines:
            assert deadline.started_at < deadline.due_at, deadline
            if deadline.kind == "sla":
                assert deadline.warn_at is not None, deadline
                assert deadline.started_at <= deadline.warn_at <= deadline.due_at, deadline

    @invariant()
    def loop_can_still_close(self) -> None:
        if self.case is None:
            return
        path = close_path(self.case, self.now, self.hub_rules)
        assert path is not None, f"stuck: {self.case.stage} {self.case.tier} {self.case.owner}"


CaseLoop.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
)
#: pytest collects the machine as this test case.
TestCaseLoopUnderAnyMessageSequence = CaseLoop.TestCase


def test_close_path_closes_a_fresh_dispute_through_the_whole_loop() -> None:
    """The driver itself: a fresh routine dispute closes via sign, handle, feedback, close."""
    rules = b.county_rules()
    case = transition(None, b.registered("tax"), b.T0, rules).case
    path = close_path(case, b.T0, rules)
    assert path is not None
    assert [(e.type, e.source.value) for e in path] == [
        ("case.accepted", "hrss"),
        ("case.handled", "hrss"),
        ("case.feedback_given", "tax"),
        ("case.closed", "tax"),
    ]


def test_close_path_finds_no_way_out_of_a_stage_without_an_exit() -> None:
    """The driver reports a stuck case as None (a dispute cannot be in the dunning stage)."""
    rules = b.county_rules()
    case = transition(None, b.registered("tax"), b.T0, rules).case
    assert close_path(case.evolve(stage=Stage.CLOSED), b.T0, rules) == []
    assert close_path(case.evolve(stage=Stage.DUNNING), b.T0, rules) is None
