"""Breaking changes between an earlier export and the current contracts.

A change within a type and version is compatible when every message the old
schema accepts, the new one accepts too: producers written against the old
contract keep working. New optional fields, new enum members, new types and new
versions are compatible (consumers must tolerate them, ``docs/contracts.md``).
Everything else is reported with one of the :class:`ChangeKind` s below.

The check is conservative where inclusion cannot be decided: any changed
``pattern``, ``format`` or new conditional rule (``if``/``then``, ``allOf``, ``not``)
is reported even if the new one happens to accept more; a reviewer decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.export import INDEX_FILE, json_schema
from contracts.registry import Registry
from contracts.schema_diff import ChangeKind, compare_schemas
from contracts.values import ValidationSettings

__all__ = ["Change", "ChangeKind", "breaking_changes", "compare_schemas", "read_export"]

JsonObject = dict[str, Any]
_DEFAULT_SETTINGS = ValidationSettings()


@dataclass(frozen=True, order=True)
class Change:
    """One breaking change: where, what kind, and a sentence for the reviewer."""

    type: str
    version: int
    path: str
    kind: ChangeKind
    sentence: str

    def __str__(self) -> str:
        return f"{self.type} v{self.version} {self.path}: {self.sentence} ({self.kind.value})"


def read_export(directory: Path) -> dict[tuple[str, int], JsonObject]:
    """The schemas of an export directory by ``(type, version)``, as its ``index.json`` lists."""
    index = json.loads((directory / INDEX_FILE).read_text(encoding="utf-8"))
    return {
        (type_, int(version)): json.loads((directory / file).read_text(encoding="utf-8"))
        for type_, versions in index.items()
        for version, file in versions.items()
    }


def breaking_changes(
    old_dir: Path,
    new: Path | Registry,
    settings: ValidationSettings = _DEFAULT_SETTINGS,
) -> list[Change]:
    """Every breaking change from the export in ``old_dir`` to ``new`` (an export or registry)."""
    old = read_export(old_dir)
    current = (
        read_export(new)
        if isinstance(new, Path)
        else {(cv.name, cv.version): json_schema(cv, settings) for cv in new}
    )
    changes: list[Change] = []
    for type_, version in sorted(old):
        if not any(name == type_ for name, _ in current):
            changes.append(
                Change(
                    type_,
                    version,
                    "(message)",
                    ChangeKind.REMOVED_TYPE,
                    f"type {type_} is no longer in the catalogue",
                )
            )
        elif (type_, version) not in current:
            changes.append(
                Change(
                    type_,
                    version,
                    "(message)",
                    ChangeKind.REMOVED_VERSION,
                    f"version {version} of {type_} is no longer accepted",
                )
            )
        else:
            found = compare_schemas(old[(type_, version)], current[(type_, version)])
            changes.extend(Change(type_, version, path, kind, text) for path, kind, text in found)
    return sorted(changes)
