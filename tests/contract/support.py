"""Helpers of the contract tests: the shared examples, and the two judges of a body.

The runtime judge is :func:`contracts.parse`; the schema judge reads the body as the
hub reads JSON (UTF-8 only, no NaN, no lone surrogates) and validates it with the
exported JSON Schema of its type and version plus the custom format checker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from contracts import Rejected, ValidationSettings, parse
from contracts.export import schema_file
from contracts.jsonschema_formats import schema_validator
from contracts.registry import Registry

REPO_ROOT = Path(__file__).resolve().parents[2]
_UNREADABLE = object()


def examples_dir() -> Path | None:
    """``$SIHUB_EXAMPLES_DIR``, else ``shared/examples`` beside the repository.

    Missing examples skip the tests on a laptop, but fail them when ``CI`` is set.
    """
    override = os.environ.get("SIHUB_EXAMPLES_DIR")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "examples"
    if path.is_dir():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"the shared examples are missing at {path} (set SIHUB_EXAMPLES_DIR)")
    return None


def valid_examples() -> list[Path]:
    """Every example that must be accepted."""
    directory = examples_dir()
    return sorted(directory.glob("*.json")) if directory else []


def invalid_examples() -> list[Path]:
    """Every example that must be refused, ``{"reject_reason": CODE, "message": ENVELOPE}``."""
    directory = examples_dir()
    return sorted((directory / "invalid").glob("*.json")) if directory else []


def example(name: str) -> dict[str, Any]:
    """One valid example as a dict (skips, or fails on CI, when the examples are missing)."""
    directory = examples_dir()
    if directory is None:
        pytest.skip("the shared examples are missing")
    loaded: dict[str, Any] = json.loads((directory / name).read_text(encoding="utf-8"))
    return loaded


def encode(message: object) -> bytes:
    """A message as wire bytes (UTF-8 JSON)."""
    return json.dumps(message, ensure_ascii=False).encode()


def runtime_verdict(
    raw: bytes, registry: Registry | None = None, settings: ValidationSettings | None = None
) -> Rejected | None:
    """``None`` when the hub accepts the body, else its :class:`Rejected`."""
    try:
        parse(raw, registry=registry, settings=settings or ValidationSettings())
    except Rejected as rejected:
        return rejected
    return None


class SchemaJudge:
    """Validates bodies with the exported schemas (``{file name: schema}``)."""

    def __init__(
        self, schemas: Mapping[str, Any], settings: ValidationSettings | None = None
    ) -> None:
        self.schemas = schemas
        self.settings = settings or ValidationSettings()
        self._validators: dict[str, Any] = {}

    def errors(self, raw: bytes) -> list[Any]:
        """The schema's errors for a body; a body that is not JSON gets a string error."""
        value = read_json(raw)
        if value is _UNREADABLE:
            return ["(body): not JSON as the hub reads it"]
        if not isinstance(value, dict):
            return ["(body): not an object"]
        type_, version = value.get("type"), value.get("schema_version")
        name = (
            schema_file(type_, version) if isinstance(type_, str) and type(version) is int else ""
        )
        if name not in self.schemas:
            return [f"no schema for type {type_!r} version {version!r}"]
        if name not in self._validators:
            self._validators[name] = schema_validator(self.schemas[name], self.settings)
        return list(self._validators[name].iter_errors(value))

    def accepts(self, raw: bytes) -> bool:
        """Whether the body is valid under its type's exported schema."""
        return not self.errors(raw)


def read_json(raw: bytes) -> object:
    """The JSON value of a body, or ``_UNREADABLE`` when it is not JSON as RFC 8259 has it."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _UNREADABLE
    return _UNREADABLE if _has_lone_surrogate(value) else value


def format_failures(errors: list[Any]) -> set[str]:
    """The formats that failed anywhere in a list of ``jsonschema`` errors (nested included)."""
    failed: set[str] = set()
    pending = [error for error in errors if not isinstance(error, str)]
    while pending:
        error = pending.pop()
        if error.validator == "format":
            failed.add(error.validator_value)
        pending.extend(error.context or ())
    return failed


def _refuse(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False
