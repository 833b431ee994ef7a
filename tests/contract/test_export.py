"""The export: JSON Schemas that say what they can natively, the AsyncAPI document, the files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts import Registry, ValidationSettings, default_registry
from contracts.asyncapi import HUB_ONLY_TYPES
from contracts.export import (
    ASYNCAPI_FILE,
    INDEX_FILE,
    SCHEMA_DIALECT,
    asyncapi,
    dumps,
    export,
    json_schemas,
    schema_file,
)
from contracts.jsonschema_formats import FORMATS, format_checker
from contracts.values import INSTANT_PATTERN
from tests.contract.support import REPO_ROOT, SchemaJudge, encode, example, runtime_verdict

Schemas = dict[str, dict[str, Any]]
SNAPSHOT = REPO_ROOT / "contracts" / "snapshot"


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def test_export_has_one_schema_per_type_and_version(registry: Registry, schemas: Schemas) -> None:
    expected = {schema_file(cv.name, cv.version) for cv in registry}

    assert set(schemas) == expected
    assert len(expected) == len(list(registry)) >= 24


def test_each_schema_is_a_valid_self_contained_draft_2020_12_schema(schemas: Schemas) -> None:
    ids = set()
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == SCHEMA_DIALECT
        ids.add(schema["$id"])
        for node in _nodes(schema):
            reference = node.get("$ref")
            if reference is not None:
                assert reference.startswith("#/$defs/"), (name, reference)
                assert reference.removeprefix("#/$defs/") in schema["$defs"], (name, reference)
    assert len(ids) == len(schemas)


def test_each_schema_pins_its_type_and_version(schemas: Schemas) -> None:
    for name, schema in schemas.items():
        type_, version = name.removesuffix(".schema.json").rsplit(".v", 1)
        assert schema["properties"]["type"]["const"] == type_
        assert schema["properties"]["schema_version"]["const"] == int(version)


def test_every_object_in_the_schemas_is_closed(schemas: Schemas) -> None:
    for schema in schemas.values():
        for node in _nodes(schema):
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, node.get("title")


def test_money_is_a_patterned_string_and_no_schema_has_a_number(schemas: Schemas) -> None:
    money_fields = 0
    for schema in schemas.values():
        for node in _nodes(schema):
            assert node.get("type") != "number"
            if "yuan" in str(node.get("description", "")):
                money_fields += 1
                assert node["type"] == "string"
                assert node["pattern"] == r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
    assert money_fields > 10


def test_every_date_time_requires_an_offset_by_pattern(schemas: Schemas) -> None:
    pattern = re.compile(INSTANT_PATTERN)
    times = [n for s in schemas.values() for n in _nodes(s) if n.get("format") == "date-time"]

    assert times and all(node["pattern"] == INSTANT_PATTERN for node in times)
    assert pattern.search("2026-11-23T09:15:00+08:00")
    assert pattern.search("2026-11-23T01:15:00.5Z")
    assert not pattern.search("2026-11-23T09:15:00")
    assert not pattern.search("2026-11-23T09:15:00+0800")


def test_case_id_is_required_except_for_payment_types(schemas: Schemas) -> None:
    for name, schema in schemas.items():
        required = "case_id" in schema["required"]
        assert required == (not name.startswith("payment.")), name
        if required:
            assert schema["properties"]["case_id"]["type"] == "string"


def test_every_format_in_the_schemas_is_checked_and_every_checked_format_used(
    schemas: Schemas,
) -> None:
    used = {n["format"] for s in schemas.values() for n in _nodes(s) if "format" in n}

    assert used == set(FORMATS)
    assert set(format_checker().checkers) == set(FORMATS)


def test_formats_are_documented_for_integrators() -> None:
    docs = (REPO_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")

    for name in FORMATS:
        assert f"`{name}`" in docs, name


def test_docs_name_every_type_and_payload_field(registry: Registry) -> None:
    docs = (REPO_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")

    for cv in registry:
        assert f"`{cv.name}`" in docs, cv.name
        for field in cv.payload.model_fields:
            assert f"`{field}`" in docs, (cv.name, field)


def test_schema_of_another_county_follows_its_code() -> None:
    settings = ValidationSettings(county_code="340321")
    judge = SchemaJudge(json_schemas(default_registry(), settings), settings)
    message = example("case.registered.json")

    message["payload"]["jurisdiction"] = "340321101"
    assert judge.accepts(encode(message))
    assert runtime_verdict(encode(message), settings=settings) is None
    message["payload"]["jurisdiction"] = "340322101"
    assert not judge.accepts(encode(message))


def test_schema_with_a_listed_early_code_accepts_it_like_the_runtime() -> None:
    early = "91340322MA2T0A1B2N"  # fails the checksum
    settings = ValidationSettings(uscc_exceptions=frozenset({early}))
    message = example("case.registered.json")
    message["payload"]["employer"]["uscc"] = early

    assert SchemaJudge(json_schemas(default_registry(), settings), settings).accepts(
        encode(message)
    )
    assert runtime_verdict(encode(message), settings=settings) is None
    assert not SchemaJudge(json_schemas(default_registry())).accepts(encode(message))


def test_export_writes_schemas_asyncapi_and_index(tmp_path: Path, registry: Registry) -> None:
    written = export(registry, tmp_path, version="9.9.9")

    assert written == sorted(tmp_path.iterdir())
    index = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    for cv in registry:
        file = index[cv.name][str(cv.version)]
        assert json.loads((tmp_path / file).read_text(encoding="utf-8"))["$id"].endswith(
            f"{cv.name}:v{cv.version}"
        )
    document = json.loads((tmp_path / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert document["info"]["version"] == "9.9.9"


def test_export_is_deterministic_sorted_and_newline_terminated(
    tmp_path: Path, registry: Registry
) -> None:
    first, second = export(registry, tmp_path / "a"), export(registry, tmp_path / "b")

    for a, b in zip(first, second, strict=True):
        text = a.read_text(encoding="utf-8")
        assert text == b.read_text(encoding="utf-8")
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert text == dumps(json.loads(text))  # sorted keys, 2-space indent


def test_export_removes_schema_files_of_an_earlier_export(
    tmp_path: Path, registry: Registry
) -> None:
    stale = tmp_path / "case.teleported.v1.schema.json"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("{}\n", encoding="utf-8")
    notes = tmp_path / "README.md"
    notes.write_text("kept\n", encoding="utf-8")

    export(registry, tmp_path)

    assert not stale.exists()
    assert notes.exists()


def test_committed_snapshot_is_the_current_export(tmp_path: Path, registry: Registry) -> None:
    # The snapshot is the baseline of `sihub contracts check`; a stale one would let a
    # later removal of a field added since go unnoticed.
    export(registry, tmp_path)
    hint = "refresh it: sihub contracts export contracts/snapshot"
    for path in sorted(tmp_path.iterdir()):
        committed = SNAPSHOT / path.name
        assert committed.exists(), f"{path.name} missing from the snapshot; {hint}"
        current, old = json.loads(path.read_text("utf-8")), json.loads(committed.read_text("utf-8"))
        if path.name == ASYNCAPI_FILE:
            current["info"].pop("version"), old["info"].pop("version")
        assert current == old, f"{path.name} differs from the snapshot; {hint}"
    assert {p.name for p in SNAPSHOT.iterdir()} == {p.name for p in tmp_path.iterdir()}


# --- AsyncAPI -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi(default_registry(), version="1.0.0")


def _resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_has_the_required_top_level_structure(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "sihub" and document["info"]["version"] == "1.0.0"
    assert {"servers", "channels", "operations", "components"} <= document.keys()
    servers = document["servers"]
    assert {(s["protocol"], s["host"]) for s in servers.values()} == {
        ("amqp", "rabbitmq:5672"),
        ("amqps", "rabbitmq:5671"),
    }


def test_asyncapi_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    references = [n["$ref"] for n in _nodes(document) if isinstance(n.get("$ref"), str)]

    assert len(references) > 100
    for reference in references:
        assert reference.startswith("#/"), reference
        assert _resolve(document, reference) is not None, reference


def test_asyncapi_channels_are_the_two_topic_exchanges(document: dict[str, Any]) -> None:
    channels = document["channels"]

    for key, address in (("sihubIn", "sihub.in"), ("sihubOut", "sihub.out")):
        amqp = channels[key]["bindings"]["amqp"]
        assert channels[key]["address"] == address
        assert amqp["is"] == "routingKey"
        assert amqp["exchange"] == {
            "name": address,
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "sihub",
        }


def test_asyncapi_every_message_is_on_a_channel_and_hub_only_types_only_go_out(
    document: dict[str, Any], registry: Registry
) -> None:
    channels = document["channels"]
    on_channels = {m["$ref"] for channel in channels.values() for m in channel["messages"].values()}

    assert on_channels == {f"#/components/messages/{k}" for k in document["components"]["messages"]}
    assert len(document["components"]["messages"]) == len(list(registry))
    for cv in registry:
        key = f"{cv.name}.v{cv.version}"
        assert key in channels["sihubOut"]["messages"]
        assert (key in channels["sihubIn"]["messages"]) == (cv.name not in HUB_ONLY_TYPES)


def test_asyncapi_operations_send_and_receive_on_both_sides(document: dict[str, Any]) -> None:
    operations = {(op["action"], op["channel"]["$ref"]) for op in document["operations"].values()}

    assert operations == {
        ("send", "#/channels/sihubIn"),
        ("receive", "#/channels/sihubIn"),
        ("send", "#/channels/sihubOut"),
        ("receive", "#/channels/sihubOut"),
    }
    for op in document["operations"].values():
        for message in op["messages"]:
            assert message["$ref"].startswith(op["channel"]["$ref"] + "/messages/")


def test_asyncapi_message_describes_its_type_routing_and_correlation(
    document: dict[str, Any], registry: Registry
) -> None:
    for cv in registry:
        message = document["components"]["messages"][f"{cv.name}.v{cv.version}"]
        payload = _resolve(document, message["payload"]["$ref"])
        assert message["name"] == cv.name
        assert message["summary"] == cv.description
        assert payload["properties"]["type"]["const"] == cv.name
        amqp = message["bindings"]["amqp"]
        assert amqp["messageType"] == cv.name
        expected = {"sihub.out": f"<target>.{cv.name}"}
        if cv.name not in HUB_ONLY_TYPES:
            expected["sihub.in"] = f"<source>.{cv.name}"
        assert amqp["x-sihub-routing-keys"] == expected
        location = _resolve(document, message["correlationId"]["$ref"])["location"]
        assert location == "$message.payload#/correlation_id"


@pytest.mark.parametrize("name", ["case.registered.json", "payment.details.json"])
def test_asyncapi_payload_schema_validates_the_example(document: dict[str, Any], name: str) -> None:
    message = example(name)
    key = f"{message['type']}.v{message['schema_version']}"
    reference = document["components"]["messages"][key]["payload"]["$ref"]
    # The document is the schema resource: hoisted $defs must resolve within it.
    validator = Draft202012Validator(
        {**document, "$ref": reference}, format_checker=format_checker()
    )

    assert list(validator.iter_errors(message)) == []
    message["payload"]["summary" if "summary" in message["payload"] else "batch_id"] = ""
    assert list(validator.iter_errors(message)) != []
