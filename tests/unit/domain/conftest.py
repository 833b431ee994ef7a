"""Fixtures of the domain tests: the rules contexts the pure machine runs under."""

from __future__ import annotations

import pytest

from hub.domain.flow import Rules

from .builders import county_rules, seconds_rules


@pytest.fixture
def rules() -> Rules:
    """The shipped default policy on the real county calendar (State Council holidays, 调休)."""
    return county_rules()


@pytest.fixture
def fast_rules() -> Rules:
    """Every deadline in seconds, as demos and quick scenario runs use (builders.SECONDS)."""
    return seconds_rules()
