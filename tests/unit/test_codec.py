"""The case codec: every case the domain makes comes back equal, zones and all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codes import Department, RoutingMode, Tier
from contracts.messages.arrears import ArrearsNotice
from contracts.messages.case import CaseRegistered, PetitionRegistered
from contracts.values import ValidationSettings
from hub.domain.model import ArrearsState, Case, CaseKind, Deadline, RoutingDecision, RuleHit, Stage
from hub.store import codec
from tests.support.ledger_scenarios import (
    arrears_to_court,
    breach_and_escalation,
    county_rules,
    example,
    routine_lifecycle,
    versions,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def real_cases() -> list[Case]:
    """Every version of three real lifecycles: routine, breached and escalated, arrears to court."""
    rules = county_rules()
    return [
        *versions(rules, routine_lifecycle()),
        *versions(rules, breach_and_escalation()),
        *versions(rules, arrears_to_court()),
    ]


def test_codec_round_trips_every_version_of_real_lifecycles() -> None:
    cases = real_cases()
    assert {c.kind for c in cases} == {CaseKind.DISPUTE, CaseKind.ARREARS}
    assert any(c.deadlines for c in cases) and any(c.arrears for c in cases)
    for case in cases:
        text = codec.dumps(case)
        assert codec.loads(text) == case
        # Stable text means nothing (an offset, a zone, a decimal place) drifted on the way.
        assert codec.dumps(codec.loads(text)) == text


def test_codec_keeps_the_zone_of_a_deadline_not_only_its_offset() -> None:
    case = real_cases()[0]
    (deadline,) = codec.loads(codec.dumps(case)).deadlines
    assert isinstance(deadline.due_at.tzinfo, ZoneInfo)
    assert deadline.due_at.tzinfo.key == "Asia/Shanghai"
    assert deadline.due_at.isoformat() == case.deadlines[0].due_at.isoformat()


def test_codec_keeps_a_petition_a_petition() -> None:
    petition = PetitionRegistered.model_validate_json(json.dumps(example("petition.registered")["payload"]))
    case = _case(registration=petition, kind=CaseKind.PETITION)
    back = codec.loads(codec.dumps(case)).registration
    assert type(back) is PetitionRegistered
    assert back == petition


def test_codec_writes_money_as_decimal_strings_never_floats() -> None:
    arrears = next(c for c in real_cases() if c.arrears is not None)
    document = json.loads(codec.dumps(arrears))
    assert document["arrears"]["notice"]["principal"] == "186400.00"
    assert codec.decode(document).arrears == arrears.arrears


def test_codec_reads_a_registration_stored_under_another_county_and_a_credit_code_exception() -> None:
    payload = example("case.registered")["payload"]
    payload["jurisdiction"] = "340321105"  # another county of Bengbu
    payload["employer"]["uscc"] = "91340322MA2T0A1B2X"  # fails GB 32100, listed as an exception there
    elsewhere = ValidationSettings(county_code="340321", uscc_exceptions=frozenset({"91340322MA2T0A1B2X"}))
    registration = CaseRegistered.model_validate(payload, strict=False, context=elsewhere.as_context())
    case = _case(registration=registration)
    assert codec.loads(codec.dumps(case)) == case


def test_codec_reads_an_older_document_without_a_newer_field_and_ignores_a_removed_one() -> None:
    case = real_cases()[1]
    document = codec.encode(case)
    del document["transfers"]  # as if written before the field existed
    document["retired_field"] = 42  # as if the field was removed since
    assert codec.decode(document) == case.evolve(transfers=0)


def test_codec_refuses_a_type_it_cannot_store_when_compiled() -> None:
    with pytest.raises(TypeError, match="cannot store"):
        codec._codec(dict[str, Any])


# -- arbitrary cases -------------------------------------------------------------------------------

_ZONES = st.sampled_from([UTC, SHANGHAI, timezone(timedelta(hours=8)), timezone(timedelta(hours=-9, minutes=-30))])
_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=_ZONES)
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
_DEPARTMENTS = st.sampled_from(Department)
_KEYS = st.sampled_from(["routine.sign", "routine.handle", "difficult.convene", "arrears.confirm", "court.rule"])


def _case(**changes: object) -> Case:
    base = Case(
        case_id="tax-2026-000001", kind=CaseKind.DISPUTE, intake=Department.TAX,
        registered_at=datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), stage=Stage.ROUTED,
        tier=Tier.ROUTINE, owner=Department.HRSS, version=1,
    )  # fmt: skip
    return base.evolve(**changes)


@st.composite
def _registrations(draw: st.DrawFn) -> CaseRegistered | PetitionRegistered | None:
    name = draw(st.sampled_from(["case.registered", "petition.registered", None]))
    if name is None:
        return None
    model = PetitionRegistered if name == "petition.registered" else CaseRegistered
    payload = example(name)["payload"]
    payload["amount_in_dispute"] = draw(st.sampled_from([None, "0.01", "8640.00", "99999999.99"]))
    return model.model_validate(payload, strict=False)


def _arrears() -> st.SearchStrategy[ArrearsState | None]:
    notice = st.builds(lambda: ArrearsNotice.model_validate(example("arrears.notice")["payload"], strict=False))
    state = st.builds(
        ArrearsState, notice=notice, window_opens_on=st.dates(), latest_application_by=st.dates(),
        confirmers=st.tuples(_DEPARTMENTS), confirmations=st.lists(st.tuples(_DEPARTMENTS, st.booleans())).map(tuple),
        application_no=st.none() | _TEXT, court_case_ref=st.none() | _TEXT,
    )  # fmt: skip
    return st.none() | state


_DEADLINES = st.builds(
    Deadline, key=_KEYS, department=_DEPARTMENTS, tier=st.sampled_from(Tier), started_at=_MOMENTS,
    due_at=_MOMENTS, warn_at=st.none() | _MOMENTS, kind=st.sampled_from(["sla", "timer"]), warned=st.booleans(),
)  # fmt: skip
_ROUTING = st.none() | st.builds(
    RoutingDecision, owner=_DEPARTMENTS, participants=st.lists(_DEPARTMENTS).map(tuple),
    coordinator=st.none() | _DEPARTMENTS, mode=st.sampled_from(RoutingMode),
    hits=st.lists(st.builds(RuleHit, rule=_TEXT, clause=_TEXT, explanation=_TEXT), max_size=3).map(tuple),
)  # fmt: skip
_CASES = st.builds(
    _case,
    case_id=_TEXT, kind=st.sampled_from(CaseKind), intake=_DEPARTMENTS, registered_at=_MOMENTS,
    stage=st.sampled_from(Stage), tier=st.sampled_from(Tier), owner=_DEPARTMENTS,
    participants=st.lists(_DEPARTMENTS, max_size=4).map(tuple), coordinator=st.none() | _DEPARTMENTS,
    routing=_ROUTING, registration=_registrations(), arrears=_arrears(),
    deadlines=st.lists(_DEADLINES, max_size=4).map(tuple), reopened=st.integers(0, 9),
    outcome=st.none() | _TEXT, closed_at=st.none() | _MOMENTS, stage_since=st.none() | _MOMENTS,
    objection_until=st.none() | _MOMENTS, version=st.integers(1, 2**31 - 1),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(case=_CASES)
def test_codec_round_trips_arbitrary_cases(case: Case) -> None:
    text = codec.dumps(case)
    back = codec.loads(text)
    assert back == case
    assert codec.dumps(back) == text
    assert [d.due_at.utcoffset() for d in back.deadlines] == [d.due_at.utcoffset() for d in case.deadlines]



_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_the_fast_json_writer_writes_what_the_standard_library_wrote(value: Any) -> None:
    # Stored documents and the audit chain's canonical form were written with json.dumps; the
    # hashes of existing ledgers only verify if the bytes stay the same.
    import orjson

    assert orjson.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_case_document_is_the_standard_compact_json_of_its_encoding() -> None:
    for case in real_cases():
        assert codec.dumps(case) == json.dumps(codec.encode(case), ensure_ascii=False, separators=(",", ":"))
