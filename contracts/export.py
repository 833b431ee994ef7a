"""Export the contracts: one JSON Schema (draft 2020-12) per type and version, one AsyncAPI 3.0.

Pure functions from a :class:`~contracts.registry.Registry` to plain dicts, plus
:func:`export`, which writes them deterministically (sorted keys, 2-space indent,
trailing newline) so that a diff of two exports is meaningful. What JSON Schema
cannot say natively is named by a custom ``format`` (see
:mod:`contracts.jsonschema_formats` and ``docs/contracts.md``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.asyncapi import asyncapi_document
from contracts.codes import Department
from contracts.envelope import CASE_ID_PATTERN, CASELESS_TYPES, REGISTERING_TYPES
from contracts.messages.base import schema_when
from contracts.registry import ContractVersion, Registry
from contracts.values import (
    JURISDICTION_PATTERN,
    USCC_PATTERN,
    ValidationSettings,
    jurisdiction_pattern,
)

__all__ = [
    "ASYNCAPI_FILE",
    "INDEX_FILE",
    "SCHEMA_DIALECT",
    "asyncapi",
    "dumps",
    "export",
    "json_schema",
    "json_schemas",
    "schema_file",
    "schema_id",
]

#: The JSON Schema dialect of every exported schema.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
#: ``{type: {version: file}}`` of an export, read by the breaking-change check.
INDEX_FILE = "index.json"
_DEFAULT_SETTINGS = ValidationSettings()

JsonObject = dict[str, Any]


def schema_id(type_: str, version: int) -> str:
    """The stable ``$id`` of a schema: a URN, since nothing is served at it."""
    return f"urn:sihub:contract:{type_}:v{version}"


def schema_file(type_: str, version: int) -> str:
    """The file name of a schema in an export: ``<type>.v<version>.schema.json``."""
    return f"{type_}.v{version}.schema.json"


def json_schema(
    contract: ContractVersion, settings: ValidationSettings = _DEFAULT_SETTINGS
) -> JsonObject:
    """The self-contained JSON Schema of one type and version (the whole envelope)."""
    generated = contract.envelope.model_json_schema(mode="validation")
    schema: JsonObject = {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id(contract.name, contract.version),
    }
    schema.update(_with_county(generated, settings))
    _add_envelope_rules(schema, contract.name)
    return schema


def json_schemas(
    registry: Registry, settings: ValidationSettings = _DEFAULT_SETTINGS
) -> dict[str, JsonObject]:
    """Every schema of the registry, keyed by its file name (see :func:`schema_file`)."""
    return {schema_file(cv.name, cv.version): json_schema(cv, settings) for cv in registry}


def asyncapi(
    registry: Registry,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    *,
    version: str | None = None,
) -> JsonObject:
    """The AsyncAPI 3.0.0 document of the whole wire protocol (DESIGN §4)."""
    schemas = {(cv.name, cv.version): json_schema(cv, settings) for cv in registry}
    return asyncapi_document(list(registry), schemas, version=version)


def dumps(document: JsonObject) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(
    registry: Registry,
    directory: Path,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
    *,
    version: str | None = None,
) -> list[Path]:
    """Write the schemas, ``asyncapi.json`` and ``index.json`` into ``directory``.

    Schema files of an earlier export that the registry no longer has are removed,
    so the directory is exactly the export. Returns the written paths, sorted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, JsonObject] = dict(json_schemas(registry, settings))
    index: dict[str, dict[str, str]] = {}
    for cv in registry:
        index.setdefault(cv.name, {})[str(cv.version)] = schema_file(cv.name, cv.version)
    files[ASYNCAPI_FILE] = asyncapi(registry, settings, version=version)
    files[INDEX_FILE] = index
    for stale in directory.glob("*.schema.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, document in files.items():
        path = directory / name
        path.write_text(dumps(document), encoding="utf-8")
        written.append(path)
    return sorted(written)


def _add_envelope_rules(schema: JsonObject, type_: str) -> None:
    """The envelope's ``_case_rules``, fixed per type, in JSON Schema terms."""
    if type_ in CASELESS_TYPES:
        return
    # Every other type names its case: case_id is required and not null.
    schema["properties"]["case_id"] = {
        "type": "string",
        "pattern": CASE_ID_PATTERN,
        "title": "Case Id",
        "description": "The case this message belongs to, e.g. tax-2026-000123.",
    }
    schema["required"] = [*schema.get("required", []), "case_id"]
    if type_ in REGISTERING_TYPES:
        # A registering department chooses the case id, prefixed with its own code; the
        # hub's copies of the registration keep that department's id.
        schema["allOf"] = [
            schema_when(
                "source",
                department.value,
                {"properties": {"case_id": {"pattern": f"^{department.value}-"}}},
            )
            for department in Department
            if department is not Department.HUB
        ]


def _with_county(schema: JsonObject, settings: ValidationSettings) -> JsonObject:
    """The schema with the county's jurisdiction pattern and known credit-code exceptions."""
    result = copy.deepcopy(schema)
    for node in _nodes(result):
        if node.get("pattern") == JURISDICTION_PATTERN:
            node["pattern"] = jurisdiction_pattern(settings.county_code)
            node["description"] = f"Division code under county {settings.county_code}."
        if node.get("format") == "gb32100-uscc" and settings.uscc_exceptions:
            # Listed early codes are accepted as they are, even off the character set.
            del node["pattern"]
            node["anyOf"] = [
                {"pattern": USCC_PATTERN},
                {"enum": sorted(settings.uscc_exceptions)},
            ]
    return result


def _nodes(value: Any) -> Iterator[JsonObject]:
    """Every object inside a JSON value, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)
