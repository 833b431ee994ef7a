"""Real case lifecycles for the store tests, and a driver that runs them through a store.

A scenario is a list of steps: a message body as a department sent it (from the
shared examples, or written here in the same form), or a deadline firing. The
driver applies each step the way the hub does — load the case with a lock, run
the pure machine, save the next version, mark the message processed, append the
audit entry — so that tests can compare what was saved with what the audit log
replays to.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from contracts import parse
from hub.domain.calendar import WorkCalendar
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.model import Case
from hub.domain.sla_policy import load_policy
from hub.domain.timers import fire
from hub.store.store import Store

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The routine lifecycle of DESIGN/examples: registered → accepted → handled → fed back → closed.
ROUTINE = ("case.registered", "case.accepted", "case.handled", "case.feedback_given", "case.closed")


@dataclass(frozen=True)
class Message:
    """A department's message, processed by the hub at ``recorded_at``."""

    body: bytes
    recorded_at: datetime


@dataclass(frozen=True)
class Fire:
    """The scheduler fires the case's deadline ``key`` of ``department`` at its due or warning time."""

    key: str
    department: str
    when: Literal["due", "warn"] = "due"


Step = Message | Fire


def county_rules() -> Rules:
    """The shipped SLA policy on the county calendar."""
    return Rules(policy=load_policy(None), calendar=WorkCalendar.from_chinesecalendar())


def example(name: str) -> dict[str, Any]:
    """A shared example envelope as a dict (``$SIHUB_EXAMPLES_DIR`` or ``../shared/examples``)."""
    override = os.environ.get("SIHUB_EXAMPLES_DIR")
    directory = Path(override) if override else REPO_ROOT.parent / "shared" / "examples"
    path = directory / f"{name}.json"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the shared example {path} is missing (set SIHUB_EXAMPLES_DIR)")
        pytest.skip(f"the shared example {path} is missing")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, indent=2).encode()


