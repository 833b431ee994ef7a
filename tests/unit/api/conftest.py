"""Fixtures of the HTTP API unit tests: the app over an unstarted hub on SQLite and a fake clock.

The hub's workers are not started: the routes call the service directly, and what
they leave for the relay sits in the outbox, where the tests read it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hub.api.app import create_app
from hub.config import Settings
from hub.runtime import HubRuntime

from .helpers import T0, TOKENS

with warnings.catch_warnings():
    # starlette would rather have the httpx2 fork; the httpx it warns about works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """Monday 23 November 2026, 09:30 in Wuhe."""
    return Clock(T0)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    """A tokens file with one token per calling department."""
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({token: d.value for d, token in TOKENS.items()}), encoding="utf-8")
    return path


@pytest.fixture
def make_runtime(tmp_path: Path, clock: Clock, tokens_file: Path) -> Iterator[Callable[..., HubRuntime]]:
    """``make_runtime(**settings)``: a hub on a fresh SQLite ledger, closed after the test."""
    made: list[HubRuntime] = []

    def make(**settings: object) -> HubRuntime:
        values: dict[str, object] = {
            "broker_url": "memory://", "database_url": f"sqlite:///{tmp_path / f'ledger{len(made)}.db'}",
            "tokens": tokens_file, **settings,
        }  # fmt: skip
        runtime = HubRuntime(Settings(**values), clock=clock)  # type: ignore[arg-type]
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.store.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., HubRuntime]) -> HubRuntime:
    """A hub with the default settings."""
    return make_runtime()


@pytest.fixture
def client(runtime: HubRuntime) -> Iterator[TestClient]:
    """A client of the app over :func:`runtime`."""
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
