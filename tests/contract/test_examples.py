"""The shared examples: the runtime and the exported JSON Schemas give the same verdicts.

Every ``examples/*.json`` is accepted by both; every ``examples/invalid/*.json`` is
refused by both, by the runtime with exactly its reason code and a detail that
starts with a field path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts import CATALOGUE, RejectReason, parse
from contracts.export import schema_file
from contracts.jsonschema_formats import format_checker
from tests.contract.support import (
    SchemaJudge,
    encode,
    format_failures,
    invalid_examples,
    runtime_verdict,
    valid_examples,
)

#: ``payload.records[0].amount_paid: ...`` or ``(message): ...``
_DETAIL = re.compile(r"^(?P<path>\(message\)|[a-z_]+(?:\.[a-z_]+|\[[0-9]+\])*): \S")
#: The format whose failure in the schema corresponds to a reason code of its own.
_FORMAT_OF_REASON = {
    RejectReason.INVALID_ID_NUMBER: "gb11643-id-number",
    RejectReason.INVALID_USCC: "gb32100-uscc",
}


def _name(path: Path) -> str:
    return path.name


@pytest.mark.parametrize("path", valid_examples(), ids=_name)
def test_example_is_accepted_with_its_catalogue_payload(path: Path) -> None:
    envelope = parse(path.read_bytes())

    assert envelope.type == path.name.removesuffix(".json")
    assert type(envelope.payload) is CATALOGUE[envelope.type]


@pytest.mark.parametrize("path", valid_examples(), ids=_name)
def test_example_round_trips_model_to_json_to_model_unchanged(path: Path) -> None:
    envelope = parse(path.read_bytes())

    again = parse(envelope.to_json())

    assert again == envelope
    assert json.loads(again.to_json()) == json.loads(envelope.to_json())


@pytest.mark.parametrize("path", valid_examples(), ids=_name)
def test_example_is_valid_under_its_exported_schema(path: Path, judge: SchemaJudge) -> None:
    assert judge.errors(path.read_bytes()) == []


@pytest.mark.parametrize("path", invalid_examples(), ids=_name)
def test_invalid_example_is_refused_with_exactly_its_reason_and_a_field_path(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))

    rejected = runtime_verdict(encode(case["message"]))

    assert rejected is not None, "accepted"
    assert rejected.reason == RejectReason(case["reject_reason"]), rejected.detail
    match = _DETAIL.match(rejected.detail)
    assert match, rejected.detail
    assert _parent_exists(case["message"], match["path"]), rejected.detail


@pytest.mark.parametrize("path", invalid_examples(), ids=_name)
def test_invalid_example_is_refused_by_its_exported_schema(path: Path, judge: SchemaJudge) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))

    errors = judge.errors(encode(case["message"]))

    assert errors, "the schema accepts what the hub refuses"
    expected_format = _FORMAT_OF_REASON.get(RejectReason(case["reject_reason"]))
    if expected_format:
        assert expected_format in format_failures(errors)


def _parent_exists(message: dict[str, Any], path: str) -> bool:
    """Whether the object or list holding the field a detail names is in the message."""
    if path == "(message)":
        return True
    *parents, last = re.findall(r"[a-z_]+|\[[0-9]+\]", path)
    node: Any = message
    for part in parents:
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False
            node = node[index]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return isinstance(node, list if last.startswith("[") else dict)


@pytest.mark.parametrize("path", valid_examples() + invalid_examples(), ids=_name)
def test_example_verdict_holds_with_the_plain_jsonschema_validator(
    path: Path, schemas: dict[str, Any]
) -> None:
    # What an integrator gets from stock jsonschema plus the format checker alone.
    loaded = json.loads(path.read_text(encoding="utf-8"))
    message = loaded.get("message", loaded)
    schema = schemas.get(schema_file(message["type"], message["schema_version"]))

    valid = schema is not None and Draft202012Validator(
        schema, format_checker=format_checker()
    ).is_valid(message)

    assert valid == ("reject_reason" not in loaded)


def test_hub_copy_of_a_registration_keeps_the_departments_case_id() -> None:
    """The hub forwards arrears.notice to hrss/medins as itself; the case id stays tax's."""
    from contracts import build, parse
    from contracts.codes import Department
    from hub.ids import uuid7
    from tests.contract.support import examples_dir

    directory = examples_dir()
    if directory is None:
        pytest.skip("the shared examples are not beside the repository")
    notice = parse((directory / "arrears.notice.json").read_bytes())
    copy = build("arrears.notice", notice.payload, source=Department.HUB, target=Department.HRSS,
                 message_id=uuid7(), occurred_at=notice.occurred_at, case_id=notice.case_id)
    assert parse(copy.to_json()).case_id == "tax-2026-000200"