def _recorded(envelope: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(envelope["occurred_at"]) + timedelta(seconds=3)


def routine_lifecycle() -> list[Step]:
    """The examples' case ``tax-2026-000123``, message by message, bodies byte for byte."""
    steps: list[Step] = []
    for name in ROUTINE:
        envelope = example(name)
        steps.append(Message(_body(envelope), _recorded(envelope)))
    return steps


def _message(type_: str, source: str, case_id: str, at: str, payload: dict[str, Any]) -> Message:
    message_id = str(uuid.uuid4())
    envelope = {
        "message_id": message_id, "type": type_, "schema_version": 1, "source": source,
        "target": None, "case_id": case_id, "correlation_id": message_id, "causation_id": None,
        "occurred_at": at, "payload": payload,
    }  # fmt: skip
    return Message(_body(envelope), _recorded(envelope))


def breach_and_escalation(case_id: str = "tax-2026-000124") -> list[Step]:
    """hrss misses the signing deadline; the case becomes difficult and the task force assigns it."""
    registered = example("case.registered")
    registered.update(case_id=case_id, message_id=str(uuid.uuid4()))
    registered["correlation_id"] = registered["message_id"]
    meeting = {
        "tier": "difficult", "meeting_no": "五社专班〔2026〕7号", "held_at": "2026-11-30T10:00:00+08:00",
        "attendees": ["tax", "hrss", "medins"], "decision": "assign", "lead": "hrss",
        "participants": [], "minutes": "专班会商：由人社局牵头核实欠费并核定待遇。",
    }  # fmt: skip
    return [
        Message(_body(registered), _recorded(registered)),
        Fire("routine.sign", "hrss"),
        Fire("difficult.convene", "taskforce", when="warn"),
        _message("case.meeting_concluded", "taskforce", case_id, "2026-11-30T11:00:00+08:00", meeting),
        _message("case.accepted", "hrss", case_id, "2026-11-30T15:00:00+08:00", {"handler": "H-0042"}),
        _message("case.handled", "hrss", case_id, "2026-12-04T16:00:00+08:00", {
            "outcome": "upheld", "result": "已责令单位补缴，待遇已核定。",
            "handled_at": "2026-12-04T16:00:00+08:00",
        }),  # fmt: skip
        _message("case.feedback_given", "tax", case_id, "2026-12-07T09:00:00+08:00", {
            "method": "phone", "given_at": "2026-12-07T09:00:00+08:00", "satisfaction": "satisfied",
        }),  # fmt: skip
        _message("case.closed", "tax", case_id, "2026-12-07T09:30:00+08:00", {
            "resolution": "resolved", "closed_at": "2026-12-07T09:30:00+08:00",
        }),  # fmt: skip
    ]


def arrears_to_court() -> list[Step]:
    """The examples' arrears case ``tax-2026-000200``: demand, window, confirmations, court."""
    notice, applied = example("arrears.notice"), example("enforcement.applied")
    case_id, notice_no = notice["case_id"], notice["payload"]["notice_no"]

    def confirmed(source: str, types: list[str], principal: str) -> Message:
        return _message("arrears.confirmed", source, case_id, "2026-11-20T10:00:00+08:00", {
            "notice_no": notice_no, "confirmed": True, "insurance_types": types,
            "principal_confirmed": principal,
        })  # fmt: skip

    court_ref = "(2026)皖0322行审12号"
    return [
        Message(_body(notice), _recorded(notice)),
        Fire("arrears.earliest_enforcement", "tax"),
        confirmed("hrss", ["110", "210"], "150000.00"),
        confirmed("medins", ["310"], "36400.00"),
        Message(_body(applied), _recorded(applied)),
        _message("enforcement.accepted", "court", case_id, "2026-11-30T09:00:00+08:00",
                 {"court_case_ref": court_ref, "accepted_on": "2026-11-30"}),
        _message("enforcement.ruled", "court", case_id, "2026-12-04T09:00:00+08:00",
                 {"court_case_ref": court_ref, "ruling": "enforce", "ruled_on": "2026-12-04"}),
        _message("enforcement.concluded", "court", case_id, "2026-12-20T09:00:00+08:00", {
            "court_case_ref": court_ref, "result": "executed_in_full", "amount_recovered": "212962.00",
            "concluded_on": "2026-12-20",
        }),  # fmt: skip
    ]


@dataclass(frozen=True)
class Applied:
    """One step's result: the case to save, and the audit entry that records it."""

    case: Case
    message_id: str
    type: str
    source: str
    trigger: str
    occurred_at: datetime
    recorded_at: datetime
    body: bytes


def apply(case: Case | None, step: Step, rules: Rules) -> Applied:
    """What the hub saves and audits for ``step`` (pure: no store)."""
    if isinstance(step, Message):
        envelope = parse(step.body)
        new = transition(case, envelope, step.recorded_at, rules).case
        return Applied(new, str(envelope.message_id), envelope.type, envelope.source.value, "message",
                       envelope.occurred_at, step.recorded_at, step.body)  # fmt: skip
    assert case is not None, "a case must exist before its deadlines fire"
    armed = next(d for d in case.deadlines if (d.key, d.department.value) == (step.key, step.department))
    moment = armed.due_at if step.when == "due" else armed.warn_at
    assert moment is not None, f"{step.key} has no warning time"
    fired = fire(case, armed, moment, rules).case
    assert fired != case, f"firing {step.key} at {moment} changed nothing"
    note = {"deadline": step.key, "department": step.department, "fired_at": moment.isoformat()}
    return Applied(fired.evolve(version=case.version + 1), str(uuid.uuid4()), "deadline", "hub",
                   f"deadline:{step.key}:{step.department}", moment, moment,
                   json.dumps(note).encode())  # fmt: skip


def versions(rules: Rules, steps: list[Step]) -> list[Case]:
    """Every version of a case that ``steps`` produce, without a store."""
    cases: list[Case] = []
    for step in steps:
        cases.append(apply(cases[-1] if cases else None, step, rules).case)
    return cases


def drive(store: Store, rules: Rules, case_id: str, steps: list[Step]) -> list[Case]:
    """Apply ``steps`` to ``case_id`` through ``store``, one transaction each; every saved version."""
    saved: list[Case] = []
    for step in steps:
        with store.transaction() as tx:
            done = apply(tx.load_case(case_id, lock=True), step, rules)
            tx.save_case(done.case)
            if done.trigger == "message":
                tx.mark_processed(done.message_id, case_id, "applied")
            tx.append_audit(
                case_id, message_id=done.message_id, type=done.type, source=done.source,
                trigger=done.trigger, occurred_at=done.occurred_at, recorded_at=done.recorded_at,
                body=done.body,
            )  # fmt: skip
            saved.append(done.case)
    return saved
