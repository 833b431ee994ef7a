"""The breaking-change check: what it reports between an old export and new contracts."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import pytest
from pydantic import ConfigDict, Field, StringConstraints, create_model

from contracts import Registry, default_registry
from contracts.compat import Change, ChangeKind, breaking_changes, compare_schemas
from contracts.export import export, json_schemas
from contracts.messages.base import Contract
from contracts.values import Count, Label, Text

TYPE = "thing.made"


class Kind(StrEnum):
    A = "a"
    B = "b"


class KindWider(StrEnum):
    A = "a"
    B = "b"
    C = "c"


class KindNarrower(StrEnum):
    A = "a"


Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
BASE: dict[str, Any] = {
    "name": (Label, ...),
    "kind": (Kind, ...),
    "note": (Text | None, None),
    "code": (Code, ...),
    "size": (Count, ...),
    "tags": (tuple[Label, ...], ...),
}


def thing(**changes: Any) -> type[Contract]:
    """The base payload with some fields changed (``None`` removes one)."""
    fields = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    config = fields.pop("model_config", None)
    base: type[Contract] = Contract
    if config is not None:
        base = cast(type[Contract], type("RuledContract", (Contract,), {"model_config": config}))
    return create_model("Thing", __base__=base, __doc__="A thing was made.", **fields)


def registry_of(*payloads: type[Contract], type_: str = TYPE) -> Registry:
    """A registry with versions 1.. of one type (each upcast is the identity on headers)."""
    registry = Registry()
    for version, payload in enumerate(payloads, start=1):
        registry.add(type_, version, payload, upcast_from_previous=_unused if version > 1 else None)
    return registry


def _unused(envelope: Any) -> Any:
    raise AssertionError("not called by the compatibility check")


@pytest.fixture
def old_export(tmp_path: Path) -> Path:
    export(registry_of(thing()), tmp_path / "old")
    return tmp_path / "old"


COMPATIBLE = {
    "nothing changed": {},
    "a new optional field": {"extra": (Label | None, None)},
    "a widened enum": {"kind": (KindWider, ...)},
    "a longer maximum length": {"name": (Text, ...)},
    "null now accepted": {"name": (Label | None, ...)},
    "a larger maximum": {"size": (Annotated[int, Field(ge=0)], ...)},
}
BREAKING = {
    "a removed field": ({"note": None}, ("payload.note", ChangeKind.REMOVED_FIELD)),
    "a retyped field": ({"size": (str, ...)}, ("payload.size", ChangeKind.RETYPED_FIELD)),
    "a new required field": (
        {"extra": (Label, ...)},
        ("payload.extra", ChangeKind.NEW_REQUIRED_FIELD),
    ),
    "an optional field now required": (
        {"note": (Text | None, ...)},
        ("payload.note", ChangeKind.NEW_REQUIRED_FIELD),
    ),
    "null no longer accepted": (
        {"note": (Text, "none")},
        ("payload.note", ChangeKind.RETYPED_FIELD),
    ),
    "a narrowed enum": ({"kind": (KindNarrower, ...)}, ("payload.kind", ChangeKind.NARROWED_ENUM)),
    "a changed pattern": (
        {"code": (Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")], ...)},
        ("payload.code", ChangeKind.TIGHTENED_PATTERN),
    ),
    "a lower maximum": (
        {"size": (Annotated[int, Field(ge=0, le=100)], ...)},
        ("payload.size", ChangeKind.TIGHTENED_CONSTRAINT),
    ),
    "items now unique": (
        {"tags": (tuple[Label, ...], Field(json_schema_extra={"uniqueItems": True}))},
        ("payload.tags", ChangeKind.TIGHTENED_CONSTRAINT),
    ),
    "a minimum of items": (
        {"tags": (tuple[Label, ...], Field(min_length=1))},
        ("payload.tags", ChangeKind.TIGHTENED_CONSTRAINT),
    ),
    "a new conditional rule": (
        {
            "model_config": ConfigDict(
                json_schema_extra={
                    "if": {"properties": {"kind": {"const": "a"}}},
                    "then": {"required": ["note"]},
                }
            )
        },
        ("payload", ChangeKind.TIGHTENED_CONSTRAINT),
    ),
}


@pytest.mark.parametrize("changes", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_change_is_not_reported(old_export: Path, changes: dict[str, Any]) -> None:
    assert breaking_changes(old_export, registry_of(thing(**changes))) == []


@pytest.mark.parametrize(("changes", "expected"), BREAKING.values(), ids=BREAKING.keys())
def test_breaking_change_is_reported_at_its_field(
    old_export: Path, changes: dict[str, Any], expected: tuple[str, ChangeKind]
) -> None:
    found = breaking_changes(old_export, registry_of(thing(**changes)))

    assert [(c.path, c.kind) for c in found] == [expected]
    assert found[0].type == TYPE and found[0].version == 1
    assert str(found[0]).startswith(f"{TYPE} v1 {expected[0]}: ")


def test_new_type_and_new_version_are_not_breaking(old_export: Path) -> None:
    registry = registry_of(thing(), thing(extra=(Label, ...)))
    registry.add("thing.broken", 1, thing())

    assert breaking_changes(old_export, registry) == []


def test_removed_type_and_removed_version_are_breaking(tmp_path: Path) -> None:
    export(registry_of(thing(), thing()), tmp_path / "old")
    registry = registry_of(thing(), type_="thing.renamed")
    registry.add(TYPE, 1, thing())

    assert breaking_changes(tmp_path / "old", registry_of(thing(), type_="thing.renamed")) == [
        Change(
            TYPE,
            1,
            "(message)",
            ChangeKind.REMOVED_TYPE,
            f"type {TYPE} is no longer in the catalogue",
        ),
        Change(
            TYPE,
            2,
            "(message)",
            ChangeKind.REMOVED_TYPE,
            f"type {TYPE} is no longer in the catalogue",
        ),
    ]
    assert [(c.version, c.kind) for c in breaking_changes(tmp_path / "old", registry)] == [
        (2, ChangeKind.REMOVED_VERSION)
    ]


def test_check_reads_a_new_export_directory_as_it_reads_a_registry(
    old_export: Path, tmp_path: Path
) -> None:
    registry = registry_of(thing(note=None))
    export(registry, tmp_path / "new")

    assert breaking_changes(old_export, tmp_path / "new") == breaking_changes(old_export, registry)


def test_current_contracts_have_no_breaking_change_against_themselves(tmp_path: Path) -> None:
    export(default_registry(), tmp_path)

    assert breaking_changes(tmp_path, default_registry()) == []


def test_narrowing_an_enum_is_reported_where_the_old_export_had_more(tmp_path: Path) -> None:
    export(default_registry(), tmp_path)
    path = tmp_path / "case.registered.v1.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["$defs"]["InsuranceType"]["enum"].append("999")  # the old contract knew one more
    path.write_text(json.dumps(schema), encoding="utf-8")

    found = breaking_changes(tmp_path, default_registry())

    assert [(c.type, c.path, c.kind) for c in found] == [
        ("case.registered", "payload.insurance_types[]", ChangeKind.NARROWED_ENUM)
    ]
    assert found[0].sentence == 'no longer accepts "999"'


def test_compare_schemas_follows_references_into_unions() -> None:
    schemas = json_schemas(default_registry())
    old = schemas["case.routed.v1.schema.json"]
    new = json.loads(json.dumps(old))
    new["$defs"]["PetitionRegistered"]["properties"]["people_count"]["minimum"] = 5

    assert compare_schemas(old, new) == [
        (
            "payload.registration.people_count",
            ChangeKind.TIGHTENED_CONSTRAINT,
            "minimum raised to 5",
        )
    ]
