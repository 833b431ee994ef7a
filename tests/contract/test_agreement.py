"""Runtime and exported schemas agree on each rule, one hand-made message per rule.

Each case takes a valid example, changes one thing, and states the verdict: the
runtime must give exactly that (accepted, or that reason code) and the schema
must accept exactly when the runtime does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from contracts import RejectReason
from tests.contract.support import SchemaJudge, encode, example, runtime_verdict

Message = dict[str, Any]
ACCEPTED = None
SCHEMA = RejectReason.SCHEMA_VIOLATION


def _set(path: str, value: object) -> Callable[[Message], None]:
    """Set a dotted path (``payload.records.0.late_fee``) to a value."""

    def change(message: Message) -> None:
        *parents, last = path.split(".")
        node: Any = message
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def _delete(path: str) -> Callable[[Message], None]:
    def change(message: Message) -> None:
        *parents, last = path.split(".")
        node: Any = message
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


def _as(type_: str, payload: Message) -> Callable[[Message], None]:
    """Turn a case message into another case type with the given payload."""

    def change(message: Message) -> None:
        message["type"] = type_
        message["payload"] = payload

    return change


def _all(*changes: Callable[[Message], None]) -> Callable[[Message], None]:
    def change(message: Message) -> None:
        for one in changes:
            one(message)

    return change


_JOINT = {"lead": "hrss", "participants": ["medins", "tax"], "reason": "联合办理"}
_MEETING = {
    "tier": "difficult",
    "meeting_no": "专班〔2026〕1号",
    "held_at": "2026-11-25T15:00:00+08:00",
    "attendees": ["tax", "hrss", "medins"],
    "decision": "assign",
    "lead": "hrss",
    "participants": ["medins"],
    "minutes": "由人社局牵头办理。",
}

CASES: list[tuple[str, str, Callable[[Message], None], RejectReason | None]] = [
    # parties and payers: who carries which identifier
    (
        "employer party without a credit code",
        "case.registered.json",
        _set("payload.party.kind", "employer"),
        SCHEMA,
    ),
    (
        "employer party with a credit code",
        "case.registered.json",
        _all(
            _set("payload.party.kind", "employer"), _set("payload.party.uscc", "91350100M000100Y43")
        ),
        ACCEPTED,
    ),
    (
        "person party without an ID number",
        "case.registered.json",
        _set("payload.party.id_number", None),
        SCHEMA,
    ),
    (
        "employer payer without a credit code",
        "payment.details.json",
        _set("payload.records.0.employer_uscc", None),
        SCHEMA,
    ),
    (
        "personal payer without an ID number",
        "payment.details.json",
        _set("payload.records.2.person_id_number", None),
        SCHEMA,
    ),
    (
        "fullwidth digits in an ID number",
        "case.registered.json",
        _set("payload.party.id_number", "３４０３２２１９８５０３１５１２３0"),
        RejectReason.INVALID_ID_NUMBER,
    ),
    # lists without repeats
    (
        "a matter twice",
        "case.registered.json",
        _set("payload.matters", ["arrears", "arrears"]),
        SCHEMA,
    ),
    (
        "an insurance type twice",
        "case.registered.json",
        _set("payload.insurance_types", ["110", "110"]),
        SCHEMA,
    ),
    (
        "no insurance type at all",
        "case.registered.json",
        _set("payload.insurance_types", []),
        ACCEPTED,
    ),
    (
        "a record id twice in a batch",
        "payment.details.json",
        _set("payload.records.1.record_id", "r-000001"),
        SCHEMA,
    ),
    (
        "a confirming department twice",
        "enforcement.applied.json",
        _set("payload.confirmations", ["hrss", "hrss"]),
        SCHEMA,
    ),
    # orders and totals
    (
        "a record's period ending before it starts",
        "payment.details.json",
        _set("payload.records.2.period_end", "2025-12"),
        SCHEMA,
    ),
    (
        "pay_by before served_on",
        "arrears.notice.json",
        _set("payload.pay_by", "2026-11-01"),
        SCHEMA,
    ),
    (
        "pay_by on the day served",
        "arrears.notice.json",
        _set("payload.pay_by", "2026-11-02"),
        ACCEPTED,
    ),
    (
        "an arrears period ending before it starts",
        "arrears.notice.json",
        _set("payload.period_end", "2025-12"),
        SCHEMA,
    ),
    (
        "receipt totals that do not add up",
        "payment.receipt.json",
        _set("payload.received", 3),
        SCHEMA,
    ),
    (
        "receipt totals with rejected records",
        "payment.receipt.json",
        _all(
            _set("payload.received", 3),
            _set("payload.rejected", [{"record_id": "r-9", "reason": "未参保"}]),
        ),
        ACCEPTED,
    ),
    (
        "a rejected record id twice",
        "payment.receipt.json",
        _all(
            _set("payload.received", 4),
            _set("payload.rejected", [{"record_id": "r-9", "reason": "x"}] * 2),
        ),
        SCHEMA,
    ),
    ("a petition of no one", "petition.registered.json", _set("payload.people_count", 0), SCHEMA),
    ("a petition of one", "petition.registered.json", _set("payload.people_count", 1), ACCEPTED),
    # the envelope's case rules
    ("a case event without case_id", "case.accepted.json", _delete("case_id"), SCHEMA),
    ("a case event with a null case_id", "case.accepted.json", _set("case_id", None), SCHEMA),
    ("a batch without case_id", "payment.details.json", _delete("case_id"), ACCEPTED),
    ("a batch naming a case", "payment.details.json", _set("case_id", "tax-2026-000200"), ACCEPTED),
    (
        "a petition registered under another's case id",
        "petition.registered.json",
        _set("case_id", "tax-2026-000031"),
        SCHEMA,
    ),
    (
        "a source whose code starts another's",
        "arrears.notice.json",
        _set("case_id", "taskforce-2026-000200"),
        SCHEMA,
    ),
    ("no target", "case.accepted.json", _delete("target"), ACCEPTED),
    # joint handling and meetings
    (
        "joint handling with the lead among participants",
        "case.accepted.json",
        _as("case.joint_handling_requested", {**_JOINT, "participants": ["hrss", "medins"]}),
        SCHEMA,
    ),
    (
        "joint handling with a participant twice",
        "case.accepted.json",
        _as("case.joint_handling_requested", {**_JOINT, "participants": ["tax", "tax"]}),
        SCHEMA,
    ),
    (
        "joint handling as it should be",
        "case.accepted.json",
        _as("case.joint_handling_requested", _JOINT),
        ACCEPTED,
    ),
    (
        "an 'assign' meeting without a lead",
        "case.accepted.json",
        _as("case.meeting_concluded", {**_MEETING, "lead": None}),
        SCHEMA,
    ),
    (
        "an 'assign' meeting leaving the lead out",
        "case.accepted.json",
        _as("case.meeting_concluded", {k: v for k, v in _MEETING.items() if k != "lead"}),
        SCHEMA,
    ),
    (
        "a 'resolved' meeting without a lead",
        "case.accepted.json",
        _as("case.meeting_concluded", {**_MEETING, "decision": "resolved", "lead": None}),
        ACCEPTED,
    ),
    # money
    (
        "money with three places",
        "payment.receipt.json",
        _set("payload.amount_paid_total", "1580.001"),
        SCHEMA,
    ),
    (
        "money with one place",
        "payment.receipt.json",
        _set("payload.amount_paid_total", "1580.5"),
        ACCEPTED,
    ),
    (
        "money with a trailing newline",
        "payment.receipt.json",
        _set("payload.amount_paid_total", "1580.00\n"),
        SCHEMA,
    ),
    (
        "money in fullwidth digits",
        "payment.receipt.json",
        _set("payload.amount_paid_total", "１５８０.00"),
        SCHEMA,
    ),
    # integers
    ("a count written 2.0", "payment.receipt.json", _set("payload.received", 2.0), SCHEMA),
    ("a count written as a string", "payment.receipt.json", _set("payload.received", "2"), SCHEMA),
    ("a boolean for a count", "payment.receipt.json", _set("payload.received", True), SCHEMA),
    # times, days, ids
    (
        "a time in UTC with Z",
        "case.closed.json",
        _set("occurred_at", "2026-12-01T01:30:00Z"),
        ACCEPTED,
    ),
    (
        "a time with nanoseconds",
        "case.closed.json",
        _set("occurred_at", "2026-12-01T01:30:00.123456789-05:30"),
        ACCEPTED,
    ),
    (
        "a time with a space for T",
        "case.closed.json",
        _set("occurred_at", "2026-12-01 09:30:00+08:00"),
        SCHEMA,
    ),
    (
        "a time without seconds",
        "case.closed.json",
        _set("occurred_at", "2026-12-01T09:30+08:00"),
        SCHEMA,
    ),
    (
        "a time with +0800",
        "case.closed.json",
        _set("occurred_at", "2026-12-01T09:30:00+0800"),
        SCHEMA,
    ),
    ("a unix timestamp for a time", "case.closed.json", _set("occurred_at", "1700000000"), SCHEMA),
    (
        "a time on a day February lacks",
        "case.closed.json",
        _set("occurred_at", "2026-02-29T09:30:00+08:00"),
        SCHEMA,
    ),
    (
        "a day February lacks",
        "arrears.notice.json",
        _set("payload.served_on", "2026-02-30"),
        SCHEMA,
    ),
    ("a unix timestamp for a day", "arrears.notice.json", _set("payload.served_on", "0"), SCHEMA),
    ("year zero", "arrears.notice.json", _set("payload.late_fee_from", "0000-01-01"), SCHEMA),
    (
        "a leap day",
        "arrears.notice.json",
        _all(
            _set("payload.late_fee_from", "2028-02-29"),
            _set("payload.served_on", "2028-02-29"),
            _set("payload.pay_by", "2028-03-01"),
        ),
        ACCEPTED,
    ),
    (
        "an upper-case message id",
        "case.closed.json",
        _set("message_id", "0193F6D2-8C1E-7B4A-9F00-5C1D2E3F4A06"),
        ACCEPTED,
    ),
    (
        "a message id in braces",
        "case.closed.json",
        _set("message_id", "{0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a06}"),
        SCHEMA,
    ),
    (
        "a message id without hyphens",
        "case.closed.json",
        _set("message_id", "0193f6d28c1e7b4a9f005c1d2e3f4a06"),
        SCHEMA,
    ),
    # jurisdictions
    (
        "a village under the county",
        "case.registered.json",
        _set("payload.jurisdiction", "340322101201"),
        ACCEPTED,
    ),
    ("the county itself", "case.registered.json", _set("payload.jurisdiction", "340322"), SCHEMA),
    (
        "a township of the next county",
        "case.registered.json",
        _set("payload.jurisdiction", "340321101"),
        SCHEMA,
    ),
]


@pytest.mark.parametrize(
    ("source", "change", "expected"),
    [pytest.param(source, change, expected, id=name) for name, source, change, expected in CASES],
)
def test_runtime_and_schema_give_the_same_verdict_on_one_rule(
    source: str,
    change: Callable[[Message], None],
    expected: RejectReason | None,
    judge: SchemaJudge,
) -> None:
    message = copy.deepcopy(example(source))
    change(message)
    raw = encode(message)

    rejected = runtime_verdict(raw)

    assert (rejected.reason if rejected else None) == expected, rejected
    assert judge.accepts(raw) == (expected is None), judge.errors(raw)
