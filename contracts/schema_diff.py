"""Where a new JSON Schema refuses what an old one accepted: the walk behind ``compat``.

Both schemas are walked together, each resolving its own local ``$ref`` s;
``anyOf``/``oneOf`` alternatives are matched by JSON type. Annotations (``title``,
``description``, ``default``) never matter. Where inclusion cannot be decided (a
changed ``pattern`` or ``format``, a new conditional rule) the change is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

__all__ = ["ChangeKind", "compare_schemas"]

JsonObject = dict[str, Any]


class ChangeKind(StrEnum):
    """What kind of incompatibility a change is."""

    REMOVED_TYPE = "removed_type"
    REMOVED_VERSION = "removed_version"
    REMOVED_FIELD = "removed_field"
    RETYPED_FIELD = "retyped_field"  # a JSON type (null included) no longer accepted
    NEW_REQUIRED_FIELD = "new_required_field"  # a new field, or an optional one, now required
    NARROWED_ENUM = "narrowed_enum"  # an enum member or const value no longer accepted
    TIGHTENED_PATTERN = "tightened_pattern"  # a pattern added or changed
    TIGHTENED_CONSTRAINT = "tightened_constraint"  # a bound, format or rule added or narrowed


def compare_schemas(old: JsonObject, new: JsonObject) -> list[tuple[str, ChangeKind, str]]:
    """``(path, kind, sentence)`` for every way ``new`` refuses what ``old`` accepted."""
    return sorted(set(_Walk(old, new).node(old, new, "")))


_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_RULES = (
    "not",
    "contains",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "patternProperties",
    "multipleOf",
)
_Found = Iterator[tuple[str, ChangeKind, str]]


class _Walk:
    """A simultaneous walk of two schemas, each resolving ``$ref`` s inside its own root."""

    def __init__(self, old_root: JsonObject, new_root: JsonObject) -> None:
        self.roots = (old_root, new_root)
        self.active: set[tuple[object, object]] = set()

    def node(self, old: JsonObject, new: JsonObject, path: str) -> _Found:
        references = (old.get("$ref"), new.get("$ref"))
        if references != (None, None):
            if references in self.active:  # a recursive schema: this pair is being compared
                return
            self.active.add(references)
        try:
            yield from self.resolved(
                _resolve(self.roots[0], old), _resolve(self.roots[1], new), path
            )
        finally:
            self.active.discard(references)

    def resolved(self, old: JsonObject, new: JsonObject, path: str) -> _Found:
        old_branches = _branches(self.roots[0], old)
        new_branches = _branches(self.roots[1], new)
        if len(old_branches) == 1 and len(new_branches) == 1:
            yield from self.single(old_branches[0], new_branches[0], path)
            return
        for branch in old_branches:
            yield from self.branch(branch, new_branches, path)

    def branch(self, old: JsonObject, candidates: list[JsonObject], path: str) -> _Found:
        """An old alternative survives if some new alternative accepts all it accepted."""
        kinds = _types(old)
        same_kind = [c for c in candidates if kinds is None or _accepts_some(_types(c), kinds)]
        if not same_kind:
            yield (
                path or "(message)",
                ChangeKind.RETYPED_FIELD,
                (f"no longer accepts {_or(kinds or {'any value'})}"),
            )
            return
        outcomes = [sorted(set(self.single(old, c, path))) for c in same_kind]
        yield from min(outcomes, key=len)

    def single(self, old: JsonObject, new: JsonObject, path: str) -> _Found:
        where = path or "(message)"
        old_types, new_types = _types(old), _types(new)
        if new_types is not None:
            if old_types is None:
                yield where, ChangeKind.RETYPED_FIELD, f"now accepts only {_or(new_types)}"
                return
            lost = old_types - _widened(new_types)
            if lost:
                yield where, ChangeKind.RETYPED_FIELD, f"no longer accepts {_or(lost)}"
                return
        yield from _values(old, new, where)
        yield from _constraints(old, new, where)
        yield from self.members(old, new, path)
        if "items" in new:
            yield from self.node(old.get("items", {}), new["items"], f"{path}[]")

    def members(self, old: JsonObject, new: JsonObject, path: str) -> _Found:
        if "properties" not in old and "properties" not in new:
            return
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        new_closed = new.get("additionalProperties") is False
        old_closed = old.get("additionalProperties") is False
        prefix = f"{path}." if path else ""
        for name, schema in old_fields.items():
            if name in new_fields:
                yield from self.node(schema, new_fields[name], prefix + name)
                if name in new_required and name not in old_required:
                    yield prefix + name, ChangeKind.NEW_REQUIRED_FIELD, "is now required"
            elif new_closed:
                yield (
                    prefix + name,
                    ChangeKind.REMOVED_FIELD,
                    "field removed: messages that carry it are refused",
                )
        for name in new_fields.keys() - old_fields.keys():
            if name in new_required:
                yield prefix + name, ChangeKind.NEW_REQUIRED_FIELD, "new required field"
            elif not old_closed:
                yield (
                    prefix + name,
                    ChangeKind.TIGHTENED_CONSTRAINT,
                    "a field that was free is now constrained",
                )
        if new_closed and not old_closed:
            yield (
                path or "(message)",
                ChangeKind.TIGHTENED_CONSTRAINT,
                "no longer accepts other fields",
            )


def _values(old: JsonObject, new: JsonObject, where: str) -> _Found:
    new_values = _enum(new)
    if new_values is None:
        return
    old_values = _enum(old)
    if old_values is None:
        yield where, ChangeKind.NARROWED_ENUM, f"now limited to {_show(new_values)}"
        return
    removed = [value for value in old_values if value not in new_values]
    if removed:
        yield where, ChangeKind.NARROWED_ENUM, f"no longer accepts {_show(removed)}"


def _constraints(old: JsonObject, new: JsonObject, where: str) -> _Found:
    if "pattern" in new and new["pattern"] != old.get("pattern"):
        yield (
            where,
            ChangeKind.TIGHTENED_PATTERN,
            (f"pattern {old.get('pattern', '(none)')!r} became {new['pattern']!r}"),
        )
    if "format" in new and new["format"] != old.get("format"):
        yield (
            where,
            ChangeKind.TIGHTENED_CONSTRAINT,
            (f"format {old.get('format', '(none)')!r} became {new['format']!r}"),
        )
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            yield where, ChangeKind.TIGHTENED_CONSTRAINT, f"{key} raised to {new[key]}"
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            yield where, ChangeKind.TIGHTENED_CONSTRAINT, f"{key} lowered to {new[key]}"
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        yield where, ChangeKind.TIGHTENED_CONSTRAINT, "items must now be unique"
    for key in _RULES:
        if key in new and new[key] != old.get(key):
            yield where, ChangeKind.TIGHTENED_CONSTRAINT, f"new or changed {key!r} rule"
    old_rules = {_canonical(rule) for rule in _conditions(old)}
    for rule in _conditions(new):
        if _canonical(rule) not in old_rules:
            yield where, ChangeKind.TIGHTENED_CONSTRAINT, f"new rule: {_canonical(rule)[:120]}"


def _conditions(node: JsonObject) -> list[Any]:
    """The conditional rules of a node: its if/then/else and each ``allOf`` member."""
    rules: list[Any] = list(node.get("allOf", ()))
    if "if" in node:
        rules.append({key: node.get(key) for key in ("if", "then", "else")})
    return rules


def _resolve(root: JsonObject, node: JsonObject) -> JsonObject:
    """A node with its local ``$ref`` followed (siblings of ``$ref`` kept)."""
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _branches(root: JsonObject, node: JsonObject) -> list[JsonObject]:
    """The alternatives of a node (``anyOf``/``oneOf``), each with the node's own keywords."""
    for keyword in ("anyOf", "oneOf"):
        if keyword in node:
            shared = {k: v for k, v in node.items() if k != keyword}
            return [{**shared, **_resolve(root, branch)} for branch in node[keyword]]
    return [node]


def _types(node: JsonObject) -> set[str] | None:
    """The JSON types a node may accept, or ``None`` when it does not say."""
    if "type" in node:
        declared = node["type"]
        return {declared} if isinstance(declared, str) else set(declared)
    values = _enum(node)
    if values is not None:
        return {_json_type(value) for value in values}
    if "properties" in node:
        return {"object"}
    return None


def _widened(types: set[str]) -> set[str]:
    return types | {"integer"} if "number" in types else types


def _accepts_some(candidate: set[str] | None, wanted: set[str]) -> bool:
    return candidate is None or bool(_widened(candidate) & wanted)


def _enum(node: JsonObject) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    return list(node["enum"]) if "enum" in node else None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    names = {float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "string")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _or(types: set[str]) -> str:
    return " or ".join(sorted(types))


def _show(values: list[Any]) -> str:
    return ", ".join(json.dumps(value, ensure_ascii=False) for value in values)
