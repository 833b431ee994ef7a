"""Two versions of a type side by side: old messages are upcast, unknown versions refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import AnyEnvelope, Registry, Rejected, RejectReason, parse
from contracts.compat import ChangeKind, breaking_changes
from contracts.export import export, json_schemas
from contracts.messages.base import Contract
from contracts.values import Label, Text
from tests.contract.support import SchemaJudge

TYPE = "note.posted"


class NoteV1(Contract):
    """A note was posted (version 1)."""

    text: Text


class NoteV2(Contract):
    """A note was posted (version 2: ``text`` renamed ``body``, an author added)."""

    body: Text
    author: Label | None = None


def upcast_note(envelope: AnyEnvelope) -> AnyEnvelope:
    """v1 → v2: the text becomes the body; the author is unknown."""
    v2 = REGISTRY.versions(TYPE)[1].envelope
    headers = envelope.model_dump(exclude={"schema_version", "payload"})
    return v2(**headers, schema_version=2, payload=NoteV2(body=envelope.payload.text))


REGISTRY = Registry().add(TYPE, 1, NoteV1).add(TYPE, 2, NoteV2, upcast_from_previous=upcast_note)


def _message(version: int, payload: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a01",
            "type": TYPE,
            "schema_version": version,
            "source": "tax",
            "case_id": "tax-2026-000123",
            "occurred_at": "2026-11-23T09:15:00+08:00",
            "payload": payload,
        }
    ).encode()


def test_version_1_message_parses_and_is_upcast_to_version_2() -> None:
    envelope = parse(_message(1, {"text": "已签收"}), registry=REGISTRY)

    assert envelope.schema_version == 2
    assert envelope.payload == NoteV2(body="已签收")
    assert str(envelope.message_id) == "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a01"
    assert type(envelope) is REGISTRY.latest(TYPE).envelope


def test_version_2_message_parses_as_it_is() -> None:
    envelope = parse(_message(2, {"body": "已签收", "author": "H-0042"}), registry=REGISTRY)

    assert envelope.schema_version == 2
    assert envelope.payload == NoteV2(body="已签收", author="H-0042")


def test_each_version_is_validated_against_its_own_schema() -> None:
    with pytest.raises(Rejected) as caught:
        parse(_message(1, {"body": "已签收"}), registry=REGISTRY)

    assert caught.value.reason is RejectReason.SCHEMA_VIOLATION
    assert caught.value.detail.startswith("payload.")


def test_unknown_version_3_is_unsupported_and_names_the_supported_ones() -> None:
    with pytest.raises(Rejected) as caught:
        parse(_message(3, {"body": "已签收"}), registry=REGISTRY)

    assert caught.value.reason is RejectReason.UNSUPPORTED_VERSION
    assert caught.value.detail.endswith("(supported: 1, 2)")


def test_a_second_version_needs_its_upcast() -> None:
    with pytest.raises(ValueError, match="needs an upcast"):
        Registry().add(TYPE, 1, NoteV1).add(TYPE, 2, NoteV2)


def test_export_of_two_versions_has_a_schema_and_a_message_for_each(tmp_path: Path) -> None:
    export(REGISTRY, tmp_path)
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    document = json.loads((tmp_path / "asyncapi.json").read_text(encoding="utf-8"))

    assert index == {TYPE: {"1": f"{TYPE}.v1.schema.json", "2": f"{TYPE}.v2.schema.json"}}
    assert {f"{TYPE}.v1", f"{TYPE}.v2"} <= document["components"]["messages"].keys()


def test_each_version_schema_accepts_its_own_messages_only() -> None:
    judge = SchemaJudge(json_schemas(REGISTRY))

    assert judge.accepts(_message(1, {"text": "x"}))
    assert judge.accepts(_message(2, {"body": "x"}))
    assert not judge.accepts(_message(2, {"text": "x"}))
    assert not judge.accepts(_message(3, {"body": "x"}))


def test_adding_version_2_breaks_nothing_and_dropping_version_1_does(tmp_path: Path) -> None:
    export(Registry().add(TYPE, 1, NoteV1), tmp_path / "v1")
    export(REGISTRY, tmp_path / "both")

    assert breaking_changes(tmp_path / "v1", REGISTRY) == []
    only_v2 = Registry().add(TYPE, 2, NoteV2)
    assert [(c.version, c.kind) for c in breaking_changes(tmp_path / "both", only_v2)] == [
        (1, ChangeKind.REMOVED_VERSION)
    ]
