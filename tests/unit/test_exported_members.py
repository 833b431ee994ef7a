"""Each package ``__init__`` names its public surface in ``__all__`` (httpx style)."""

from __future__ import annotations

from types import ModuleType

import pytest

import contracts


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


@pytest.mark.parametrize("package", [contracts], ids=lambda m: m.__name__)
def test_package_all_is_exactly_its_public_names(package: ModuleType) -> None:
    assert set(package.__all__) == _public(package)


@pytest.mark.parametrize("package", [contracts], ids=lambda m: m.__name__)
def test_package_all_names_exist_once_each(package: ModuleType) -> None:
    assert len(package.__all__) == len(set(package.__all__))
    for name in package.__all__:
        assert getattr(package, name) is not None, name
