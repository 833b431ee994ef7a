"""Fixtures of the contract tests: the registry, its exported schemas and their judge."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Registry, default_registry
from contracts.export import json_schemas
from tests.contract.support import SchemaJudge


@pytest.fixture(scope="session")
def registry() -> Registry:
    return default_registry()


@pytest.fixture(scope="session")
def schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    return json_schemas(registry)


@pytest.fixture(scope="session")
def judge(schemas: dict[str, dict[str, Any]]) -> SchemaJudge:
    return SchemaJudge(schemas)
